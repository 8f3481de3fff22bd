"""What each journey step and probe saw in each phase: requests, failures, p50 and p95.

The table a review reads to answer "what happened to checkout during the partner outage". Rows are named
like SLI sources (``load`` for every request, ``step.<name>``, ``probe.<name>``) and every number is
computed by the SLI code (``Accumulator`` and the metric definitions of ``harness.measure.sli``): the p95
here is the p95 an SLO on ``step.checkout.p95`` over that phase would measure. Streams the timeline once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.measure.sli import METRICS, Accumulator, parse_sli
from harness.measure.timeline import Second


def _sources(second: Second) -> list[str]:
    out = []
    if second.load is not None:
        out.append("load")
        out += [f"step.{name}" for name in second.load.steps]
    out += [f"probe.{name}" for name in second.probes]
    return out


def breakdown(seconds: Iterable[Second]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{source: {phase: {requests, failures, error_ratio, p50, p95, seconds}}}``, phases in timeline
    order; latencies in seconds over successful requests (None without a latency sample)."""
    accs: dict[str, dict[str, Accumulator]] = {}
    lengths: dict[str, int] = {}
    for second in seconds:
        lengths[second.phase] = lengths.get(second.phase, 0) + 1
        for source in _sources(second):
            per_phase = accs.setdefault(source, {})
            if second.phase not in per_phase:
                per_phase[second.phase] = Accumulator(parse_sli(f"{source}.success_ratio"))
            per_phase[second.phase].add(second)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for source in sorted(accs, key=lambda s: (s != "load", s)):
        out[source] = {}
        for phase in lengths:
            acc = accs[source].get(phase)
            if acc is None:
                continue
            length = float(lengths[phase])
            out[source][phase] = {
                "requests": acc.requests, "failures": acc.failures,
                "error_ratio": METRICS["error_ratio"].value(acc.requests, acc.failures, acc.hist, length),
                "p50": METRICS["p50"].value(acc.requests, acc.failures, acc.hist, length),
                "p95": METRICS["p95"].value(acc.requests, acc.failures, acc.hist, length),
                "seconds": lengths[phase],
            }
    return out
