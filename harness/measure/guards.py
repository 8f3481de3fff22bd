"""Guards: abort the run when the site degrades too far for too long.

Each guard's SLI is computed on every completed second (ratios and latencies on that second alone,
rps = that second's requests). A guard fires when the value is above (or below) its threshold on
``for`` seconds in a row; ``for`` 0 fires on the first bad second. Seconds where the SLI has no data
neither count towards nor break a streak.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.measure.sli import RECOVERY_TIME, Kind, Sli, display, parse_sli
from harness.measure.timeline import Second

_KEEP_VALUES = 10


@dataclass(frozen=True)
class GuardInput:
    """One abort rule as the spec states it, in plain values (latencies in seconds, ratios 0..1)."""

    sli: str
    above: float | None = None
    below: float | None = None
    for_seconds: float = 0.0
    name: str | None = None

    def bad(self, value: float) -> bool:
        """Whether one second's value breaks the rule."""
        return (self.above is not None and value > self.above) or (
            self.below is not None and value < self.below)

    def condition(self, kind: Kind) -> str:
        """``above 0.25`` / ``below 50`` (latency thresholds with an ``s``)."""
        unit = "s" if kind is Kind.LATENCY else ""
        parts = [f"{word} {v:g}{unit}" for word, v in (("above", self.above), ("below", self.below))
                 if v is not None]
        return " or ".join(parts)


@dataclass(frozen=True)
class FiredGuard:
    """A guard that fired: which one, on which second, with what values, and why in words."""

    index: int
    guard: GuardInput
    t: int
    values: tuple[float, ...]
    reason: str

    @property
    def name(self) -> str:
        """The guard's name, or its SLI when unnamed."""
        return self.guard.name or self.guard.sli

    def to_json(self) -> dict[str, Any]:
        """For run.json / the journal."""
        return {"guard": self.name, "sli": self.guard.sli, "above": self.guard.above,
                "below": self.guard.below, "for_seconds": self.guard.for_seconds, "t": self.t,
                "values": list(self.values), "reason": self.reason}


@dataclass
class _State:
    guard: GuardInput
    sli: Sli
    needed: int
    streak: int = 0
    values: deque[float] = field(default_factory=lambda: deque(maxlen=_KEEP_VALUES))


class GuardSet:
    """All guards of a run, fed one completed second at a time (in order)."""

    def __init__(self, guards: Sequence[GuardInput]) -> None:
        self._states: list[_State] = []
        for g in guards:
            sli = parse_sli(g.sli)
            if sli.source == RECOVERY_TIME:
                raise ValueError("recovery_time cannot be a guard SLI")
            if g.above is None and g.below is None:
                raise ValueError(f"guard on {g.sli} needs 'above' or 'below'")
            self._states.append(_State(g, sli, max(1, math.ceil(g.for_seconds))))
        self.fired: FiredGuard | None = None

    def feed(self, second: Second) -> FiredGuard | None:
        """Consider one second; returns the guard that fires on it (once), else None."""
        if self.fired is not None:
            return None
        for i, st in enumerate(self._states):
            value = st.sli.on_second(second)
            if value is None:
                continue
            if not st.guard.bad(value):
                st.streak = 0
                st.values.clear()
                continue
            st.streak += 1
            st.values.append(value)
            if st.streak >= st.needed and self.fired is None:
                self.fired = FiredGuard(i, st.guard, second.t, tuple(st.values), _reason(st, value))
        return self.fired

    def streaks(self) -> dict[str, int]:
        """Current bad-second streak per guard (for the live terminal view)."""
        return {st.guard.name or st.guard.sli: st.streak for st in self._states}


def _reason(st: _State, last: float) -> str:
    span = f" for {st.guard.for_seconds:g}s" if st.guard.for_seconds > 0 else ""
    return f"{st.guard.sli} {st.guard.condition(st.sli.kind)}{span} (last: {display(last, st.sli.kind)})"
