"""Regression rules: is this run worse than a good run of the same experiment on the same target?

Used by the weekly digest (the period's latest run against the last passed run before the period) and
by the pre-release gate (a new run against the last good one). The default rules, each a finding when
it fires:

- **latency**: a latency SLI (an SLO on p50/p95/p99, or a step's p95 in the fault window) more than
  ``latency_factor`` (1.5×) its baseline *and* at least ``latency_min`` (100 ms) worse;
- **recovery / detection**: more than ``time_factor`` (+50 %) *and* at least ``time_min`` (5 s) longer;
- **success ratio**: a success-ratio SLI, or the run's availability, down more than ``ratio_points``
  (1 point, i.e. 0.01);
- **SLO**: an SLO that passed in the baseline and fails (or is inconclusive) now.

A latency or success-ratio value is compared only when both runs measured it on at least
``min_samples`` (20) samples (a step's fault-window p95: successful requests in the fault phase): a p95
of seven requests moves by hundreds of milliseconds from one run to the next and proves nothing.

A value missing on either side is never a regression (nothing to compare is said, not judged).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harness.report.history import RunEntry

LATENCY_METRICS = ("p50", "p95", "p99")


@dataclass(frozen=True)
class Rules:
    latency_factor: float = 1.5
    latency_min: float = 0.100
    time_factor: float = 1.5
    time_min: float = 5.0
    ratio_points: float = 0.01
    min_samples: int = 20


@dataclass(frozen=True)
class Finding:
    """One rule that fired: what, the baseline value, the value now, and the rule in words."""

    what: str
    baseline: str
    now: str
    rule: str
    severity: float
    """How much worse, relative (1.0 = doubled, or one whole ratio point per 0.01): orders findings."""


def _s(v: float) -> str:
    return f"{v:.1f} s"


def _ms(v: float) -> str:
    return f"{v * 1000:.0f} ms"


def _pct(v: float) -> str:
    return f"{v * 100:.2f} %"


def latency_finding(what: str, base: float | None, now: float | None, r: Rules) -> Finding | None:
    if base is None or now is None or not (now > base * r.latency_factor and now - base >= r.latency_min):
        return None
    rule = f"more than {r.latency_factor:g}× the baseline and at least {r.latency_min * 1000:.0f} ms worse"
    return Finding(what, _ms(base), _ms(now), rule, (now - base) / base if base > 0 else 1.0)


def time_finding(what: str, base: float | None, now: float | None, r: Rules) -> Finding | None:
    if base is None or now is None or not (now > base * r.time_factor and now - base >= r.time_min):
        return None
    rule = f"+{(r.time_factor - 1) * 100:.0f} % and at least {r.time_min:g} s longer than the baseline"
    return Finding(what, _s(base), _s(now), rule, (now - base) / base if base > 0 else 1.0)


def ratio_finding(what: str, base: float | None, now: float | None, r: Rules) -> Finding | None:
    if base is None or now is None or not (base - now > r.ratio_points):
        return None
    rule = f"down more than {r.ratio_points * 100:g} point(s)"
    return Finding(what, _pct(base), _pct(now), rule, (base - now) / 0.01)


def _fault_p95(entry: RunEntry, min_samples: int) -> dict[str, float]:
    """Each step's p95 in the fault phase, where at least ``min_samples`` requests succeeded."""
    out = {}
    for source, phases in entry.phases.items():
        fault = phases.get("fault") or {}
        p95, ok = fault.get("p95"), int(fault.get("requests") or 0) - int(fault.get("failures") or 0)
        if source.startswith("step.") and isinstance(p95, int | float) and ok >= min_samples:
            out[source] = float(p95)
    return out


def _enough(slo: dict[str, object], r: Rules) -> bool:
    samples = slo.get("samples")
    return samples is None or (isinstance(samples, int | float) and samples >= r.min_samples)


def compare(baseline: RunEntry, now: RunEntry, rules: Rules | None = None) -> list[Finding]:
    """Every rule that fires for ``now`` against ``baseline``, worst first."""
    r = rules or Rules()
    found: list[Finding | None] = [
        time_finding("recovery time", baseline.recovery_seconds, now.recovery_seconds, r),
        time_finding("detection time", baseline.detection_seconds, now.detection_seconds, r),
        ratio_finding("availability (whole run)", baseline.availability, now.availability, r),
    ]
    for slo in now.slos:
        before = baseline.slo(str(slo.get("name")))
        if before is None:
            continue
        sli = str(slo.get("sli", ""))
        metric = sli.rsplit(".", 1)[-1]
        label = f"SLO {slo.get('name')} ({sli})"
        b, n = before.get("measured"), slo.get("measured")
        if not (_enough(before, r) and _enough(slo, r)):
            b = n = None  # too few samples on one side: values not compared (the SLO rule still holds)
        if metric in LATENCY_METRICS:
            found.append(latency_finding(label, b, n, r))
        elif metric == "success_ratio":
            found.append(ratio_finding(label, b, n, r))
        if before.get("status") == "pass" and slo.get("status") in ("fail", "inconclusive"):
            found.append(Finding(label, "pass", str(slo.get("status")), "passed in the baseline, not now", 10.0))
    base_p95 = _fault_p95(baseline, r.min_samples)
    for source, p95 in _fault_p95(now, r.min_samples).items():
        found.append(latency_finding(f"{source}.p95 in the fault window", base_p95.get(source), p95, r))
    return sorted((f for f in found if f is not None), key=lambda f: -f.severity)


def last_good(entries: Iterable[RunEntry], name: str, target: str, before: str | None = None) -> RunEntry | None:
    """The most recent passed run of ``name`` on ``target`` (started before ``before``, an ISO time)."""
    good = [e for e in entries if e.name == name and e.target == target and e.status == "passed"
            and (before is None or e.started < before)]
    return max(good, key=lambda e: e.started, default=None)
