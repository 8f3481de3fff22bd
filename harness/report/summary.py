"""``summary.md``: a run's verdict in Markdown, rendered only from ``run.json`` (and key events).

Written to be read aloud in the weekly review and pasted into tickets: the status first, then why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from harness.report.readable import STATUS, clock, measurement_text


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ") or "–"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _pct(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None else f"{float(value) * 100:.{digits}f}%"


def _header(run: Mapping[str, Any]) -> list[str]:
    status = str(run.get("status", "error"))
    label, meaning = STATUS.get(status, (status.upper(), ""))
    title = run.get("title") or run.get("name", "experiment")
    lines = [f"# {label}: {title}", "", f"**{label}** — {meaning} (exit code {run.get('exit_code', '?')})."]
    if run.get("aborted_by"):
        lines.append(f"Aborted by: **{run['aborted_by']}**.")
    lines += ["", *_table(["experiment", "owner", "target", "started", "ended", "run folder"], [[
        f"`{run.get('name', '')}`", run.get("owner"), run.get("target"), clock(run.get("started")),
        clock(run.get("ended")), f"`{run.get('run_dir', '')}`" if run.get("run_dir") else None]])]
    return lines


def _still_injected(run: Mapping[str, Any]) -> list[str]:
    items = run.get("still_injected") or []
    if not items:
        return []
    folder = run.get("run_dir") or "<run folder>"
    return ["", "## ACTION REQUIRED: faults are still injected", "",
            "> **The harness could not revert everything. The site is still degraded by:**", ">",
            *[f"> - **{item}**" for item in items], ">",
            f"> 1. Run `harness rollback {folder}` (reverts are idempotent; running it twice is safe).",
            "> 2. If that fails too, undo each item above by hand (see the faults table for targets).",
            "> 3. Check the site is healthy again and say so in the incident channel."]


_WORDS = {"pass": "pass", "fail": "**FAIL**", "inconclusive": "**INCONCLUSIVE**", "skipped": "skipped",
          "not_judged": "not judged"}


def _result_word(slo: Mapping[str, Any]) -> str:
    return _WORDS.get(str(slo.get("status")), str(slo.get("status")))


def _verdict(run: Mapping[str, Any]) -> list[str]:
    slos = run.get("slos") or []
    if not slos:
        return ["", "## Verdict", "", "No SLOs were evaluated."]
    rows = [[s.get("name"), f"`{s.get('sli', '')}`", s.get("window"), s.get("objective"),
             s.get("display", "n/a"), _result_word(s)] for s in slos]
    lines = ["", "## Verdict", "", *_table(["SLO", "SLI", "window", "objective", "measured", "result"], rows)]
    notes = [f"- **{s.get('name')}** ({_result_word(s).strip('*').lower()}): {s.get('detail')}" for s in slos
             if s.get("status") != "pass" and s.get("detail")]
    return lines + (["", *notes] if notes else [])


def _faults(run: Mapping[str, Any]) -> list[str]:
    faults = run.get("faults") or []
    if not faults:
        return ["", "## Faults", "", "No fault was injected."]
    rows = [[f.get("kind"), ", ".join(f.get("targets") or []) or None, clock(f.get("injected_at")),
             clock(f.get("reverted_at")) if f.get("reverted_at") else "**not reverted**",
             f.get("error"), measurement_text(f.get("measurements"))] for f in faults]
    return ["", "## Faults", "",
            *_table(["kind", "targets", "injected", "reverted", "errors", "measurements"], rows)]


def _recovery(run: Mapping[str, Any]) -> list[str]:
    rec = run.get("recovery")
    if not run.get("faults"):
        return ["", "## Detection and recovery", "", "Not applicable: no fault was injected."]
    if not rec:
        return ["", "## Detection and recovery", "",
                "Not measured: no fault was reverted, or no SLO gives a per-second objective."]
    det, sec = rec.get("detection_seconds"), rec.get("recovery_seconds")
    if not rec.get("degraded"):
        lines = ["**Never degraded**: no second failed a per-second objective after the first fault action, "
                 "so recovery is 0 s by definition." if not rec.get("inconclusive") else
                 f"**Inconclusive**: {rec.get('reason')}."]
    else:
        lines = [f"- Detection: the site first degraded **{float(det):.1f} s** after the first fault action "
                 f"({rec.get('degraded_seconds', 0)} degraded second(s) in all)."]
        if sec is not None:
            lines.append(f"- Recovery: **{float(sec):.1f} s** after the reference point ({rec.get('reason')}).")
        else:
            word = "Inconclusive" if rec.get("inconclusive") else "The site did not recover"
            lines.append(f"- Recovery: **{word}**: {rec.get('reason')}.")
    return ["", "## Detection and recovery", "", *lines, "",
            "A second is degraded when a per-second objective has enough samples and fails; the reference "
            "point is the last revert (for pod-kill, the last kill)."]


def _budget(run: Mapping[str, Any]) -> list[str]:
    b = run.get("error_budget") or {}
    if not b:
        return []
    share = b.get("share_of_month_budget")
    rows = [[_pct(b.get("sla"), 2), _pct(b.get("availability"), 3),
             f"{b.get('failures', 0):,} / {b.get('requests', 0):,}",
             f"{float(b.get('bad_minutes', 0.0)):.2f} min",
             f"{float(b.get('budget_minutes', 0.0)):.0f} min", _pct(share, 1)]]
    return ["", "## Error budget", "",
            *_table(["SLA", "availability", "failed / requests", "bad minutes", "month budget",
                     "share of month"], rows),
            "", "Bad minutes are request-weighted: the run's failure ratio times the seconds that carried requests."]


def _int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "n/a"


def _load(run: Mapping[str, Any]) -> list[str]:
    load = run.get("load") or {}
    if not load:
        return []
    pairs = [("harness timeline", load.get("requests"), load.get("failures")),
             ("Locust's own stats", load.get("locust_requests"), load.get("locust_failures"))]
    rows = [[who, _int(req), _int(fail),
             _pct(fail / req) if isinstance(req, int) and req > 0 and isinstance(fail, int) else "n/a"]
            for who, req, fail in pairs]
    lines = ["", "## Load", "", *_table(["counted by", "requests", "failures", "error ratio"], rows)]
    ours, theirs = load.get("requests"), load.get("locust_requests")
    if isinstance(ours, int) and isinstance(theirs, int) and theirs and abs(ours - theirs) > 0.01 * theirs:
        lines += ["", f"The timeline and Locust disagree by {abs(ours - theirs):,} requests (more than 1 %): "
                      "per-second records were lost or arrived late; treat the ratios with care."]
    return lines


def _generator_warning(run: Mapping[str, Any]) -> list[str]:
    """Right under the status: the generator, not the site, may have been the limit."""
    gen = run.get("generator") or {}
    lines = [f"> **Warning: {f.get('message')}** ({f.get('longest')} s in a row from second {f.get('first_s')}); "
             "load SLOs that met their objective are inconclusive." for f in gen.get("flags") or []]
    lost = (gen.get("workers") or {}).get("lost") or []
    if lost:
        lines.append(f"> **{len(lost)} load worker(s) lost** during the run: {', '.join(lost)}.")
    return ["", *lines] if lines else []


def _generator(run: Mapping[str, Any]) -> list[str]:
    gen = run.get("generator") or {}
    if not gen or not (gen.get("peak_cpu") is not None or gen.get("offered_requests") or gen.get("flags")):
        return []
    offered, achieved = gen.get("offered_requests"), gen.get("achieved_requests")
    ratio = f"{achieved / offered:.0%}" if offered and isinstance(achieved, int) else "n/a"
    workers = gen.get("workers") or {}
    rows = [["offered (target) requests", _int(offered)], ["achieved requests", _int(achieved)],
            ["achieved ÷ offered", ratio],
            ["peak worker CPU", "n/a" if gen.get("peak_cpu") is None else f"{float(gen['peak_cpu']):.0f}%"],
            ["workers lost", ", ".join(workers.get("lost") or []) or "none"],
            ["workers joined late", ", ".join(workers.get("joined") or []) or "none"]]
    lines = ["", "## Load generator", "", *_table(["", ""], rows)]
    lines += [f"- **{f.get('kind')}**: {f.get('message')} — {f.get('seconds')} s in all, longest run "
              f"{f.get('longest')} s from second {f.get('first_s')}." for f in gen.get("flags") or []]
    return lines + ["", "Flags: achieved < 90 % of the req/s target outside ramps, or worker CPU > 90 %, "
                        "for 5 s or more in a row."]


def _phases(run: Mapping[str, Any]) -> list[str]:
    phases = run.get("phases") or []
    if not phases:
        return []
    rows = [[p.get("name"), clock(p.get("start")), clock(p.get("end"))] for p in phases]
    return ["", "## Phases", "", *_table(["phase", "start", "end"], rows)]


def _event_details(e: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in e.items() if k not in ("ts", "type"))


def _events(events: Sequence[Mapping[str, Any]] | None) -> list[str]:
    if not events:
        return []
    rows = [[clock(e.get("ts")), f"`{e.get('type', '')}`", _event_details(e)] for e in events]
    return ["", "## Key events", "", *_table(["time", "event", "details"], rows)]


def _environment(run: Mapping[str, Any]) -> list[str]:
    """The app version the weekly review compares: the workloads' images, the cluster, who ran it."""
    env = run.get("environment") or {}
    if not env:
        return ["", "## Environment", "", "Not recorded (a run folder from before the environment was recorded)."]
    nodes = ", ".join(f"{v} ×{n}" for v, n in (env.get("node_versions") or {}).items()) or None
    lines = ["", "## Environment", "", *_table(
        ["cluster", "nodes", "harness", "run by", "seed"],
        [[env.get("cluster_version"), nodes, env.get("harness_version"),
          f"{env.get('user', '?')}@{env.get('host', '?')}", env.get("seed")]])]
    images = env.get("images") or {}
    if images:
        lines += ["", *_table(["workload", "image (app version)"], [[f"`{k}`", f"`{v}`"] for k, v in images.items()])]
    lines += [f"- could not read {e}" for e in env.get("errors") or []]
    return lines


_SECTIONS: Sequence[Callable[[Mapping[str, Any]], list[str]]] = (
    _header, _generator_warning, _still_injected, _verdict, _faults, _recovery, _budget, _load, _generator, _phases,
    _environment)


def render_summary(run: Mapping[str, Any], events: Sequence[Mapping[str, Any]] | None = None) -> str:
    """Markdown for ``summary.md`` from a run.json dict; ``events`` (optional) adds a key-events list."""
    lines: list[str] = []
    for section in _SECTIONS:
        lines += section(run)
        if section is _header:  # an overridden freeze window is said right under the verdict
            lines += [f"Freeze window **{e.get('window')}** (until {e.get('ends')}) overridden by {e.get('by')}: "
                      f"{e.get('reason')}." for e in events or () if e.get("type") == "freeze.overridden"]
    lines += _events(events)
    return "\n".join(lines).rstrip() + "\n"
