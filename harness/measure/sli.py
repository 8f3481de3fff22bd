"""Service level indicators over the timeline: parsing, per-window accumulation, thresholds, display.

Grammar: ``load.<m>``, ``step.<journey step>.<m>`` (m: success_ratio, error_ratio, rps, p50, p95,
p99), ``probe.<probe>.<m>`` (m: success_ratio, error_ratio, p50, p95, p99) and ``recovery_time``.
Ratios are 0..1, latencies and recovery_time are SECONDS, rps is requests per second. Latencies count
successful requests only (failures are their own SLI); a probe timeout is a failure *and* a latency
sample at the timeout.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from harness.measure.histogram import Histogram
from harness.measure.timeline import Counts, Second

RECOVERY_TIME = "recovery_time"


class Kind(StrEnum):
    """What an SLI measures; decides how it is displayed and whether it makes sense per second."""

    RATIO = "ratio"
    LATENCY = "latency"
    RATE = "rate"
    DURATION = "duration"


@dataclass(frozen=True)
class _Metric:
    kind: Kind
    value: Callable[[int, int, Histogram, float], float | None]  # requests, failures, hist, seconds


def _ratio(good: bool) -> Callable[[int, int, Histogram, float], float | None]:
    def value(req: int, fail: int, _h: Histogram, _len: float) -> float | None:
        if req <= 0:
            return None
        return (req - fail) / req if good else fail / req
    return value


def _pct(q: float) -> Callable[[int, int, Histogram, float], float | None]:
    def value(_req: int, _fail: int, hist: Histogram, _len: float) -> float | None:
        ms = hist.percentile(q)
        return None if ms is None else ms / 1000.0
    return value


def _rps(req: int, _fail: int, _h: Histogram, length: float) -> float | None:
    return req / length if length > 0 else None


METRICS: Mapping[str, _Metric] = {
    "success_ratio": _Metric(Kind.RATIO, _ratio(True)),
    "error_ratio": _Metric(Kind.RATIO, _ratio(False)),
    "rps": _Metric(Kind.RATE, _rps),
    "p50": _Metric(Kind.LATENCY, _pct(0.50)),
    "p95": _Metric(Kind.LATENCY, _pct(0.95)),
    "p99": _Metric(Kind.LATENCY, _pct(0.99)),
}
SOURCE_METRICS: Mapping[str, frozenset[str]] = {
    "load": frozenset(METRICS),
    "step": frozenset(METRICS),
    "probe": frozenset(METRICS) - {"rps"},
}


def _load(second: Second, _name: str) -> Counts | None:
    return second.load


def _step(second: Second, name: str) -> Counts | None:
    return second.load.steps.get(name) if second.load is not None else None


def _probe(second: Second, name: str) -> Counts | None:
    return second.probes.get(name)


_SOURCES: Mapping[str, Callable[[Second, str], Counts | None]] = {
    "load": _load, "step": _step, "probe": _probe}


@dataclass(frozen=True)
class Sli:
    """A parsed SLI reference such as ``step.checkout.p95``."""

    text: str
    source: str  # load | step | probe | recovery_time
    name: str  # step or probe name ("" for load)
    metric: str

    @property
    def kind(self) -> Kind:
        """How the value is displayed and compared."""
        return Kind.DURATION if self.source == RECOVERY_TIME else METRICS[self.metric].kind

    @property
    def per_second(self) -> bool:
        """Whether the SLI means something on a single second (ratios and latencies)."""
        return self.kind in (Kind.RATIO, Kind.LATENCY)

    def counts(self, second: Second) -> Counts | None:
        """This SLI's source counts in one second (None when the source has no data there)."""
        return _SOURCES[self.source](second, self.name)

    def on_second(self, second: Second) -> float | None:
        """The SLI computed on one second alone (rps is that second's request count)."""
        acc = Accumulator(self)
        acc.add(second)
        return acc.value(1.0)


def parse_sli(text: str) -> Sli:
    """Parse an SLI string; raises ValueError naming what is wrong."""
    if text == RECOVERY_TIME:
        return Sli(text, RECOVERY_TIME, "", RECOVERY_TIME)
    parts = text.split(".")
    source = parts[0]
    if source not in SOURCE_METRICS:
        raise ValueError(f"unknown SLI source {source!r} in {text!r} (load, step, probe, recovery_time)")
    if source == "load" and len(parts) == 2:
        name, metric = "", parts[1]
    elif source != "load" and len(parts) >= 3:
        name, metric = ".".join(parts[1:-1]), parts[-1]
    else:
        raise ValueError(f"malformed SLI {text!r}: expected load.<m>, step.<name>.<m> or probe.<name>.<m>")
    if metric not in SOURCE_METRICS[source]:
        raise ValueError(f"unknown metric {metric!r} for {source} (one of {sorted(SOURCE_METRICS[source])})")
    return Sli(text, source, name, metric)


@dataclass
class Accumulator:
    """Sums one SLI's counts over the seconds fed to it (memory: one histogram)."""

    sli: Sli
    requests: int = 0
    failures: int = 0
    seconds: int = 0
    load_seconds: int = 0  # seconds in which the source had a record at all
    hist: Histogram = field(default_factory=Histogram)

    def add(self, second: Second) -> None:
        """Add one second's counts (a second without data for the source adds nothing)."""
        self.seconds += 1
        c = self.sli.counts(second)
        if c is None:
            return
        self.load_seconds += 1
        self.requests += c.requests
        self.failures += c.failures
        self.hist.merge(c.hist)

    def value(self, length: float) -> float | None:
        """The SLI over the accumulated seconds; ``length`` (seconds) is used by rps only. Ratios need
        a request, latencies a latency sample (successes only), rps a second with a load record."""
        if self.sli.kind is Kind.RATE:
            return self.requests / length if self.load_seconds and length > 0 else None
        if self.requests <= 0:
            return None
        return METRICS[self.sli.metric].value(self.requests, self.failures, self.hist, length)


def compute_over(seconds: Iterable[Second], sli: Sli, length: float) -> float | None:
    """An SLI over every given second."""
    acc = Accumulator(sli)
    for s in seconds:
        acc.add(s)
    return acc.value(length)


_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
    "≥": operator.ge, "≤": operator.le, "==": operator.eq,
}


@dataclass(frozen=True)
class Threshold:
    """``<measured> <op> <value>``; value in the SLI's unit (ratio 0..1, seconds, rps)."""

    op: str
    value: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"unknown comparison {self.op!r} (one of {sorted(_OPS)})")

    def holds(self, measured: float) -> bool:
        """Whether a measured value meets the threshold."""
        return _OPS[self.op](measured, self.value)

    def text(self, kind: Kind) -> str:
        """Human form, e.g. ``>= 99%``, ``<= 800ms``, ``<= 60s``."""
        return f"{self.op} {format_threshold(self.value, kind)}"


def format_threshold(value: float, kind: Kind) -> str:
    """A threshold in the objective grammar's units (``99%``, ``800ms``, ``60s``, ``100 rps``)."""
    formats: Mapping[Kind, Callable[[float], str]] = {
        Kind.RATIO: lambda v: f"{v * 100:g}%",
        Kind.LATENCY: lambda v: f"{v * 1000:g}ms" if v < 1 else f"{v:g}s",
        Kind.DURATION: lambda v: f"{v:g}s",
        Kind.RATE: lambda v: f"{v:g} rps",
    }
    return formats[kind](value)


def _latency_text(v: float) -> str:
    if v >= 10:
        return f"{v:.1f} s"
    return f"{v * 1000:.1f} ms" if v < 0.01 else f"{v * 1000:.0f} ms"


_DISPLAY: Mapping[Kind, Callable[[float], str]] = {
    Kind.RATIO: lambda v: f"{v * 100:.2f}%",
    Kind.LATENCY: _latency_text,
    Kind.DURATION: lambda v: f"{v:.1f} s",
    Kind.RATE: lambda v: f"{v:.1f} rps",
}


def display(value: float | None, kind: Kind) -> str:
    """A measured value for humans: ``99.42%``, ``812 ms``, ``4.0 s``, ``123.4 rps``, ``n/a``."""
    return "n/a" if value is None else _DISPLAY[kind](value)
