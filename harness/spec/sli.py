"""The SLI grammar of the spec: ``load.<m>``, ``step.<step>.<m>``, ``probe.<probe>.<m>``, ``recovery_time``.

Metrics: success_ratio, error_ratio, rps, p50, p95, p99 (probes have no rps). A ratio SLI takes a
``%`` or plain 0..1 objective, a latency SLI (and recovery_time) a duration, rps a plain number.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from harness.spec.fieldtypes import Objective

SliKind = Literal["ratio", "latency", "rate", "time"]

METRIC_KINDS: dict[str, SliKind] = {
    "success_ratio": "ratio",
    "error_ratio": "ratio",
    "rps": "rate",
    "p50": "latency",
    "p95": "latency",
    "p99": "latency",
}
SOURCE_METRICS: dict[str, tuple[str, ...]] = {
    "load": tuple(METRIC_KINDS),
    "step": tuple(METRIC_KINDS),
    "probe": ("success_ratio", "error_ratio", "p50", "p95", "p99"),
}
RECOVERY_TIME = "recovery_time"
SLI_HELP = "load.<metric>, step.<step>.<metric>, probe.<probe>.<metric> or recovery_time"


@dataclass(frozen=True)
class SliRef:
    """A parsed SLI name."""

    source: Literal["load", "step", "probe", "recovery_time"]
    name: str | None
    metric: str
    kind: SliKind


def _maybe(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def parse_sli(text: str) -> SliRef:
    """Parse an SLI string; raises ValueError naming the grammar on anything else."""
    if text == RECOVERY_TIME:
        return SliRef("recovery_time", None, RECOVERY_TIME, "time")
    parts = text.split(".")
    source, metric = parts[0], parts[-1]
    if source not in SOURCE_METRICS:
        raise ValueError(f"unknown SLI source {source!r}{_maybe(source, [*SOURCE_METRICS, RECOVERY_TIME])}; "
                         f"expected {SLI_HELP}")
    if metric not in SOURCE_METRICS[source]:
        raise ValueError(f"unknown {source} metric {metric!r}{_maybe(metric, list(SOURCE_METRICS[source]))}; "
                         f"expected one of {', '.join(SOURCE_METRICS[source])}")
    name = ".".join(parts[1:-1]) or None
    if (source == "load") != (name is None):
        raise ValueError(f"expected {SLI_HELP}, got {text!r}")
    return SliRef(source, name, metric, METRIC_KINDS[metric])  # type: ignore[arg-type]


def objective_mismatch(sli: SliRef, objective: Objective) -> str | None:
    """Why ``objective`` cannot apply to ``sli`` (a unit mismatch), or None when it fits."""
    if sli.kind == "ratio":
        if objective.unit == "duration" or not 0.0 <= objective.value <= 1.0:
            return f"{sli.metric} is a ratio: write a percentage like '>= 99%' or a number 0..1"
    elif sli.kind in ("latency", "time"):
        if objective.unit != "duration":
            what = "recovery_time" if sli.kind == "time" else f"{sli.metric} is a latency and"
            return f"{what} needs a duration like '<= 800ms' or '<= 30s', not {objective.text!r}"
    elif objective.unit != "number":
        return f"rps is requests per second: write a plain number like '>= 50', not {objective.text!r}"
    return None
