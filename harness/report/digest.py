"""The weekly review pack: what happened this period, what got worse, what is new, what to look at first.

Built from the reports folder's index (``harness.report.history``), never from timelines, so a digest of
hundreds of runs stays fast and small. The rules it applies are written here and printed in the digest:

- **Regressions**: per experiment and target, the period's latest run against the last *passed* run
  before the period, with the rules of ``harness.report.regress``.
- **First failures (new findings)**: an SLO that failed (breached, or inconclusive: both fail a run)
  in the period and never failed that way in an earlier run of the same experiment.
- **Incidents**: runs that aborted, were interrupted, ended in a harness error, left something injected,
  or needed `harness rollback`.
- **Resilience score per service** (a service is a journey step, what shoppers use): ``100 × A × L``
  over the period's runs with load in a fault window. ``A`` is the step's success ratio in the fault
  windows, request-weighted over all those runs; ``L`` is the share of those runs in which the step's p95
  in the fault window did not regress against its own baseline phase of the same run (the latency rule:
  more than 1.5× and at least 100 ms worse). 100 means no failed request and no latency regression.
- **What to look at first**, by impact: anything still injected, then runs that needed a rollback,
  regressions (largest first), first failures, other incidents, then services scoring under 90.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from harness.report.history import RunEntry, parse_time, select
from harness.report.regress import Finding, Rules, compare, last_good, latency_finding

TREND_WEEKS = 8
"""How far back the trend charts reach before the period."""


@dataclass
class ExperimentSection:
    name: str
    target: str
    runs: list[RunEntry]
    """This period's runs, oldest first."""
    history: list[RunEntry]
    """Runs in the trend window (previous weeks and this period), for the charts."""
    baseline: RunEntry | None
    findings: list[Finding]


@dataclass
class ServiceScore:
    service: str
    score: int | None
    availability: float | None
    runs: int
    regressed_runs: int
    requests: int


@dataclass
class Digest:
    since: datetime
    until: datetime
    experiments: list[ExperimentSection]
    services: list[ServiceScore]
    first_failures: list[tuple[RunEntry, list[str]]]
    incidents: list[tuple[RunEntry, str]]
    look_first: list[str] = field(default_factory=list)

    @property
    def period_runs(self) -> list[RunEntry]:
        return [r for section in self.experiments for r in section.runs]


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _why_incident(e: RunEntry) -> str:
    reasons = []
    if e.still_injected:
        reasons.append(f"{e.still_injected} fault(s) still injected")
    if e.rolled_back:
        reasons.append("needed `harness rollback`")
    if e.status in ("aborted", "interrupted", "error", "revert_failed"):
        reasons.append(f"{e.status}" + (f": {e.aborted_by}" if e.aborted_by else ""))
    return "; ".join(reasons)


def _failed_slos(e: RunEntry) -> set[str]:
    """``name (status)`` of every SLO that failed the run: breached, or inconclusive (which fails it too)."""
    return {f"{s.get('name')} ({s.get('status')})" for s in e.slos if s.get("status") in ("fail", "inconclusive")}


def first_failures(period: list[RunEntry], earlier: list[RunEntry]) -> list[tuple[RunEntry, list[str]]]:
    """Period runs with SLOs failing for the first time in their experiment's history."""
    seen: dict[str, set[str]] = defaultdict(set)
    for e in earlier:
        seen[e.name] |= _failed_slos(e)
    out = []
    for e in period:
        new = sorted(_failed_slos(e) - seen[e.name])
        if new:
            out.append((e, new))
        seen[e.name] |= set(new)
    return out


def service_scores(period: list[RunEntry], rules: Rules | None = None) -> list[ServiceScore]:
    r = rules or Rules()
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # requests, failures, runs, regressed
    for e in period:
        for source, phases in e.phases.items():
            fault = phases.get("fault") or {}
            if not source.startswith("step.") or not fault.get("requests"):
                continue
            a = acc[source.removeprefix("step.")]
            a[0] += int(fault["requests"])
            a[1] += int(fault.get("failures") or 0)
            a[2] += 1
            base = (phases.get("baseline") or {}).get("p95")
            a[3] += latency_finding(source, base, fault.get("p95"), r) is not None
    out = []
    for service, (req, fail, runs, regressed) in sorted(acc.items()):
        availability = 1 - fail / req if req else None
        score = round(100 * availability * (1 - regressed / runs)) if availability is not None and runs else None
        out.append(ServiceScore(service, score, availability, runs, regressed, req))
    return out


def _look_first(d: Digest) -> list[str]:
    items: list[tuple[float, str]] = []
    for e, why in d.incidents:
        impact = 1000.0 if e.still_injected or e.status == "revert_failed" else 900.0 if e.rolled_back else 70.0
        items.append((impact, f"{e.name} ({e.folder}): {why}"))
    for s in d.experiments:
        for f in s.findings[:3]:
            items.append((100 + f.severity, f"{s.name}: {f.what} regressed, {f.baseline} → {f.now} ({f.rule})"))
    for e, slos in d.first_failures:
        items.append((80.0, f"{e.name}: new failure of {', '.join(slos)} ({e.folder})"))
    for svc in d.services:
        if svc.score is not None and svc.score < 90:
            items.append((100.0 - svc.score, f"service {svc.service}: resilience score {svc.score}"))
    return [text for _, text in sorted(items, key=lambda item: -item[0])][:10]


def build_digest(entries: list[RunEntry], since: datetime, until: datetime, rules: Rules | None = None) -> Digest:
    """The digest of the runs started in [since, until), with the history before ``since`` for context."""
    period = select(entries, since=since, until=until)
    earlier = [e for e in entries if (parse_time(e.started) or since) < since]
    trend_start = since - timedelta(weeks=TREND_WEEKS)
    sections = []
    for name, target in sorted({(e.name, e.target) for e in period}):
        runs = [e for e in period if (e.name, e.target) == (name, target)]
        history = [e for e in select(entries, experiment=name, target=target, since=trend_start, until=until)]
        baseline = last_good(entries, name, target, before=_iso(since))
        findings = compare(baseline, runs[-1], rules) if baseline else []
        sections.append(ExperimentSection(name, target, runs, history, baseline, findings))
    digest = Digest(since, until, sections, service_scores(period, rules), first_failures(period, earlier),
                    [(e, _why_incident(e)) for e in period if e.incident])
    digest.look_first = _look_first(digest)
    return digest
