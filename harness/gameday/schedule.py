"""When a game day runs next: its cron expression in its time zone, skipping freeze windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from harness.spec.freeze import FreezeWindow, Occurrence, covering
from harness.spec.gameday import Schedule


@dataclass(frozen=True)
class Slot:
    """One scheduled time, and the freeze occurrence that cancels it (None: it runs)."""

    at: datetime
    frozen_by: Occurrence | None = None


def slots(schedule: Schedule, windows: Sequence[FreezeWindow], after: datetime, count: int,
          target: str | None = None, max_skipped: int = 1000) -> list[Slot]:
    """The next ``count`` times that are not frozen for ``target``, after ``after``, in the schedule's
    time zone, with the frozen times met on the way (at most ``max_skipped`` of them)."""
    zone = ZoneInfo(schedule.timezone)
    it = croniter(schedule.cron, after.astimezone(zone))
    out: list[Slot] = []
    runs = skipped = 0
    while runs < count and skipped <= max_skipped:
        at = it.get_next(datetime)
        frozen = covering(windows, at, target)
        out.append(Slot(at, frozen))
        runs += frozen is None
        skipped += frozen is not None
    return out
