"""Good, degraded or unknown: the per-second judgement that detection and recovery stand on.

Definitions (the README's "Measurement" section says the same in words):

- A **criterion** is a per-second objective taken from the experiment's SLOs: every ratio or latency
  SLI with its threshold (``load.success_ratio >= 99%``, ``step.checkout.p95 <= 800ms``). rps and
  recovery_time are not per-second criteria.
- A criterion **has data** in a second when that second holds at least one sample of its SLI: a
  request (ratios) or a successful request / probe timeout (latencies).
- A second with data is judged over a short **sliding window**: that second and, when it holds fewer
  than the criterion's minimum samples, as many earlier seconds as needed (at most ``JUDGE_WINDOW``)
  to reach it. Ratios need 1 sample; a percentile q needs ``ceil(1 / (1 - q))`` (p50: 2, p95: 20,
  p99: 100), so one slow request at 2 req/s does not flip a second. Still short of the minimum after
  the window: no verdict for that criterion.
- A second is **degraded** when some criterion is judged and fails; **good** when at least one
  criterion is judged and none fails; **unknown** otherwise. An unknown second never breaks or makes
  a streak.
- **Detection time**: from a fault's first action to the start of the first degraded second that
  contains or follows it; none when nothing degraded.
- **Recovery time**: from the reference point (the last revert; for faults whose revert is a no-op,
  such as pod-kill, the last disruptive action) to the start of the first stretch of ``consecutive``
  good seconds (unknown seconds skipped) that begins at or after it. Exactly 0 when nothing degraded
  from the first action on. None ("did not recover") when the last judged second is degraded;
  inconclusive when the run ended inside a good stretch shorter than ``consecutive`` or with no
  judged second after the reference point.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from harness.measure.histogram import Histogram
from harness.measure.sli import METRICS, Kind, Sli, Threshold
from harness.measure.timeline import Counts, Second

JUDGE_WINDOW = 10
"""Seconds a per-second judgement may look back to gather its minimum samples."""

_QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


class State(StrEnum):
    """One second's judgement."""

    GOOD = "good"
    DEGRADED = "degraded"
    UNKNOWN = "unknown"


def samples_in(sli: Sli, counts: Counts | None) -> int:
    """How many samples of ``sli`` a count holds: requests for ratios and rates, latency samples
    (successes and timeouts) for latencies."""
    if counts is None:
        return 0
    return counts.hist.total if sli.kind is Kind.LATENCY else counts.requests


def per_second_minimum(sli: Sli) -> int:
    """Samples a per-second judgement needs: 1 for ratios, ``ceil(1 / (1 - q))`` for a percentile."""
    q = _QUANTILES.get(sli.metric)
    return 1 if q is None else math.ceil(1.0 / (1.0 - q) - 1e-9)


def value_of(sli: Sli, requests: int, failures: int, hist: Histogram, length: float) -> float | None:
    """The SLI over summed counts (None without samples)."""
    return METRICS[sli.metric].value(requests, failures, hist, length)


@dataclass(frozen=True)
class Criterion:
    """A per-second objective: an SLI, its threshold and the samples a judgement needs."""

    sli: Sli
    threshold: Threshold
    min_samples: int = 0  # 0 = per_second_minimum(sli)

    @property
    def needed(self) -> int:
        return self.min_samples or per_second_minimum(self.sli)


@dataclass
class _Track:
    criterion: Criterion
    recent: deque[Counts | None] = field(default_factory=lambda: deque(maxlen=JUDGE_WINDOW))

    def judge(self, second: Second) -> bool | None:
        """True good, False failing, None no verdict; ``second`` is the newest one."""
        counts = self.criterion.sli.counts(second)
        self.recent.append(counts)
        if samples_in(self.criterion.sli, counts) == 0:
            return None
        req = fail = 0
        hist = Histogram()
        for c in reversed(self.recent):
            if c is not None:
                req, fail = req + c.requests, fail + c.failures
                hist.merge(c.hist)
            if (hist.total if self.criterion.sli.kind is Kind.LATENCY else req) >= self.criterion.needed:
                value = value_of(self.criterion.sli, req, fail, hist, 1.0)
                return None if value is None else self.criterion.threshold.holds(value)
        return None


class SecondJudge:
    """Judges seconds fed in timeline order (keeps ``JUDGE_WINDOW`` seconds per criterion)."""

    def __init__(self, criteria: Sequence[Criterion]) -> None:
        self.criteria = list(criteria)
        self._tracks = [_Track(c) for c in self.criteria]

    def feed(self, second: Second) -> State:
        """The judgement of the next second."""
        verdicts = [t.judge(second) for t in self._tracks]
        if any(v is False for v in verdicts):
            return State.DEGRADED
        return State.GOOD if any(v is True for v in verdicts) else State.UNKNOWN


def judge_all(seconds: Iterable[Second], criteria: Sequence[Criterion]) -> list[tuple[int, State]]:
    """Every second's judgement, in order (a list of ``(t, state)``: one small tuple per second)."""
    judge = SecondJudge(criteria)
    return [(s.t, judge.feed(s)) for s in seconds]


@dataclass(frozen=True)
class Recovery:
    """Detection and recovery of one fault (or of the run) against the per-second judgements.

    ``seconds`` is None when not measured: ``reason`` then says whether the site did not recover
    (``recovered`` False) or the data cannot tell (``inconclusive`` True)."""

    detection: float | None
    seconds: float | None
    degraded: bool
    inconclusive: bool
    reason: str
    first_degraded: int | None = None
    recovered_at: float | None = None
    degraded_seconds: int = 0


def measure(states: Sequence[tuple[int, State]], first_action: float, reference: float,
            consecutive: int) -> Recovery:
    """Detection from ``first_action`` and recovery from ``reference`` (see the module docstring)."""
    consecutive = max(1, consecutive)
    after = [(t, s) for t, s in states if t + 1 > first_action]
    bad = [t for t, s in after if s is State.DEGRADED]
    if not bad:
        judged = any(s is not State.UNKNOWN for _, s in after)
        if not judged:
            return Recovery(None, None, False, True, "no second after the first action could be judged "
                            "(no criterion had data): raise the load or add a probe")
        return Recovery(None, 0.0, False, False, "never degraded: recovery is 0 by definition")
    detection = max(0.0, bad[0] - first_action)
    streak_start: int | None = None
    streak = 0
    last_judged: State = State.UNKNOWN
    for t, state in states:
        if t + 0.5 < reference or state is State.UNKNOWN:
            continue
        last_judged = state
        if state is State.DEGRADED:
            streak, streak_start = 0, None
            continue
        streak_start = t if streak_start is None else streak_start
        streak += 1
        if streak >= consecutive:
            secs = max(0.0, streak_start - reference)
            return Recovery(detection, secs, True, False,
                            f"{consecutive} good second(s) in a row from {secs:.1f} s after the reference point",
                            bad[0], streak_start, len(bad))
    if last_judged is State.DEGRADED:
        return Recovery(detection, None, True, False, "did not recover: still degraded when the run ended",
                        bad[0], None, len(bad))
    why = ("no second after the reference point could be judged" if last_judged is State.UNKNOWN
           else f"the run ended {streak} good second(s) into a stretch; {consecutive} needed")
    return Recovery(detection, None, True, True, why + ": lengthen the recovery phase", bad[0], None, len(bad))
