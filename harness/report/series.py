"""The series report.html's charts plot, on one time axis shared by every chart.

``SeriesBuilder`` is fed the timeline one ``Second`` at a time (streamed, in order) and keeps, per
bin of ``Axis.bin`` seconds, the values the charts plot; every value comes from ``harness.measure``:
an ``Accumulator`` per source and bin (request counts and merged latency histograms, so a bin's p95
is a percentile of the bin's requests, never an average of per-second percentiles), the SLI
functions of ``harness.measure.sli`` and the per-second judgements of ``harness.measure.judge``.
``harness.report.charts`` draws them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.measure.judge import Criterion, SecondJudge, State
from harness.measure.sli import METRICS, Accumulator, parse_sli
from harness.measure.timeline import Second

NAN = float("nan")
ALL_REQUESTS = "all requests"
MAX_POINTS = 600
"""Bins per chart at most: longer runs are drawn in bins of several seconds."""

OK, FAIL, NONE = "ok", "fail", "no data"
GOOD, DEGRADED, UNKNOWN = "good", "degraded", "no verdict"
JUDGEMENT_ROW = "SLO judgement"


@dataclass(frozen=True)
class Axis:
    """The one time axis: x = seconds since ``origin`` (the run's start), from 0 to ``length``."""

    origin: float
    length: float
    bin: int

    @classmethod
    def for_run(cls, origin: float, end: float) -> Axis:
        length = max(1.0, end - origin)
        return cls(origin, length, max(1, math.ceil(length / MAX_POINTS)))

    def x(self, epoch: float) -> float:
        """An epoch time as seconds since the start."""
        return epoch - self.origin


@dataclass
class Series:
    """What the charts plot, one entry per bin (NaN / ``no data`` where a source had none)."""

    x: list[float] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    error_ratio: list[float] = field(default_factory=list)
    latency: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # source -> metric -> ms
    status: dict[str, list[str]] = field(default_factory=dict)  # strip row -> state per bin
    has_load: bool = False
    has_probes: bool = False
    seconds: int = 0


def _value(acc: Accumulator | None, metric: str, length: float) -> float:
    if acc is None or acc.load_seconds == 0:
        return NAN
    value = METRICS[metric].value(acc.requests, acc.failures, acc.hist, length)
    return NAN if value is None else value


def _probe_state(results: int, failures: int) -> str:
    if results == 0:
        return NONE
    return FAIL if failures else OK


def _bin_judgement(states: Sequence[State]) -> str:
    if State.DEGRADED in states:
        return DEGRADED
    return GOOD if State.GOOD in states else UNKNOWN


class SeriesBuilder:
    """Streams seconds into per-bin series. ``latency_metrics`` adds percentiles to plot per latency
    source (``""`` for all requests, else a step name) beyond p50 and p95."""

    def __init__(self, axis: Axis, criteria: Sequence[Criterion] = (),
                 latency_metrics: Mapping[str, Sequence[str]] | None = None) -> None:
        self.axis = axis
        self.series = Series()
        self._extra = {k: list(v) for k, v in (latency_metrics or {}).items()}
        self._judge = SecondJudge(criteria) if criteria else None
        self._bin: int | None = None
        self._acc: dict[tuple[str, str], Accumulator] = {}
        self._probes: dict[str, list[int]] = {}  # probe -> [results, failures] in the open bin
        self._states: list[State] = []
        self._first = math.floor(axis.origin)

    def feed(self, second: Second) -> None:
        """Add the next second of the timeline (seconds come in order)."""
        index = max(0, (second.t - self._first) // self.axis.bin)
        if self._bin is not None and index != self._bin:
            self._close()
        self._bin = index
        self.series.seconds += 1
        sources: list[tuple[str, str, str]] = [("load", "", "load.error_ratio")]
        if second.load is not None:
            sources += [("step", name, f"step.{name}.error_ratio") for name in second.load.steps]
        for name, counts in second.probes.items():  # a probe's strip needs its counts only
            seen = self._probes.setdefault(name, [0, 0])
            seen[0], seen[1] = seen[0] + counts.requests, seen[1] + counts.failures
        for kind, name, sli in sources:
            acc = self._acc.get((kind, name))
            if acc is None:
                acc = self._acc[(kind, name)] = Accumulator(parse_sli(sli))
            acc.add(second)
        if self._judge is not None:
            self._states.append(self._judge.feed(second))

    def finish(self) -> Series:
        """Close the last bin and return the series."""
        if self._bin is not None:
            self._close()
            self._bin = None
        return self.series

    def _close(self) -> None:
        assert self._bin is not None
        s, b = self.series, self.axis.bin
        start = self._first + self._bin * b
        load = self._acc.get(("load", ""))
        length = float(max(1, load.seconds if load else b))
        s.x.append(self.axis.x(start + length / 2))
        s.rps.append(_value(load, "rps", length))
        s.error_ratio.append(_value(load, "error_ratio", length))
        s.has_load = s.has_load or bool(load and load.load_seconds)
        steps = sorted(n for k, n in self._acc if k == "step")
        for source in ["", *steps]:
            acc = self._acc.get(("step", source) if source else ("load", ""))
            if acc is not None and acc.load_seconds:
                for metric in ("p50", "p95", *self._extra.get(source, ())):
                    self._put(s.latency.setdefault(source or ALL_REQUESTS, {}), metric, _value(acc, metric, length) * 1000)
        if self._judge is not None:
            self._put(s.status, JUDGEMENT_ROW, _bin_judgement(self._states))
        for name, (results, failures) in self._probes.items():
            s.has_probes = True
            self._put(s.status, f"probe: {name}", _probe_state(results, failures))
        self._fill()
        self._acc, self._probes, self._states = {}, {}, []

    def _put(self, table: dict[str, Any], key: str, value: Any) -> None:
        """Append ``value`` to ``table[key]``, first padding a new row to the bins before it."""
        pad = NONE if isinstance(value, str) else NAN
        row = table.setdefault(key, [pad] * (len(self.series.x) - 1))
        row.append(value)

    def _fill(self) -> None:
        """Rows with nothing in the bin just closed get a gap."""
        n = len(self.series.x)
        for metrics in self.series.latency.values():
            for row in metrics.values():
                row.extend([NAN] * (n - len(row)))
        for strip in self.series.status.values():
            strip.extend([NONE] * (n - len(strip)))
