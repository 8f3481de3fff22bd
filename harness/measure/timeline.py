"""The per-second timeline: what shoppers saw, one JSON line per wall-clock second.

``TimelineWriter`` aggregates Locust per-second records, probe results, events, the phase and the
active faults into one bucket per epoch second and streams every completed second to
``timeline.jsonl``; only seconds not yet written are kept in memory. ``read_timeline`` streams the
lines back as ``Second`` values. Line shape::

    {"t": 1700000000, "s": 12, "phase": "fault",
     "load": {"requests": n, "failures": n, "hist": {<successful requests' latencies>}, "users": n,
              "steps": {"<step>": {"requests": n, "failures": n, "hist": {...}}},
              "target_users": n, "target_rps": x|null, "cpu": x, "workers": n, "ramping": bool},
     "probes": {"<probe>": {"ok": n, "fail": n, "hist": {...}}},
     "events": [{"ts": 1700000000.4, "type": "fault.injected", ...}],
     "faults": ["<active fault id>"]}

A second ``t`` covers ``[t, t+1)``. Its phase is the one in effect at its midpoint ``t + 0.5``;
its faults are every fault active at any moment of the second. The load's generator fields (each
present only when the generator reported it): ``target_users`` and ``target_rps`` are the *offered*
load (the stage's user count and requests-per-second target; ``requests`` is the *achieved* one),
``cpu`` the busiest Locust worker's CPU % (of one core), ``workers`` the live workers and ``ramping``
whether Locust was still spawning towards the target.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.measure.histogram import Histogram


@dataclass(frozen=True)
class Counts:
    """Requests, failures and a latency histogram (ms) for one source over one second."""

    requests: int = 0
    failures: int = 0
    hist: Histogram = field(default_factory=Histogram)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Counts:
        """Parse ``{"requests", "failures", "hist"}`` (or a probe's ``{"ok", "fail", "hist"}``)."""
        if "ok" in data or "fail" in data:
            ok, fail = int(data.get("ok", 0)), int(data.get("fail", 0))
            return cls(ok + fail, fail, Histogram.from_json(data.get("hist")))
        return cls(int(data.get("requests", 0)), int(data.get("failures", 0)),
                   Histogram.from_json(data.get("hist")))


@dataclass(frozen=True)
class LoadCounts(Counts):
    """Locust's counts for one second: the totals, the user count and each journey step."""

    users: int = 0
    steps: Mapping[str, Counts] = field(default_factory=dict)
    target_users: int | None = None
    """Users the load asked for in this second (offered)."""
    target_rps: float | None = None
    """Requests per second the load asked for (offered); None without a rate target."""
    cpu: float | None = None
    """CPU % (of one core) of the busiest load worker during the second."""
    workers: int | None = None
    """Live load workers (local and remote)."""
    ramping: bool | None = None
    """Locust was still starting or stopping users towards ``target_users`` during the second."""


@dataclass(frozen=True)
class Second:
    """One line of the timeline, parsed."""

    t: int
    s: int
    phase: str
    load: LoadCounts | None = None
    probes: Mapping[str, Counts] = field(default_factory=dict)
    events: tuple[Mapping[str, Any], ...] = ()
    faults: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Second:
        """Parse one timeline line (``load``/``probes`` may be missing or empty)."""
        load_data = data.get("load") or None
        load = None
        if load_data:
            base = Counts.from_json(load_data)
            steps = {k: Counts.from_json(v) for k, v in (load_data.get("steps") or {}).items()}
            gen = {k: load_data.get(k) for k in _GENERATOR}
            load = LoadCounts(base.requests, base.failures, base.hist, int(load_data.get("users", 0)), steps,
                              **{k: _GENERATOR[k](v) for k, v in gen.items() if v is not None})
        probes = {k: Counts.from_json(v) for k, v in (data.get("probes") or {}).items()}
        return cls(int(data["t"]), int(data.get("s", 0)), str(data.get("phase", "")), load, probes,
                   tuple(data.get("events") or ()), tuple(data.get("faults") or ()))


_GENERATOR: dict[str, Callable[[Any], Any]] = {"target_users": int, "target_rps": float, "cpu": float, "workers": int,
                                               "ramping": bool}
"""The generator's fields of a load record (see the module docstring), with their types."""


def read_timeline(path: Path) -> Iterator[Second]:
    """Stream a ``timeline.jsonl`` back, one ``Second`` at a time (blank lines are skipped)."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield Second.from_json(json.loads(line))


class _Acc:
    """Mutable requests/failures/histogram accumulator for one source of one unflushed second."""

    __slots__ = ("requests", "failures", "hist")

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.hist = Histogram()

    def add(self, requests: int, failures: int, hist: Mapping[str, Any] | None) -> None:
        self.requests += requests
        self.failures += failures
        if hist:
            self.hist.merge(Histogram.from_json(hist))

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "failures": self.failures, "hist": self.hist.to_json()}


class _Bucket:
    """Everything that arrived for one epoch second before it was written."""

    __slots__ = ("load", "users", "steps", "probes", "events", "generator")

    def __init__(self) -> None:
        self.load: _Acc | None = None
        self.users = 0
        self.steps: dict[str, _Acc] = {}
        self.probes: dict[str, _Acc] = {}
        self.events: list[dict[str, Any]] = []
        self.generator: dict[str, Any] = {}

    def add_load(self, record: Mapping[str, Any]) -> None:
        if self.load is None:
            self.load = _Acc()
        self.load.add(int(record.get("requests", 0)), int(record.get("failures", 0)), record.get("hist"))
        self.users = max(self.users, int(record.get("users", 0)))
        for key in _GENERATOR:
            if record.get(key) is not None:
                old = self.generator.get(key)
                self.generator[key] = record[key] if key not in ("cpu", "ramping") or old is None else max(old, record[key])
        for name, step in (record.get("steps") or {}).items():
            self.steps.setdefault(name, _Acc()).add(
                int(step.get("requests", 0)), int(step.get("failures", 0)), step.get("hist"))

    def add_probe(self, name: str, ok: bool, latency_ms: float | None) -> None:
        acc = self.probes.setdefault(name, _Acc())
        acc.requests += 1
        acc.failures += 0 if ok else 1
        if latency_ms is not None:
            acc.hist.add(latency_ms)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.load is not None:
            out["load"] = {**self.load.to_json(), "users": self.users,
                           "steps": {k: v.to_json() for k, v in sorted(self.steps.items())}, **self.generator}
        out["probes"] = {
            k: {"ok": v.requests - v.failures, "fail": v.failures, "hist": v.hist.to_json()}
            for k, v in sorted(self.probes.items())}
        out["events"] = sorted(self.events, key=lambda e: float(e.get("ts", 0.0)))
        return out


class _StateHistory:
    """A value that changes over time (phase, active faults); keeps only changes not yet flushed."""

    def __init__(self, initial: Any) -> None:
        self._before: Any = initial  # value in effect before every kept change
        self._changes: list[tuple[float, Any]] = []

    def set(self, ts: float, value: Any) -> None:
        self._changes.append((ts, value))
        self._changes.sort(key=lambda c: c[0])

    def at(self, ts: float) -> Any:
        value = self._before
        for when, v in self._changes:
            if when > ts:
                break
            value = v
        return value

    def during(self, t0: float, t1: float) -> list[Any]:
        """Every value in effect at some moment of ``[t0, t1)``."""
        values = [self.at(t0)]
        values += [v for when, v in self._changes if t0 < when < t1]
        return values

    def forget_before(self, ts: float) -> None:
        self._before = self.at(ts)
        self._changes = [c for c in self._changes if c[0] > ts]


@dataclass
class LiveTotals:
    """Running totals over every second written so far."""

    seconds: int = 0
    requests: int = 0
    failures: int = 0
    probe_ok: dict[str, int] = field(default_factory=dict)
    probe_fail: dict[str, int] = field(default_factory=dict)
    late_records: int = 0


class RecentSeconds:
    """The last ``size`` written seconds and running totals, for guards and the terminal.

    Safe to read from any thread: accessors return copies.
    """

    def __init__(self, size: int = 60) -> None:
        self._lock = threading.Lock()
        self._recent: deque[Second] = deque(maxlen=size)
        self._totals = LiveTotals()

    def _push(self, second: Second) -> None:
        with self._lock:
            self._recent.append(second)
            tot = self._totals
            tot.seconds += 1
            if second.load is not None:
                tot.requests += second.load.requests
                tot.failures += second.load.failures
            for name, c in second.probes.items():
                tot.probe_ok[name] = tot.probe_ok.get(name, 0) + c.requests - c.failures
                tot.probe_fail[name] = tot.probe_fail.get(name, 0) + c.failures

    def _late(self) -> None:
        with self._lock:
            self._totals.late_records += 1

    def recent(self, n: int | None = None) -> list[Second]:
        """The last ``n`` written seconds (all kept ones when ``n`` is None), oldest first."""
        with self._lock:
            items = list(self._recent)
        return items if n is None else items[-n:]

    def totals(self) -> LiveTotals:
        """A copy of the running totals."""
        with self._lock:
            t = self._totals
            return LiveTotals(t.seconds, t.requests, t.failures, dict(t.probe_ok), dict(t.probe_fail),
                              t.late_records)


class TimelineWriter:
    """Aggregates a run's observations per second and streams them to ``path``. Thread-safe.

    ``start`` is the run start (epoch seconds); the first line is the second containing it.
    ``flush(now)`` writes every second that ended at least ``settle`` seconds before ``now``, with
    an empty line for seconds without data, so the file has no gaps. Data for a second already
    written (or before the start) is folded into the oldest unwritten second and counted in
    ``live.totals().late_records``, so totals stay exact. ``on_second`` (optional) is called, outside
    the data lock, with every written ``Second`` in order — the place to feed guards.
    """

    def __init__(self, path: Path, start: float, settle: float = 2.0, live_size: int = 60,
                 on_second: Callable[[Second], None] | None = None) -> None:
        self.path = Path(path)
        self.start = start
        self.settle = settle
        self.live = RecentSeconds(live_size)
        self._on_second = on_second
        self._lock = threading.Lock()  # guards the buckets, histories and file
        self._deliver = threading.RLock()  # keeps live/on_second in order across concurrent flushes
        self._first = math.floor(start)
        self._next = self._first  # the oldest second not yet written
        self._buckets: dict[int, _Bucket] = {}
        self._phase = _StateHistory("")
        self._faults = _StateHistory(())
        self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def _bucket(self, ts: float) -> _Bucket:
        t = math.floor(ts)
        if t < self._next:
            self.live._late()
            t = self._next
        return self._buckets.setdefault(t, _Bucket())

    def add_load(self, record: Mapping[str, Any]) -> None:
        """Add a Locust per-second record (``{"t", "requests", "failures", "hist", "users", "steps"}``)."""
        with self._lock:
            self._bucket(float(record["t"])).add_load(record)

    def add_probe(self, name: str, ts: float, ok: bool, latency_ms: float | None) -> None:
        """Add one probe result observed at ``ts``. ``latency_ms`` goes into the latency histogram:
        pass it for successes and timeouts (at the timeout), None for other failures."""
        with self._lock:
            self._bucket(ts).add_probe(name, ok, latency_ms)

    def add_event(self, event: Mapping[str, Any]) -> None:
        """Add a journal event (must carry ``"ts"``) to the second it happened in."""
        with self._lock:
            self._bucket(float(event["ts"])).events.append(dict(event))

    def set_phase(self, name: str, ts: float) -> None:
        """From ``ts`` on, the run is in phase ``name``."""
        with self._lock:
            self._phase.set(ts, name)

    def set_active_faults(self, ids: Iterable[str], ts: float) -> None:
        """From ``ts`` on, exactly the faults ``ids`` are active."""
        with self._lock:
            self._faults.set(ts, tuple(ids))

    def flush(self, now: float | None = None) -> list[Second]:
        """Write every second ending at or before ``now - settle``; return the written seconds."""
        now = time.time() if now is None else now
        return self._write_until(math.floor(now - self.settle))

    def close(self, end: float | None = None) -> list[Second]:
        """Write everything left: up to the last second with data, and up to ``end`` when given."""
        with self._lock:
            last = max(self._buckets, default=self._next - 1) + 1
        if end is not None:
            last = max(last, math.ceil(end))
        written = self._write_until(last)
        with self._lock:
            if not self._fh.closed:
                self._fh.close()
        return written

    def _write_until(self, stop: int) -> list[Second]:
        written: list[Second] = []
        with self._deliver:
            with self._lock:
                if self._fh.closed:
                    return written
                while self._next < stop:
                    written.append(self._write_one(self._next))
                    self._next += 1
                self._fh.flush()
            for second in written:  # adders are not blocked while guards run
                self.live._push(second)
                if self._on_second is not None:
                    self._on_second(second)
        return written

    def _write_one(self, t: int) -> Second:
        bucket = self._buckets.pop(t, None) or _Bucket()
        faults: list[str] = []
        for ids in self._faults.during(t, t + 1):
            faults += [i for i in ids if i not in faults]
        line = {"t": t, "s": t - self._first, "phase": self._phase.at(t + 0.5), **bucket.to_json(),
                "faults": faults}
        self._phase.forget_before(t + 0.5)
        self._faults.forget_before(t + 1)
        self._fh.write(json.dumps(line, separators=(",", ":")) + "\n")
        return Second.from_json(line)
