"""SLO evaluation over the timeline: windows, per-window SLIs with their sample counts, verdicts.

Pure functions over ``Second`` values (see ``harness.measure.timeline``); the timeline is streamed once for the
windowed SLIs, and the per-second judgements (``harness.measure.judge``) take one small tuple per second.
SLOs are judged over whole seconds (``Windows.snapped``): every second the fault window touches
belongs to it, the seconds before it to the baseline and those after it to the recovery, so the three
split the seconds exactly and no effect of a fault lands in the baseline.

An SLO ends in one of five statuses: ``pass``, ``fail``, ``inconclusive`` (fewer samples in its window
than its minimum, or a recovery the data cannot tell), ``skipped`` (no fault, so no fault/recovery
window) and ``not_judged`` (its window was cut short by an abort or an interrupt).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness.events import Event
from harness.measure.judge import Criterion, Recovery, samples_in
from harness.measure.sli import RECOVERY_TIME, Accumulator, Kind, Sli, Threshold, display, parse_sli
from harness.measure.timeline import Second, read_timeline

Span = tuple[float, float]
WINDOW_NAMES = ("baseline", "fault", "recovery", "whole")
_QUANTILE_MIN = {"p50": 20, "p95": 20, "p99": 100}


class SloStatus(StrEnum):
    """How one SLO ended."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"
    NOT_JUDGED = "not_judged"


@dataclass(frozen=True)
class Windows:
    """The run's windows as ``(start, end)`` epoch pairs; fault/recovery are None without faults."""

    baseline: Span | None
    fault: Span | None
    recovery: Span | None
    whole: Span | None

    def get(self, name: str) -> Span | None:
        """A window by name; raises ValueError for an unknown name."""
        if name not in WINDOW_NAMES:
            raise ValueError(f"unknown window {name!r} (one of {', '.join(WINDOW_NAMES)})")
        span: Span | None = getattr(self, name)
        return span

    def snapped(self) -> Windows:
        """The windows in whole seconds, as SLOs are judged: every second the fault window touches
        belongs to it (the second holding the first action, and the one holding the last revert), so
        no effect of a fault is counted in the baseline or the recovery."""

        def span(w: Span | None, lo: Any, hi: Any) -> Span | None:
            return None if w is None else (float(lo(w[0])), float(max(lo(w[0]), hi(w[1]))))

        return Windows(span(self.baseline, math.floor, math.floor), span(self.fault, math.floor, math.ceil),
                       span(self.recovery, math.ceil, math.ceil), span(self.whole, math.floor, math.ceil))

    def to_json(self) -> dict[str, list[float]]:
        """``{"baseline": [t0, t1], ...}`` for run.json (missing windows left out)."""
        return {n: [w[0], w[1]] for n in WINDOW_NAMES if (w := self.get(n)) is not None}


def first_actions(events: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Each fault's first action: its first ``fault.undo`` (written just before it acts), else its
    ``fault.injected``."""
    out: dict[str, float] = {}
    for e in events:
        if e.get("type") in (Event.FAULT_UNDO, Event.FAULT_INJECTED) and e.get("id"):
            out[str(e["id"])] = min(out.get(str(e["id"]), math.inf), float(e["ts"]))
    return out


def windows_from_events(start: float, end: float, events: Iterable[Mapping[str, Any]]) -> Windows:
    """Windows from the journal: baseline = [start, first action), fault = [first action, last
    ``fault.reverted``], recovery = (last revert, end]. Without any action only baseline (= whole)
    exists; with an action never reverted the fault window runs to ``end`` and there is no recovery."""
    events = list(events)
    actions = first_actions(events)
    whole = (start, end)
    if not actions:
        return Windows(whole, None, None, whole)
    first = min(actions.values())
    reverted = [float(e["ts"]) for e in events if e.get("type") == Event.FAULT_REVERTED]
    last = max((r for r in reverted if r >= first), default=None)
    if last is None or len({e.get("id") for e in events if e.get("type") == Event.FAULT_REVERTED}) < len(actions):
        return Windows((start, first), (first, end), None, whole)
    return Windows((start, first), (first, last), (last, end), whole)


def in_window(second: Second, window: Span) -> bool:
    """Whether a second's midpoint lies in ``[w0, w1)``."""
    return window[0] <= second.t + 0.5 < window[1]


def seconds_of(source: Path | str | Iterable[Second]) -> Iterator[Second]:
    """Seconds from a timeline file or an iterable."""
    if isinstance(source, (str, Path)):
        return read_timeline(Path(source))
    return iter(source)


def compute_sli(seconds: Iterable[Second], sli: str, window: Span) -> float | None:
    """One SLI over one window: ratios over request counts, latencies (SECONDS) over successful
    requests' merged histogram, rps = requests / window length; None when the window holds no data."""
    ref = parse_sli(sli)
    if ref.source == RECOVERY_TIME:
        raise ValueError("recovery_time is not a window SLI: see harness.measure.judge.measure")
    acc = Accumulator(ref)
    for s in seconds:
        if in_window(s, window):
            acc.add(s)
    return acc.value(window[1] - window[0])


def default_min_samples(sli: Sli) -> int:
    """Samples an SLO's window needs for a verdict: 20 for ratios, p50 and p95, 100 for p99, and
    1 for rps (a second of load)."""
    if sli.kind is Kind.RATE:
        return 1
    return _QUANTILE_MIN.get(sli.metric, 20)


@dataclass(frozen=True)
class SloInput:
    """One SLO as the spec states it, in plain values."""

    name: str
    sli: str
    op: str
    value: float  # in the SLI's unit: ratio 0..1, seconds, rps
    window: str = "whole"  # ignored for recovery_time
    consecutive: int = 3  # recovery_time only: good seconds in a row that count as recovered
    objective_text: str | None = None  # the spec's own wording, shown as is when given
    min_samples: int | None = None  # None = default_min_samples
    inconclusive_passes: bool = False  # `inconclusive: pass`

    @property
    def ref(self) -> Sli:
        return parse_sli(self.sli)

    @property
    def needed(self) -> int:
        return self.min_samples or default_min_samples(self.ref)


@dataclass(frozen=True)
class SloResult:
    """One evaluated SLO."""

    name: str
    sli: str
    objective: str
    window: str
    measured: float | None
    display: str
    status: SloStatus
    detail: str
    samples: int | None = None
    inconclusive_passes: bool = False

    @property
    def passed(self) -> bool | None:
        """True pass, False fail, None for every other status."""
        return {SloStatus.PASS: True, SloStatus.FAIL: False}.get(self.status)

    @property
    def ok(self) -> bool:
        """Whether this SLO lets the run pass."""
        if self.status is SloStatus.INCONCLUSIVE:
            return self.inconclusive_passes
        return self.status is not SloStatus.FAIL

    def to_json(self) -> dict[str, Any]:
        """The run.json ``slos[]`` entry."""
        return {"name": self.name, "sli": self.sli, "objective": self.objective, "window": self.window,
                "status": str(self.status), "measured": self.measured, "display": self.display,
                "passed": self.passed, "samples": self.samples, "detail": self.detail}


def all_met(results: Iterable[SloResult]) -> bool:
    """The verdict: no SLO failed, and none is inconclusive unless it says `inconclusive: pass`."""
    return all(r.ok for r in results)


def criteria_from(slos: Iterable[SloInput]) -> list[Criterion]:
    """The per-second criteria: every ratio or latency objective among ``slos``."""
    return [Criterion(s.ref, Threshold(s.op, s.value)) for s in slos
            if s.ref.source != RECOVERY_TIME and s.ref.per_second]


@dataclass
class _Pending:
    slo: SloInput
    window: Span | None
    acc: Accumulator

    def feed(self, second: Second) -> None:
        if self.window is not None and self.slo.ref.source != RECOVERY_TIME and in_window(second, self.window):
            self.acc.add(second)


def evaluate(source: Path | str | Iterable[Second], slos: Sequence[SloInput], windows: Windows,
             recovery: Recovery | None = None, cut_short: Iterable[str] = (),
             cut_reason: str = "") -> list[SloResult]:
    """Evaluate every SLO over a timeline in one streaming pass. ``recovery`` is the run's measured
    recovery (for recovery_time SLOs); windows named in ``cut_short`` are not judged."""
    windows = windows.snapped()
    pending = [_Pending(s, _window(s, windows), Accumulator(s.ref)) for s in slos]
    for second in seconds_of(source):
        for p in pending:
            p.feed(second)
    cut = set(cut_short)
    return [_result(p, windows, recovery, cut, cut_reason) for p in pending]


def _window(slo: SloInput, windows: Windows) -> Span | None:
    return windows.recovery if slo.ref.source == RECOVERY_TIME else windows.get(slo.window)


def _window_name(slo: SloInput) -> str:
    return "recovery" if slo.ref.source == RECOVERY_TIME else slo.window


def _result(p: _Pending, windows: Windows, recovery: Recovery | None, cut: set[str], cut_reason: str) -> SloResult:
    slo, ref = p.slo, p.slo.ref
    objective = slo.objective_text or Threshold(slo.op, slo.value).text(ref.kind)
    name = _window_name(slo)

    def done(status: SloStatus, detail: str, measured: float | None = None, samples: int | None = None) -> SloResult:
        return SloResult(slo.name, slo.sli, objective, name, measured, display(measured, ref.kind), status, detail,
                         samples, slo.inconclusive_passes)

    if name in cut:
        return done(SloStatus.NOT_JUDGED, f"not judged: the {name} window was cut short ({cut_reason})")
    if p.window is None:
        if windows.fault is None and name in ("fault", "recovery"):
            return done(SloStatus.SKIPPED, f"no fault was injected, so there is no {name} window")
        return done(SloStatus.INCONCLUSIVE, f"the {name} window does not exist in this run "
                    "(a fault was never reverted)")
    if ref.source == RECOVERY_TIME:
        return _recovery_result(slo, recovery, done)
    samples = p.acc.hist.total if ref.kind is Kind.LATENCY else p.acc.requests
    length = p.window[1] - p.window[0]
    if ref.kind is Kind.RATE:
        samples = p.acc.load_seconds
    measured = p.acc.value(length)
    where = f"the {name} window ({length:.0f} s)"
    if samples < slo.needed or measured is None:
        what = "successful requests" if ref.kind is Kind.LATENCY else "samples"
        hint = "raise the load or lengthen the phase" if ref.source != "probe" else "probe more often or lengthen the phase"
        return done(SloStatus.INCONCLUSIVE, f"{samples:,} {what} of {ref.text} in {where}; {slo.needed} needed: {hint}",
                    measured, samples)
    passed = Threshold(slo.op, slo.value).holds(measured)
    detail = _window_detail(p.acc, where)
    if not passed:
        detail += f"; objective {objective} not met"
    return done(SloStatus.PASS if passed else SloStatus.FAIL, detail, measured, samples)


def _window_detail(acc: Accumulator, where: str) -> str:
    texts: Mapping[Kind, str] = {
        Kind.RATIO: f"{acc.requests - acc.failures:,} of {acc.requests:,} ok in {where}",
        Kind.LATENCY: f"{acc.sli.metric} of {acc.hist.total:,} successful requests in {where}",
        Kind.RATE: f"{acc.requests:,} requests in {where}",
    }
    return texts.get(acc.sli.kind, where)


def _recovery_result(slo: SloInput, recovery: Recovery | None, done: Callable[..., SloResult]) -> SloResult:
    if recovery is None:
        return done(SloStatus.INCONCLUSIVE, "no per-second ratio or latency objective to recover to")
    if recovery.inconclusive:
        return done(SloStatus.INCONCLUSIVE, recovery.reason)
    if recovery.seconds is None:
        return done(SloStatus.FAIL, recovery.reason)
    passed = Threshold(slo.op, slo.value).holds(recovery.seconds)
    return done(SloStatus.PASS if passed else SloStatus.FAIL, recovery.reason, recovery.seconds)


def samples_of(sli: Sli, seconds: Iterable[Second]) -> int:
    """Samples of ``sli`` over the given seconds."""
    return sum(samples_in(sli, sli.counts(s)) for s in seconds)
