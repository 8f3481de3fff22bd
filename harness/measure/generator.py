"""Is the load generator, not the site, the limit? Pure rules over the timeline (and the journal).

Two flags, each a run of seconds in a row (a second without load data breaks no streak and makes none):

* **shortfall** — the load has a requests-per-second target, Locust is not ramping towards a new user
  count (``ramping`` false; in timelines without it, ``users >= target_users``), and achieved requests
  are below ``SHORTFALL_RATIO`` (90 %) of the target, for at least ``SHORTFALL_SECONDS`` (5) seconds in
  a row. Message: "the load generator fell short of its target: SLIs are not about the site".
* **saturated** — the busiest worker's CPU is above ``SATURATION_CPU`` (90 %) for at least
  ``SATURATION_SECONDS`` (5) seconds in a row: its own latencies and throughput are suspect.

Either flag makes every load-measured SLO (``load.*``, ``step.*``) that *passed* inconclusive
(:func:`mark_inconclusive`): a pass measured with a generator that was the bottleneck proves nothing
about the site, so the run only passes if the SLO says ``inconclusive: pass``. A failed SLO stays
failed (with the flag in its detail): the generator never hides a breach. Workers lost during the run
(``load.worker_lost`` events) are listed beside the flags; losing more than ``max_lost_workers`` aborts
the run while it goes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.measure.slo import SloResult, SloStatus
from harness.measure.timeline import Second

SHORTFALL_RATIO = 0.9
SHORTFALL_SECONDS = 5
SATURATION_CPU = 90.0
SATURATION_SECONDS = 5
SHORTFALL_TEXT = "the load generator fell short of its target: SLIs are not about the site"
SATURATED_TEXT = "load generator saturated: its CPU was above {cpu:g}% for {n} s in a row; latencies and " \
                 "throughput may be the generator's, not the site's"
LOAD_SOURCES = ("load", "step")


@dataclass(frozen=True)
class Flag:
    """One generator problem: its kind, the longest streak and where it started (run second ``s``)."""

    kind: str
    message: str
    longest: int
    first_s: int
    seconds: int

    def to_json(self) -> dict[str, Any]:
        """The run.json ``generator.flags[]`` entry."""
        return dataclasses.asdict(self)


class _Streak:
    """Seconds in a row that break a rule."""

    def __init__(self) -> None:
        self.run = self.longest = self.total = 0
        self.start = self.first = -1

    def feed(self, s: int, bad: bool | None, need: int) -> None:
        if bad is None:
            return
        if not bad:
            self.run = 0
            return
        self.total += 1
        self.run += 1
        if self.run == 1:
            self.start = s
        if self.run >= need and self.first < 0:
            self.first = self.start
        self.longest = max(self.longest, self.run)


def _short(second: Second) -> bool | None:
    load = second.load
    if load is None or not load.target_rps or load.target_users is None:
        return None
    ramping = load.ramping if load.ramping is not None else load.users < load.target_users
    if ramping:
        return None
    return load.requests < SHORTFALL_RATIO * load.target_rps


def _hot(second: Second) -> bool | None:
    return None if second.load is None or second.load.cpu is None else second.load.cpu > SATURATION_CPU


class _Scan:
    """One streaming pass over the timeline (memory stays flat however long the run)."""

    def __init__(self) -> None:
        self.short, self.hot = _Streak(), _Streak()
        self.peak: float | None = None
        self.offered = self.achieved = 0.0

    def feed(self, second: Second) -> None:
        self.short.feed(second.s, _short(second), SHORTFALL_SECONDS)
        self.hot.feed(second.s, _hot(second), SATURATION_SECONDS)
        load = second.load
        if load is not None and load.cpu is not None:
            self.peak = load.cpu if self.peak is None else max(self.peak, load.cpu)
        if load is not None and load.target_rps:
            self.offered += load.target_rps
            self.achieved += load.requests

    def flags(self) -> list[Flag]:
        out = []
        if self.short.first >= 0:
            out.append(Flag("shortfall", SHORTFALL_TEXT, self.short.longest, self.short.first, self.short.total))
        if self.hot.first >= 0:
            text = SATURATED_TEXT.format(cpu=SATURATION_CPU, n=self.hot.longest)
            out.append(Flag("saturated", text, self.hot.longest, self.hot.first, self.hot.total))
        return out


def generator_flags(seconds: Iterable[Second]) -> list[Flag]:
    """The shortfall and saturation flags of a timeline (empty when the generator kept up)."""
    scan = _Scan()
    for second in seconds:
        scan.feed(second)
    return scan.flags()


def worker_changes(events: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Workers lost and joined during the load, from the journal."""
    out: dict[str, list[str]] = {"lost": [], "joined": []}
    for e in events:
        kind = str(e.get("type", ""))
        if kind in ("load.worker_lost", "load.worker_joined"):
            out[kind.rsplit("_", 1)[1]].append(str(e.get("worker")))
    return out


def mark_inconclusive(results: Sequence[SloResult], flags: Sequence[Flag]) -> list[SloResult]:
    """Passed load SLOs become inconclusive while a flag stands; failed ones say so in their detail."""
    if not flags:
        return list(results)
    words = "; ".join(f.message for f in flags)
    out = []
    for r in results:
        if r.sli.split(".", 1)[0] not in LOAD_SOURCES:
            out.append(r)
        elif r.status is SloStatus.PASS:
            out.append(dataclasses.replace(r, status=SloStatus.INCONCLUSIVE, detail=f"{words} (measured {r.display})"))
        elif r.status is SloStatus.FAIL:
            out.append(dataclasses.replace(r, detail=f"{r.detail}; note: {words}".lstrip("; ")))
        else:
            out.append(r)
    return out


def generator_summary(seconds: Iterable[Second], events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """run.json's ``generator``: flags, workers lost/joined, peak CPU and offered vs achieved requests
    (summed over the seconds that had a rate target)."""
    scan = _Scan()
    for second in seconds:
        scan.feed(second)
    offered = round(scan.offered) if scan.offered else None
    return {"flags": [f.to_json() for f in scan.flags()], "workers": worker_changes(events),
            "peak_cpu": scan.peak, "offered_requests": offered,
            "achieved_requests": round(scan.achieved) if offered else None}
