"""A game-day folder's ``summary.md`` and ``report.html`` (self-contained: no script, font or CDN),
rendered only from its ``gameday.json``; each run is linked by a path relative to the folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Game day {{ g.name }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
.passed,.completed{color:#176f2c}.failed,.stopped{color:#b3261e}.aborted,.interrupted,.refused,.error{color:#a15c00}
.revert_failed{color:#fff;background:#b3261e}.note{background:#fff4d6;padding:.5rem}
</style></head><body>
<h1>Game day: {{ g.title }}</h1>
<p><b class="{{ g.verdict or 'running' }}">{{ (g.verdict or 'running') | upper }}</b> —
{{ g.status }} (exit code {{ g.exit_code if g.exit_code is not none else '?' }}){% if g.stopped_because %};
stopped: {{ g.stopped_because }}{% endif %}.</p>
<table>
<tr><th>game day</th><td><code>{{ g.name }}</code> ({{ g.file }})</td></tr>
<tr><th>target</th><td>{{ g.target }}</td></tr>
<tr><th>owners</th><td>{{ g.owners | join(', ') or '—' }}</td></tr>
<tr><th>runbook</th><td>{% if g.runbook and g.runbook.startswith(('http://', 'https://')) %}<a href="{{ g.runbook }}">
{{ g.runbook }}</a>{% else %}{{ g.runbook or '—' }}{% endif %}</td></tr>
<tr><th>started / ended</th><td>{{ g.started }} / {{ g.ended or '—' }}</td></tr>
<tr><th>order</th><td>{{ g.order }}{% if g.seed is not none %} (seed {{ g.seed }}){% endif %}; stop on {{ g.stop_on }}</td></tr>
{% if g.resumed %}<tr><th>resumed</th><td>{{ g.resumed | join(', ') }}</td></tr>{% endif %}
</table>
{% for o in g.freeze_overrides %}<p class="note">Freeze window <b>{{ o.window }}</b> overridden by
{{ o.by }}: {{ o.reason }}</p>{% endfor %}
<h2>Runs</h2>
<table><tr><th>#</th><th>experiment</th><th>status</th><th>exit</th><th>started</th><th>seconds</th><th>report</th></tr>
{% for r in runs %}<tr><td>{{ r.position + 1 }}</td><td><code>{{ r.name }}</code></td>
<td class="{{ r.status }}">{{ r.status }}</td><td>{{ r.exit_code if r.exit_code is not none else '' }}</td>
<td>{{ r.started }}</td><td>{{ r.seconds if r.seconds is not none else '' }}</td>
<td>{% if r.link %}<a href="{{ r.link }}/report.html">report.html</a> · <a href="{{ r.link }}/summary.md">summary.md</a>
{% else %}{{ r.error or '' }}{% endif %}</td></tr>
{% endfor %}
{% for p in not_run %}<tr><td>{{ p.position + 1 }}</td><td><code>{{ p.experiment }}</code></td><td>not run</td>
<td></td><td></td><td></td><td></td></tr>{% endfor %}
</table>
{% if g.waits %}<h2>Waits for a whole shop</h2><table><tr><th>before</th><th>seconds</th><th>still not whole</th></tr>
{% for w in g.waits %}<tr><td>{{ w.before }}</td><td>{{ w.seconds }}</td><td>{{ w.problems | join('; ') }}</td></tr>{% endfor %}
</table>{% endif %}
</body></html>
"""


def _link(folder: Path, run_dir: str | None) -> str | None:
    if not run_dir:
        return None
    return Path(os.path.relpath(Path(run_dir).resolve(), folder.resolve())).as_posix()


def _rows(folder: Path, state: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    runs = [{**r, "link": _link(folder, r.get("run_dir"))} for r in state.get("runs", [])]
    ran = {r["position"] for r in runs}
    not_run = [{"position": i, "experiment": Path(p).name}
               for i, p in enumerate(state.get("planned", [])) if i not in ran]
    return runs, not_run


def render_summary(folder: Path, state: Mapping[str, Any]) -> str:
    """``summary.md`` of a game day."""
    verdict = str(state.get("verdict") or "running").upper()
    lines = [f"# Game day {verdict}: {state.get('title')}", "",
             f"**{verdict}** — {state.get('status')} (exit code {state.get('exit_code')}); target "
             f"`{state.get('target')}`; owners {', '.join(state.get('owners') or []) or '—'}; "
             f"runbook {state.get('runbook') or '—'}."]
    if state.get("stopped_because"):
        lines.append(f"Stopped: **{state['stopped_because']}**.")
    for o in state.get("freeze_overrides") or []:
        lines.append(f"Freeze window **{o.get('window')}** overridden by {o.get('by')}: {o.get('reason')}.")
    if state.get("resumed"):
        lines.append(f"Resumed at {', '.join(state['resumed'])}.")
    runs, not_run = _rows(folder, state)
    lines += ["", "| # | experiment | status | exit | started | seconds | report |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in runs:
        report = f"[report.html]({r['link']}/report.html)" if r["link"] else (r.get("error") or "")
        lines.append(f"| {r['position'] + 1} | `{r['name']}` | {r['status']} | {r.get('exit_code', '')} | "
                     f"{r.get('started')} | {r.get('seconds', '')} | {report} |")
    lines += [f"| {p['position'] + 1} | `{p['experiment']}` | not run | | | | |" for p in not_run]
    return "\n".join(lines) + "\n"


def write_reports(folder: Path, state: Mapping[str, Any]) -> None:
    """summary.md and report.html of a game-day folder, from its state."""
    (folder / "summary.md").write_text(render_summary(folder, state), encoding="utf-8")
    runs, not_run = _rows(folder, state)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
    html = env.from_string(_HTML).render(g=state, runs=runs, not_run=not_run)
    (folder / "report.html").write_text(html, encoding="utf-8")
