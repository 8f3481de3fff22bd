"""Service level indicators over the timeline: THE grammar (the spec parses SLIs with it, once, at
load, and its models carry the parsed ``Sli``), per-window accumulation, thresholds, display.

Grammar: ``load.<m>``, ``step.<journey step>.<m>`` (m: success_ratio, error_ratio, rps, p50, p95,
p99), ``probe.<probe>.<m>`` (m: success_ratio, error_ratio, p50, p95, p99) and ``recovery_time``.
Ratios are 0..1, latencies and recovery_time are SECONDS, rps is requests per second. Latencies count
successful requests only (failures are their own SLI); a probe timeout is a failure *and* a latency
sample at the timeout.
"""

from __future__ import annotations

import difflib
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
SOURCE_METRICS: Mapping[str, tuple[str, ...]] = {
    "load": tuple(METRICS),
    "step": tuple(METRICS),
    "probe": tuple(m for m in METRICS if m != "rps"),
}
"""The metrics each source offers, in the order error messages list them."""
SLI_HELP = "load.<metric>, step.<step>.<metric>, probe.<probe>.<metric> or recovery_time"


def _load(second: Second, _name: str) -> Counts | None:
    return second.load


def _step(second: Second, name: str) -> Counts | None:
    return second.load.steps.get(name) if second.load is not None else None


def _probe(second: Second, name: str) -> Counts | None:
    return second.probes.get(name)


_SOURCES: Mapping[str, Callable[[Second, str], Counts | None]] = {
    "load": _load, "step": _step, "probe": _probe}


class Sli(str):
    """A parsed SLI reference such as ``step.checkout.p95``, made once by ``parse_sli`` and carried as is.

    It *is* its text (a ``str``: it compares, hashes, prints and serialises as written), with its
    parts: ``source`` (load, step, probe, recovery_time), ``name`` (the step or probe; ``""`` for load
    and recovery_time) and ``metric``. Immutable."""

    source: str
    name: str
    metric: str

    def __new__(cls, text: str, source: str, name: str, metric: str) -> Sli:
        self = super().__new__(cls, text)
        self.__dict__.update(source=source, name=name, metric=metric)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"an Sli is immutable (cannot set {name!r})")

    def __repr__(self) -> str:
        return f"Sli({self.text!r})"

    def __reduce__(self) -> tuple[Callable[[str], Sli], tuple[str]]:
        return parse_sli, (self.text,)

    @property
    def text(self) -> str:
        """The SLI as written, as a plain ``str``."""
        return str.__str__(self)

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


def _maybe(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def parse_sli(text: str) -> Sli:
    """Parse an SLI string (an ``Sli`` comes back as is); raises ValueError naming the grammar, with a
    did-you-mean for a misspelt source or metric."""
    if isinstance(text, Sli):
        return text
    if text == RECOVERY_TIME:
        return Sli(text, RECOVERY_TIME, "", RECOVERY_TIME)
    parts = text.split(".")
    source, metric = parts[0], parts[-1]
    if source not in SOURCE_METRICS:
        raise ValueError(f"unknown SLI source {source!r}{_maybe(source, [*SOURCE_METRICS, RECOVERY_TIME])}; "
                         f"expected {SLI_HELP}")
    if metric not in SOURCE_METRICS[source]:
        raise ValueError(f"unknown {source} metric {metric!r}{_maybe(metric, SOURCE_METRICS[source])}; "
                         f"expected one of {', '.join(SOURCE_METRICS[source])}")
    name = ".".join(parts[1:-1])
    if (source == "load") != (name == ""):
        raise ValueError(f"expected {SLI_HELP}, got {text!r}")
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
