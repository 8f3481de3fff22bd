"""SLO evaluation over the timeline: windows, per-window SLIs, recovery time, results.

Pure functions over ``Second`` values (see ``harness.timeline``); the timeline is streamed once, so
memory stays flat however long the run was. A second ``t`` belongs to a window ``[w0, w1)`` when its
midpoint ``t + 0.5`` does, so the baseline, fault and recovery windows split the seconds exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.sli import RECOVERY_TIME, Accumulator, Kind, Sli, Threshold, display, parse_sli
from harness.timeline import Second, read_timeline

Span = tuple[float, float]
WINDOW_NAMES = ("baseline", "fault", "recovery", "whole")


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

    def to_json(self) -> dict[str, list[float]]:
        """The run.json ``windows`` object (windows that do not exist are left out)."""
        return {n: [w[0], w[1]] for n in WINDOW_NAMES if (w := self.get(n)) is not None}


def windows_from_events(start: float, end: float, events: Iterable[Mapping[str, Any]]) -> Windows:
    """Windows from the journal: baseline = [start, first ``fault.injected``), fault = [first
    injection, last ``fault.reverted``], recovery = (last revert, end]. Without any injection only
    baseline (= whole) exists; with an injection that was never reverted the fault window runs to
    ``end`` and there is no recovery window."""
    injected: list[float] = []
    reverted: list[float] = []
    for e in events:
        {"fault.injected": injected, "fault.reverted": reverted}.get(str(e.get("type")), []).append(
            float(e["ts"]))
    whole = (start, end)
    if not injected:
        return Windows(whole, None, None, whole)
    first = min(injected)
    last = max((r for r in reverted if r >= first), default=None)
    if last is None:
        return Windows((start, first), (first, end), None, whole)
    return Windows((start, first), (first, last), (last, end), whole)


def in_window(second: Second, window: Span) -> bool:
    """Whether a second's midpoint lies in ``[w0, w1)``."""
    return window[0] <= second.t + 0.5 < window[1]


def _seconds(source: Path | str | Iterable[Second]) -> Iterator[Second]:
    if isinstance(source, (str, Path)):
        return read_timeline(Path(source))
    return iter(source)


def compute_sli(seconds: Iterable[Second], sli: str, window: Span) -> float | None:
    """One SLI over one window: ratios over request counts, latencies (SECONDS) from the merged
    histogram, rps = requests / window length; None when the window holds no data."""
    ref = parse_sli(sli)
    if ref.source == RECOVERY_TIME:
        raise ValueError("recovery_time is not a window SLI: use recovery_time()")
    acc = Accumulator(ref)
    for s in seconds:
        if in_window(s, window):
            acc.add(s)
    return acc.value(window[1] - window[0])


@dataclass(frozen=True)
class Criterion:
    """A per-second condition used to decide that the site has recovered."""

    sli: Sli
    threshold: Threshold

    def check(self, second: Second) -> bool | None:
        """Whether the second meets it; None when the SLI has no data in that second."""
        value = self.sli.on_second(second)
        return None if value is None else self.threshold.holds(value)


class RecoveryTracker:
    """Feeds on seconds in order; finds the first streak of ``consecutive`` good seconds after the
    revert. Good = every criterion has data and holds; bad = some criterion has data and fails;
    a second with no data is neither, but it does break a streak."""

    def __init__(self, revert_ts: float, criteria: Sequence[Criterion], consecutive: int,
                 since: float | None = None) -> None:
        self.revert_ts = revert_ts
        self.criteria = list(criteria)
        self.consecutive = max(1, consecutive)
        self.since = since
        self.degraded = False
        self.found: float | None = None
        self._streak_start: int | None = None
        self._streak = 0

    def _judge(self, second: Second) -> bool | None:
        checks = [c.check(second) for c in self.criteria]
        if any(c is False for c in checks):
            return False
        return True if all(c is True for c in checks) else None

    def feed(self, second: Second) -> None:
        """Consider the next second of the timeline."""
        mid = second.t + 0.5
        if self.found is not None or (self.since is not None and mid < self.since):
            return
        good = self._judge(second)
        self.degraded = self.degraded or good is False
        if mid < self.revert_ts:
            return
        if good is not True:
            self._streak, self._streak_start = 0, None
            return
        if self._streak_start is None:
            self._streak_start = second.t
        self._streak += 1
        if self._streak >= self.consecutive:
            self.found = max(0.0, self._streak_start - self.revert_ts)

    def result(self) -> float | None:
        """Seconds from the revert to the start of the good streak; 0 if never degraded; else None."""
        if self.found is not None:
            return self.found
        return None if self.degraded else 0.0


def recovery_time(seconds: Path | str | Iterable[Second], revert_ts: float, criteria: Sequence[Criterion],
                  consecutive: int, since: float | None = None) -> float | None:
    """Seconds from the last revert until every criterion held for ``consecutive`` seconds in a row,
    measured to the start of that streak. Seconds with no data do not count as good. 0 when no
    second (from ``since``, default: the whole timeline) was ever bad; None when it never recovered."""
    tracker = RecoveryTracker(revert_ts, criteria, consecutive, since)
    for s in _seconds(seconds):
        tracker.feed(s)
        if tracker.found is not None:
            break
    return tracker.result()


def measure_recovery(source: Path | str | Iterable[Second], slos: Sequence[SloInput], windows: Windows,
                     consecutive: int = 5) -> float | None:
    """run.json's ``recovery_seconds``: recovery time against every per-second objective in ``slos``
    (None when no fault was reverted, or when the site never recovered)."""
    if windows.recovery is None:
        return None
    since = windows.fault[0] if windows.fault else None
    return recovery_time(source, windows.recovery[0], criteria_from(slos), consecutive, since)


@dataclass(frozen=True)
class SloInput:
    """One SLO as the spec states it, in plain values."""

    name: str
    sli: str
    op: str
    value: float  # in the SLI's unit: ratio 0..1, seconds, rps
    window: str = "whole"  # ignored for recovery_time
    consecutive: int = 5  # recovery_time only: good seconds in a row that count as recovered
    objective_text: str | None = None  # the spec's own wording, shown as is when given


@dataclass(frozen=True)
class SloResult:
    """One evaluated SLO. ``passed`` is None when there was nothing to measure; ``skipped`` says that
    this is because no fault was injected (not a failure) rather than missing data (a failure)."""

    name: str
    sli: str
    objective: str
    window: str
    measured: float | None
    display: str
    passed: bool | None
    detail: str
    skipped: bool = False

    @property
    def ok(self) -> bool:
        """Whether this SLO lets the run pass (missing data fails unless skipped)."""
        return self.passed is True or (self.passed is None and self.skipped)

    def to_json(self) -> dict[str, Any]:
        """The run.json ``slos[]`` entry."""
        return {"name": self.name, "sli": self.sli, "objective": self.objective, "window": self.window,
                "measured": self.measured, "display": self.display, "passed": self.passed,
                "detail": self.detail, "skipped": self.skipped}


def all_met(results: Iterable[SloResult]) -> bool:
    """The verdict: every SLO passed (or was skipped because there was no fault)."""
    return all(r.ok for r in results)


def criteria_from(slos: Iterable[SloInput]) -> list[Criterion]:
    """The per-second recovery criteria: every ratio or latency objective among ``slos``."""
    out = []
    for slo in slos:
        ref = parse_sli(slo.sli)
        if ref.source != RECOVERY_TIME and ref.per_second:
            out.append(Criterion(ref, Threshold(slo.op, slo.value)))
    return out




@dataclass
class _Pending:
    """One SLO being evaluated while the timeline streams by."""

    slo: SloInput
    sli: Sli
    threshold: Threshold
    window: Span | None
    acc: Accumulator | None = None
    tracker: RecoveryTracker | None = None

    def feed(self, second: Second) -> None:
        if self.tracker is not None:
            self.tracker.feed(second)
        elif self.acc is not None and self.window is not None and in_window(second, self.window):
            self.acc.add(second)


def _pending(slo: SloInput, all_slos: Sequence[SloInput], windows: Windows) -> _Pending:
    ref = parse_sli(slo.sli)
    threshold = Threshold(slo.op, slo.value)
    if ref.source == RECOVERY_TIME:
        p = _Pending(slo, ref, threshold, windows.recovery)
        if windows.recovery is not None:
            since = windows.fault[0] if windows.fault else None
            others = [o for o in all_slos if o is not slo]
            p.tracker = RecoveryTracker(windows.recovery[0], criteria_from(others), slo.consecutive, since)
        return p
    window = windows.get(slo.window)
    return _Pending(slo, ref, threshold, window, acc=Accumulator(ref) if window else None)


def evaluate(source: Path | str | Iterable[Second], slos: Sequence[SloInput],
             windows: Windows) -> list[SloResult]:
    """Evaluate every SLO over a timeline file (or seconds) in one streaming pass."""
    pending = [_pending(s, slos, windows) for s in slos]
    for second in _seconds(source):
        for p in pending:
            p.feed(second)
    return [_result(p, windows) for p in pending]


def _result(p: _Pending, windows: Windows) -> SloResult:
    kind = p.sli.kind
    objective = p.slo.objective_text or p.threshold.text(kind)
    window_name = "recovery" if p.tracker is not None or p.sli.source == RECOVERY_TIME else p.slo.window
    if p.window is None:
        skipped = windows.fault is None and window_name in ("fault", "recovery")
        why = ("no fault was injected, so there is no {w} window" if skipped
               else "the {w} window does not exist in this run")
        return SloResult(p.slo.name, p.slo.sli, objective, window_name, None, "n/a", None,
                         why.format(w=window_name), skipped)
    if p.tracker is not None:
        measured = p.tracker.result()
        detail = _recovery_detail(p.tracker, measured)
    else:
        assert p.acc is not None
        measured = p.acc.value(p.window[1] - p.window[0])
        detail = _window_detail(p.acc, p.window, window_name, measured)
    passed = None if measured is None else p.threshold.holds(measured)
    if passed is False:
        detail += f"; objective {objective} not met"
    return SloResult(p.slo.name, p.slo.sli, objective, window_name, measured, display(measured, kind),
                     passed, detail)


def _window_detail(acc: Accumulator, window: Span, name: str, measured: float | None) -> str:
    length = max(0.0, window[1] - window[0])
    where = f"{name} window ({length:.0f} s)"
    if measured is None:
        return f"no data for {acc.sli.text} in the {where}"
    texts: Mapping[Kind, str] = {
        Kind.RATIO: f"{acc.requests - acc.failures:,} of {acc.requests:,} ok in the {where}",
        Kind.LATENCY: f"{acc.sli.metric} of {acc.hist.total:,} samples in the {where}",
        Kind.RATE: f"{acc.requests:,} requests in the {where}",
    }
    return texts.get(acc.sli.kind, where)


def _recovery_detail(tracker: RecoveryTracker, measured: float | None) -> str:
    if not tracker.criteria:
        return "no per-second ratio or latency objective to recover to"
    need = f"{tracker.consecutive} good second(s) in a row"
    if measured is None:
        return f"did not recover: never {need} after the last revert"
    if tracker.found is None:
        return "never degraded"
    return f"{need} starting {measured:.1f} s after the last revert"
