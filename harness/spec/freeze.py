"""Freeze windows: when nothing may be injected (flash sales, Black Friday, the code freeze).

```yaml
windows:
  - name: black-friday
    start: 2026-11-27T00:00:00+01:00
    end: 2026-12-01T00:00:00+01:00
    reason: Black Friday to Cyber Monday
    recurrence: yearly
    targets: [gke-production, gke-staging]   # omitted: every target, the sandbox included
```

``load_freeze(path)`` validates the file like an experiment (file:line, field, what was expected);
``covering(windows, t, target)`` and ``upcoming(windows, t)`` are pure. A yearly window repeats on the same
calendar dates and clock times, with the offset it was written with (29 February falls on the 28th).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, Field, ValidationError, field_validator, model_validator

from harness.errors import InvalidExperiment
from harness.spec.errors import validation_problems
from harness.spec.models import SLUG, Frozen
from harness.spec.yamldoc import duplicate_keys, read_yaml

FREEZE_FILE = "freeze.yaml"


class FreezeWindow(Frozen):
    """A period in which no experiment may run (unless overridden with a recorded reason)."""

    name: str = Field(pattern=SLUG, description="Short name, e.g. black-friday.")
    start: AwareDatetime = Field(description="ISO 8601 with offset, e.g. 2026-11-27T00:00:00+01:00.")
    end: AwareDatetime = Field(description="ISO 8601 with offset; after start.")
    reason: str = Field(min_length=1, description="Why nothing may break then (shown when a run is refused).")
    recurrence: Literal["none", "yearly"] = Field(
        default="none", description="yearly: the same dates and times every year from `start` on.")
    targets: list[str] | None = Field(
        default=None, description="Targets (names in targets.yaml) it freezes; omitted: every target.")

    def applies_to(self, target: str | None) -> bool:
        """Whether it freezes ``target`` (None: any target)."""
        return self.targets is None or target is None or target in self.targets

    @field_validator("start", "end", mode="before")
    @classmethod
    def _with_offset(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no offset: write it, e.g. {value.isoformat()}+01:00")
        if isinstance(value, date) and not isinstance(value, datetime):
            raise ValueError(f"{value.isoformat()} is a date: write a time and an offset, e.g. "
                             f"{value.isoformat()}T00:00:00+01:00")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindow:
        if self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        if self.recurrence == "yearly" and self.end - self.start > timedelta(days=365):
            raise ValueError("a yearly window cannot last more than a year")
        return self


class FreezeFile(Frozen):
    """The whole ``freeze.yaml``."""

    windows: list[FreezeWindow] = Field(default_factory=list, description="The freeze windows.")


@dataclass(frozen=True)
class Occurrence:
    """One concrete occurrence of a window."""

    window: FreezeWindow
    start: datetime
    end: datetime

    def describe(self) -> str:
        return (f"{self.window.name} ({self.window.reason}) from {self.start.isoformat()} "
                f"until {self.end.isoformat()}")


def _shift_years(t: datetime, years: int) -> datetime:
    try:
        return t.replace(year=t.year + years)
    except ValueError:  # 29 February in a year without one
        return t.replace(year=t.year + years, day=28)


def occurrences(window: FreezeWindow, since: datetime) -> Iterator[Occurrence]:
    """The window's occurrences that end after ``since``, in time order (endless when yearly)."""
    if window.recurrence == "none":
        if window.end > since:
            yield Occurrence(window, window.start, window.end)
        return
    first = max(0, since.year - window.end.year - 1)
    for years in range(first, first + 10_000):
        start, end = _shift_years(window.start, years), _shift_years(window.end, years)
        if end > since:
            yield Occurrence(window, start, end)


def covering(windows: Sequence[FreezeWindow], t: datetime, target: str | None = None) -> Occurrence | None:
    """The occurrence that contains ``t`` (start inclusive, end exclusive) and ends last, among the
    windows that freeze ``target`` (None: all of them), or None."""
    found = []
    for window in (w for w in windows if w.applies_to(target)):
        occ = next(occurrences(window, t), None)
        if occ is not None and occ.start <= t < occ.end:
            found.append(occ)
    return max(found, key=lambda o: o.end) if found else None


def upcoming(windows: Sequence[FreezeWindow], t: datetime, horizon_days: float = 366) -> list[Occurrence]:
    """Every occurrence that has not ended at ``t`` and starts within ``horizon_days``, by start."""
    limit = t + timedelta(days=horizon_days)
    out: list[Occurrence] = []
    for window in windows:
        for occ in occurrences(window, t):
            if occ.start > limit:
                break
            out.append(occ)
    return sorted(out, key=lambda o: o.start)


def default_freeze_path(path: Path) -> Path:
    """freeze.yaml beside ``path`` (an experiment or game-day file), else ``<repo>/experiments/freeze.yaml``."""
    from harness.spec.loader import repo_root

    folder = path if path.is_dir() else path.parent
    beside = folder / FREEZE_FILE
    return beside if beside.is_file() else repo_root(folder.resolve()) / "experiments" / FREEZE_FILE


def load_freeze(path: Path) -> list[FreezeWindow]:
    """The windows of a freeze file; InvalidExperiment with every problem (file:line, field, hint)."""
    doc = read_yaml(path, "the freeze file")
    if doc.data is None:
        return []
    problems = duplicate_keys(doc)
    try:
        parsed = FreezeFile.model_validate(doc.data)
    except ValidationError as exc:
        problems += validation_problems(exc, doc, FreezeFile)
    if problems:
        raise InvalidExperiment(problems)
    return parsed.windows
