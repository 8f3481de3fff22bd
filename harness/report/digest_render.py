"""The digest as `digest.md` (plain tables: Confluence, Slack, GitHub issues) and `digest.html`
(self-contained: inline SVG charts, inline CSS, no network), and `write_digest` for the CLI."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2

from harness.report import digest as digest_module
from harness.report import regress as regress_module
from harness.report.digest import TREND_WEEKS, Digest
from harness.report.history import RunEntry

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return "—" if v is None or v == "" else str(v).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def _secs(v: float | None) -> str | None:
    return None if v is None else f"{v:.1f} s"


def _pct(v: float | None) -> str | None:
    return None if v is None else f"{v * 100:.2f} %"


def _verdicts(runs: list[RunEntry]) -> str:
    counts = Counter(r.status for r in runs)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def _day(e: RunEntry) -> str:
    return e.started[:16].replace("T", " ")


def render_markdown(d: Digest) -> str:
    lines = [f"# Resilience digest {d.since:%Y-%m-%d} → {d.until:%Y-%m-%d}", "",
             f"{len(d.period_runs)} run(s) of {len(d.experiments)} experiment(s).", "", "## What to look at first", ""]
    lines += [f"{i}. {item}" for i, item in enumerate(d.look_first, 1)] or ["Nothing stands out."]
    lines += ["", "## Experiments", ""]
    lines += _md_table(["experiment", "target", "runs", "verdicts", "latest", "recovery", "detection",
                        "availability", "baseline (last passed before)", "regressions"],
                       [[s.name, s.target, len(s.runs), _verdicts(s.runs), s.runs[-1].status.upper(),
                         _secs(s.runs[-1].recovery_seconds), _secs(s.runs[-1].detection_seconds),
                         _pct(s.runs[-1].availability), s.baseline.folder if s.baseline else "none yet",
                         len(s.findings)] for s in d.experiments])
    lines += ["", "## Regressions", ""]
    rows = [[s.name, f.what, f.baseline, f.now, f.rule] for s in d.experiments for f in s.findings]
    lines += _md_table(["experiment", "what", "baseline", "now", "rule"], rows) if rows else ["None."]
    lines += ["", "## First failures (new findings)", ""]
    rows = [[e.name, ", ".join(slos), _day(e), e.folder] for e, slos in d.first_failures]
    lines += _md_table(["experiment", "SLOs failing for the first time", "when", "run"], rows) if rows else ["None."]
    lines += ["", "## Incidents to follow up", ""]
    rows = [[e.name, why, _day(e), e.folder] for e, why in d.incidents]
    lines += _md_table(["experiment", "what happened", "when", "run"], rows) if rows else ["None."]
    lines += ["", "## Resilience score per service", ""]
    scores: list[list[Any]] = [[s.service, s.score, _pct(s.availability), s.runs, s.regressed_runs, s.requests]
                               for s in d.services]
    lines += _md_table(["service (journey step)", "score", "success in fault windows", "runs",
                        "runs with p95 regression", "requests"], scores) if scores else [
        "No run with load in a fault window."]
    lines += ["", "## How this digest is computed", "", *_rules_text()]
    return "\n".join(lines) + "\n"


def _rules_text() -> list[str]:
    """The digest's rules and the regression rules, from the modules that apply them."""
    lines = []
    for module in (digest_module, regress_module):
        doc = module.__doc__ or ""
        lines += [*doc.replace("``", "`").split("\n\n", 1)[-1].strip().splitlines(), ""]
    return lines


def render_html(d: Digest, reports: Path, out: Path) -> str:
    """The HTML digest; each run links to its folder's report.html, relative to ``out``."""
    from harness.report.trends import trend_svg

    start = d.since - timedelta(weeks=TREND_WEEKS)
    charts = {f"{s.name}@{s.target}": trend_svg(s.history, d.since, d.until, start, f"{s.name}@{s.target}")
              for s in d.experiments}

    def link(e: RunEntry) -> str:
        return os.path.relpath(reports / e.folder / "report.html", out)

    return _ENV.get_template("digest.html.j2").render(
        d=d, charts=charts, rules=_rules_text(), secs=_secs, pct=_pct, verdicts=_verdicts, day=_day,
        trend_weeks=TREND_WEEKS, link=link)


def default_out(reports: Path, until: datetime) -> Path:
    year, week, _ = until.isocalendar()
    return reports / f"digest-{year}-W{week:02d}"


def write_digest(d: Digest, reports: Path, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, html = out / "digest.md", out / "digest.html"
    md.write_text(render_markdown(d), encoding="utf-8")
    html.write_text(render_html(d, reports, out), encoding="utf-8")
    return html, md
