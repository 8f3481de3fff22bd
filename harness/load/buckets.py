"""Per-second request buckets: filled in each Locust worker, merged in the master.

Pure code (no Locust import), shared by both sides of the wire:

* :class:`WorkerBuckets` lives in a worker. Every finished request lands in the bucket of the wall-clock
  second it completed in. :meth:`WorkerBuckets.snapshot` hands over (and forgets) everything gathered
  since the previous snapshot, stamped with a *watermark*: the snapshot time. Every later request
  completes at or after it, so every second before ``floor(watermark)`` is final for that worker.
* :class:`SecondMerger` lives in the master. It adds up the snapshots of all workers and releases a
  second once every live worker's watermark has passed it, in order and exactly once.

Wire format of a snapshot (msgpack-safe: only string keys)::

    {"wm": <epoch float>, "flush": <token or None>,
     "buckets": {"<second>": {"r": n, "f": n, "h": <Histogram json>, "u": users,
                              "steps": {"<name>": {"r": n, "f": n, "h": {...}}}}}}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.measure.histogram import Histogram


@dataclass
class _Counts:
    """Requests, failures and latencies of one step (or of all steps) in one second."""

    requests: int = 0
    failures: int = 0
    hist: Histogram = field(default_factory=Histogram)

    def add(self, ms: float, failed: bool) -> None:
        """Count a request; its latency goes into the histogram only when it succeeded (latency
        SLIs are over successful requests: a fast 503 must not lower p95)."""
        self.requests += 1
        self.failures += int(failed)
        if not failed:
            self.hist.add(ms)

    def merge_wire(self, data: Mapping[str, Any]) -> None:
        self.requests += int(data.get("r", 0))
        self.failures += int(data.get("f", 0))
        self.hist.merge(Histogram.from_json(data.get("h")))

    def to_wire(self) -> dict[str, Any]:
        return {"r": self.requests, "f": self.failures, "h": self.hist.to_json()}

    def to_record(self) -> dict[str, Any]:
        return {"requests": self.requests, "failures": self.failures, "hist": self.hist.to_json()}


@dataclass
class _Second:
    """Everything one worker saw complete in one wall-clock second."""

    total: _Counts = field(default_factory=_Counts)
    steps: dict[str, _Counts] = field(default_factory=dict)
    users: int | None = None

    def add(self, name: str, ms: float, failed: bool) -> None:
        self.total.add(ms, failed)
        step = self.steps.get(name)
        if step is None:  # not setdefault: that would build a _Counts for every request
            step = self.steps[name] = _Counts()
        step.add(ms, failed)

    def to_wire(self) -> dict[str, Any]:
        wire = self.total.to_wire()
        wire["u"] = self.users or 0
        wire["steps"] = {name: c.to_wire() for name, c in self.steps.items()}
        return wire


class WorkerBuckets:
    """A worker's requests, bucketed by the second they completed, until the next snapshot."""

    def __init__(self) -> None:
        self._seconds: dict[int, _Second] = {}
        self._last_snapshot: int | None = None

    def add(self, name: str, response_ms: float, failed: bool, now: float, users: int) -> None:
        """Record one finished request (``now`` = completion time, epoch seconds)."""
        sec = self._seconds.get(int(now))
        if sec is None:
            sec = self._seconds[int(now)] = _Second()
        sec.add(name, max(0.0, float(response_ms or 0.0)), failed)
        sec.users = max(sec.users or 0, users)

    def snapshot(self, now: float, users: int, flush: str | None = None) -> dict[str, Any]:
        """Hand over every bucket gathered so far (and forget them), stamped with watermark ``now``.

        Seconds since the previous snapshot that saw no request still get a bucket carrying the
        user count, so the master knows how many users each second had (the most seen during the
        second); empty, userless buckets are not sent.
        """
        now_s = int(now)
        first = now_s if self._last_snapshot is None else min(self._last_snapshot, now_s)
        for s in range(first, now_s + 1):
            sec = self._seconds.setdefault(s, _Second())
            if sec.users is None or s == now_s:
                sec.users = max(sec.users or 0, users)
        buckets = {
            str(s): sec.to_wire()
            for s, sec in sorted(self._seconds.items())
            if sec.total.requests or sec.users
        }
        self._seconds = {}
        self._last_snapshot = now_s
        return {"wm": now, "flush": flush, "buckets": buckets}


class _Merged:
    """One second, summed over all workers."""

    def __init__(self) -> None:
        self.total = _Counts()
        self.steps: dict[str, _Counts] = {}
        self.users: dict[str, int] = {}

    def merge_wire(self, worker: str, data: Mapping[str, Any], with_users: bool = True) -> None:
        self.total.merge_wire(data)
        for name, step in (data.get("steps") or {}).items():
            self.steps.setdefault(name, _Counts()).merge_wire(step)
        if with_users:
            self.users[worker] = max(self.users.get(worker, 0), int(data.get("u", 0)))

    def to_record(self, t: int) -> dict[str, Any]:
        record = self.total.to_record()
        record["t"] = t
        record["users"] = sum(self.users.values())  # each worker's most users during the second
        record["steps"] = {name: c.to_record() for name, c in sorted(self.steps.items())}
        return record


class SecondMerger:
    """The master's view: sums worker snapshots per second and releases finished seconds in order."""

    def __init__(self) -> None:
        self._pending: dict[int, _Merged] = {}
        self._watermarks: dict[str, float] = {}
        self._next: int | None = None
        self.late_requests = 0
        """Requests that arrived for a second already released; folded into the next one."""

    def begin(self, second: int) -> None:
        """Set the first second to release (the second the load started in)."""
        if self._next is None:
            self._next = second

    def add(self, worker: str, snapshot: Mapping[str, Any]) -> None:
        """Merge one worker snapshot (the wire format of :meth:`WorkerBuckets.snapshot`)."""
        self._watermarks[worker] = max(self._watermarks.get(worker, 0.0), float(snapshot.get("wm", 0.0)))
        for key, data in (snapshot.get("buckets") or {}).items():
            second = int(key)
            if self._next is not None and second < self._next:
                if not int(data.get("r", 0)):
                    continue
                self.late_requests += int(data.get("r", 0))
                self._pending.setdefault(self._next, _Merged()).merge_wire(worker, data, with_users=False)
                continue
            self._pending.setdefault(second, _Merged()).merge_wire(worker, data)

    def watermark(self, worker: str) -> float | None:
        """The latest watermark a worker reported, None before its first snapshot."""
        return self._watermarks.get(worker)

    def release(self, live_workers: Iterable[str]) -> list[dict[str, Any]]:
        """Records of every second all ``live_workers`` have reported past (none if the set is empty)."""
        live = list(live_workers)
        if self._next is None or not live:
            return []
        marks = [self._watermarks.get(w) for w in live]
        if any(m is None for m in marks):
            return []
        upto = min(math.floor(m) for m in marks if m is not None)
        return self._emit_until(upto)

    def drain(self, until: int | None = None) -> list[dict[str, Any]]:
        """Records of every remaining second, through the last with data (or ``until``, if later)."""
        if self._next is None:
            return []
        last = max([*self._pending, until if until is not None else self._next - 1])
        return self._emit_until(last + 1)

    def _emit_until(self, end: int) -> list[dict[str, Any]]:
        """Release seconds ``[next, end)``, contiguous, empty ones as zero records."""
        out: list[dict[str, Any]] = []
        assert self._next is not None
        while self._next < end:
            merged = self._pending.pop(self._next, None) or _Merged()
            out.append(merged.to_record(self._next))
            self._next += 1
        return out
