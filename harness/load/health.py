"""The generator's side of each second, kept in the Locust master: offered load and worker health.

Pure code (no Locust import). :class:`Offered` is what the load asks for now (target users and
requests per second). :class:`WorkerWatch` notices workers joining and leaving, samples the busiest
worker's CPU % and the live worker count every time the master looks (a few times a second), and
stamps each released per-second record with them::

    {"t": ..., "requests": ..., "target_users": 200, "target_rps": 2000.0, "cpu": 93.5, "workers": 3,
     "ramping": false}

``ramping`` is true in a second when Locust was still starting or stopping users to reach the target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class Offered:
    """The load's current target: users and requests per second (None = no rate target)."""

    users: int = 0
    rps: float | None = None

    def set(self, users: int, rps: float | None) -> None:
        """A new stage (or command) took effect."""
        self.users, self.rps = int(users), float(rps) if rps else None

    def per_user(self) -> float | None:
        """Task runs per second each user is paced to, or None without a rate target."""
        if not self.rps or self.users <= 0:
            return None
        return self.rps / self.users


class WorkerWatch:
    """Which workers the load counts on, and per-second samples of their health."""

    def __init__(self) -> None:
        self._expected: set[str] = set()
        self._cpu: dict[str, float] = {}
        self._samples: dict[int, dict[str, Any]] = {}
        self._last: dict[str, Any] = {}

    def begin(self, live: Iterable[str]) -> None:
        """The workers the load started with."""
        self._expected = set(live)

    def changes(self, live: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
        """``worker_lost`` / ``worker_joined`` messages since the last look (each said once)."""
        now = set(live)
        out: list[tuple[str, dict[str, Any]]] = []
        for worker in sorted(self._expected - now):
            out.append(("worker_lost", {"worker": worker, "live": len(now)}))
            self._cpu.pop(worker, None)
        for worker in sorted(now - self._expected):
            out.append(("worker_joined", {"worker": worker, "live": len(now)}))
        self._expected = now
        return out

    def cpu(self, worker: str, percent: Any) -> None:
        """A worker's latest CPU reading (% of one core), sent with its buckets."""
        if isinstance(percent, int | float):
            self._cpu[worker] = float(percent)

    def sample(self, now: float, live: Iterable[str], offered: Offered, ramping: bool = False) -> None:
        """Fold the current state into the sample of second ``int(now)`` (CPU: the most seen)."""
        live = list(live)
        cpu = max((self._cpu[w] for w in live if w in self._cpu), default=None)
        entry = self._samples.setdefault(int(now), {})
        if cpu is not None:
            entry["cpu"] = round(max(cpu, float(entry.get("cpu") or 0.0)), 1)
        entry["workers"] = len(live)
        entry["target_users"] = offered.users
        entry["target_rps"] = offered.rps
        entry["ramping"] = bool(entry.get("ramping")) or ramping

    def annotate(self, record: dict[str, Any]) -> dict[str, Any]:
        """Add the second's sample (or the latest earlier one) to a released record."""
        t = int(record["t"])
        for second in sorted(s for s in self._samples if s <= t):
            self._last = {**self._last, **self._samples.pop(second)}
        for key in ("target_users", "target_rps", "cpu", "workers", "ramping"):
            if key in self._last:
                record[key] = self._last[key]
        self._last.pop("cpu", None)  # a CPU reading and a ramp belong to their own second
        self._last.pop("ramping", None)
        return record
