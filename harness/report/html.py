"""``report.html``: one self-contained page per run for the weekly review, rendered from the folder.

``render_html(run_dir)`` reads ``run.json`` (verdicts, error budget, fault measurements, recovery),
``events.jsonl`` (the plan, phases, faults, guards, aborts, reverts), ``timeline.jsonl`` (streamed
once, for the charts and the per-step table) and ``experiment.yaml``, and writes ``report.html``: no
script, no stylesheet, font or image from anywhere else (charts are SVG data URIs), so it works
offline and as a wiki attachment. It computes nothing a second way: verdicts, budget and recovery are
run.json's, and every per-window or per-bin number comes from ``harness.measure`` (accumulators
over merged histograms, the SLO windows, the per-second judgements).

``write_report_html`` is what a run calls: it never raises; a failure is written to
``report-error.txt`` and the run goes on.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from harness.events import Event
from harness.journal import read_journal
from harness.measure.judge import Criterion
from harness.measure.sli import Kind, display, parse_sli
from harness.measure.slo import (
    SloInput,
    criteria_from,
    first_actions,
)
from harness.measure.timeline import read_timeline
from harness.report.charts import (
    FaultSpan,
    Mark,
    Overlays,
    Threshold,
    draw_charts,
)
from harness.report.readable import STATUS, clock, measurement_rows, readable
from harness.report.regress import Rules, latency_finding
from harness.report.runfolder import key_events, reference_points
from harness.report.series import ALL_REQUESTS, Axis, SeriesBuilder
from harness.spec.fieldtypes import parse_objective

REPORT = "report.html"
ERROR_FILE = "report-error.txt"
RAW_FILES = ("run.json", "summary.md", "events.jsonl", "timeline.jsonl", "experiment.yaml", "junit.xml",
             "error.txt", ERROR_FILE)
MAX_ACTION_MARKS = 200

_env = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"),
                          autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                          trim_blocks=True, lstrip_blocks=True)


@dataclass
class Folder:
    """A run folder's record, read once."""

    path: Path
    run: dict[str, Any]
    events: list[dict[str, Any]]
    timeline: Path
    started: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, run_dir: Path) -> Folder:
        run = _json(run_dir / "run.json")
        journal = run_dir / "events.jsonl"
        events = read_journal(journal) if journal.exists() else []
        started = next((e for e in events if e.get("type") == Event.RUN_STARTED), {})
        return cls(run_dir, run, events, run_dir / "timeline.jsonl", started)

    @property
    def has_timeline(self) -> bool:
        return self.timeline.exists() and self.timeline.stat().st_size > 0


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _last_second(path: Path) -> int | None:
    """The ``t`` of a timeline's last line, read from the end of the file."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 65536))
        lines = [x for x in fh.read().splitlines() if x.strip()]
    for line in reversed(lines):
        try:
            return int(json.loads(line)["t"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


def _bounds(f: Folder) -> tuple[float, float] | None:
    """The time axis: from the run's start to its end (or the timeline's last second, if later)."""
    whole = (f.run.get("windows") or {}).get("whole")
    starts = [float(f.started["ts"])] if f.started else []
    ends = [float(whole[1])] if whole else []
    ends += [float(f.events[-1]["ts"])] if f.events else []
    if f.has_timeline:
        with open(f.timeline, encoding="utf-8") as fh:
            first = next((json.loads(x) for x in fh if x.strip()), None)
        last = _last_second(f.timeline)
        starts += [float(first["t"])] if first else []
        ends += [float(last + 1)] if last is not None else []
    starts += [float(whole[0])] if whole else []
    if not starts:
        return None
    return starts[0], max([starts[0] + 1, *ends])


@dataclass(frozen=True)
class ParsedSlo:
    """An SLO of run.json with its objective parsed (the spec's own parser)."""

    name: str
    sli: str
    op: str
    value: float
    objective: str


def _slos(run: Mapping[str, Any]) -> list[ParsedSlo]:
    out = []
    for s in run.get("slos") or []:
        try:
            obj = parse_objective(str(s.get("objective")))
            parse_sli(str(s.get("sli")))
        except ValueError:
            continue
        out.append(ParsedSlo(str(s["name"]), str(s["sli"]), obj.op, obj.value, obj.text))
    return out


def _criteria(slos: Sequence[ParsedSlo]) -> list[Criterion]:
    return criteria_from([SloInput(s.name, s.sli, s.op, s.value) for s in slos if s.sli != "recovery_time"])


def step_rows(breakdown: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """run.json's ``breakdown`` (one computation, by ``harness.measure.breakdown``) as table rows: per
    source (all requests, each journey step, each probe) and phase, with the change against baseline."""
    rows = []
    for source, phases in breakdown.items():
        base = phases.get("baseline")
        cells = []
        after_baseline = False
        for phase, m in phases.items():
            change = _change(m, base) if after_baseline and base is not None else ""
            after_baseline = after_baseline or phase == "baseline"
            seconds = float(m.get("seconds") or 0)
            cells.append({
                "window": phase, "span": f"{seconds:.0f} s", "requests": int(m.get("requests") or 0),
                "failures": int(m.get("failures") or 0),
                "rps": display(m["requests"] / seconds, Kind.RATE) if seconds and "requests" in m else "–",
                "error_ratio": display(m.get("error_ratio"), Kind.RATIO),
                "p50": display(m.get("p50"), Kind.LATENCY), "p95": display(m.get("p95"), Kind.LATENCY),
                "change": change[0] if change else "", "worse": bool(change and change[1])})
        rows.append({"source": ALL_REQUESTS if source == "load" else source, "windows": cells})
    return rows


DEFAULT_RULES = Rules()


def _change(now: Mapping[str, Any], base: Mapping[str, Any], rules: Rules = DEFAULT_RULES) -> tuple[str, bool]:
    """``errors +12.3 pp · p95 +210 ms (×4.2)`` against the baseline, and whether it got worse by the
    regression rules (harness.report.regress: errors up more than 1 point; p95 1.5× and +100 ms)."""
    parts, worse = [], False
    e0, e1 = base.get("error_ratio"), now.get("error_ratio")
    if e0 is not None and e1 is not None:
        parts.append(f"errors {(e1 - e0) * 100:+.1f} pp")
        worse = worse or e1 - e0 > rules.ratio_points
    p0, p1 = base.get("p95"), now.get("p95")
    if p0 is not None and p1 is not None and p0 > 0:
        parts.append(f"p95 {(p1 - p0) * 1000:+.0f} ms (×{p1 / p0:.1f})")
        worse = worse or latency_finding("p95", p0, p1, rules) is not None
    return " · ".join(parts), worse


def _overlays(f: Folder, axis: Axis, slos: Sequence[ParsedSlo]) -> Overlays:
    ov = Overlays(phases=[(str(e.get("phase", "")), axis.x(float(e["ts"])))
                          for e in f.events if e.get("type") == Event.PHASE])
    actions = first_actions(f.events)
    reverts = {str(e["id"]): float(e["ts"]) for e in f.events if e.get("type") == Event.FAULT_REVERTED and e.get("id")}
    kinds = {str(e["id"]): str(e.get("kind", "")) for e in f.events if e.get("id")}
    for fid, t0 in actions.items():
        end = reverts.get(fid)
        ov.faults.append(FaultSpan(axis.x(t0), axis.x(end) if end else axis.length, f"{fid} · {kinds.get(fid, '')}",
                                   end is not None))
    ov.marks += _event_marks(f.events, axis)
    ov.marks += _recovery_marks(f, axis, actions)
    for s in slos:
        ref = parse_sli(s.sli)
        if ref.kind is Kind.LATENCY and ref.source in ("load", "step"):
            ov.thresholds.append(Threshold(ref.name or ALL_REQUESTS, s.value * 1000, f"{s.name}: {ref.metric} {s.objective}"))
        elif ref.source == "load" and ref.metric in ("error_ratio", "success_ratio"):
            ratio = s.value if ref.metric == "error_ratio" else 1 - s.value
            ov.error_thresholds.append((ratio, f"{s.name}: {s.sli} {s.objective}"))
    return ov


_EVENT_MARKS: Mapping[str, str] = {
    Event.FAULT_ACTION: "action", Event.FAULT_REVERTED: "revert", Event.GUARD_FIRED: "guard",
    Event.RUN_ABORTED: "abort", Event.FAULT_ERROR: "error", Event.FAULT_REVERT_FAILED: "error"}


def _event_marks(events: Iterable[Mapping[str, Any]], axis: Axis) -> list[Mark]:
    marks: list[Mark] = []
    actions = 0
    for e in events:
        kind = _EVENT_MARKS.get(str(e.get("type")))
        if kind is None or (kind == "action" and (actions := actions + 1) > MAX_ACTION_MARKS):
            continue
        label = {"guard": f"guard: {e.get('guard', '')}", "abort": "aborted"}.get(kind, "")
        marks.append(Mark(axis.x(float(e["ts"])), kind, label))
    return marks


def _recovery_marks(f: Folder, axis: Axis, actions: Mapping[str, float]) -> list[Mark]:
    """Detection and recovery points of each fault (run.json's per-fault measurements)."""
    refs = reference_points(f.events)
    faults = f.run.get("faults") or []
    marks = []
    for fault in faults:
        fid, m = str(fault.get("id")), fault.get("measurements") or {}
        det, rec = m.get("detection_seconds"), m.get("sli_recovery_seconds")
        who = f" ({fid})" if len(faults) > 1 else ""
        if det is not None and fid in actions:
            marks.append(Mark(axis.x(actions[fid] + float(det)), "detected", f"detected +{float(det):.1f} s{who}"))
            if rec is not None and fid in refs:
                marks.append(Mark(axis.x(refs[fid] + float(rec)), "recovered", f"recovered +{float(rec):.1f} s{who}"))
    return marks


ENV_KEYS = (("harness_version", "harness version"), ("user", "run by"), ("host", "host"), ("seed", "seed"),
            ("cluster_version", "cluster version"), ("node_versions", "node versions"))


def _environment(f: Folder) -> dict[str, Any]:
    env = f.run.get("environment") or f.started.get("environment") or {}
    conn = f.started.get("connection") or {}
    rows = [("target", str(f.run.get("target") or f.started.get("target") or "not recorded"))]
    rows += [(label, str(conn[k])) for k, label in (("kind", "connection"), ("project", "project"),
                                                    ("region", "region")) if conn.get(k)]
    if conn.get("zones"):
        rows.append(("zones", ", ".join(map(str, conn["zones"]))))
    for key, label in ENV_KEYS:
        value = env.get(key)
        if isinstance(value, Mapping):
            value = ", ".join(f"{k} ×{n}" for k, n in value.items())
        rows.append((label, "not recorded" if value in (None, "", {}) else str(value)))
    known = {k for k, _ in ENV_KEYS} | {"images", "errors"}
    rows += [(k.replace("_", " "), str(v)) for k, v in env.items() if k not in known]
    images = sorted((env.get("images") or {}).items())
    return {"rows": rows, "images": images, "recorded": bool(env), "errors": list(env.get("errors") or [])}


def _links(run_dir: Path) -> list[str]:
    names = [n for n in RAW_FILES if (run_dir / n).exists()]
    return names + sorted(p.name for p in run_dir.glob("locust*.log"))


def _key_events(f: Folder, axis: Axis | None) -> list[dict[str, str]]:
    if not (f.path / "events.jsonl").exists():
        return []
    out = []
    for e in key_events(f.path, limit=200):
        rel = f"+{axis.x(float(e['ts'])):.1f} s" if axis else ""
        details = ", ".join(f"{k}={readable(k, v)}" for k, v in e.items() if k not in ("ts", "type"))
        out.append({"at": rel, "clock": clock(e.get("ts")), "type": str(e.get("type")), "details": details})
    return out


def _status(run: Mapping[str, Any]) -> dict[str, str]:
    status = str(run.get("status") or "unknown")
    label, meaning = STATUS.get(status, (status.upper(), "the run has not written a verdict"))
    return {"key": status, "label": label, "meaning": meaning}


def build_context(run_dir: Path) -> dict[str, Any]:
    """Everything the template shows, from the folder alone."""
    f = Folder.read(run_dir)
    slos = _slos(f.run)
    bounds = _bounds(f)
    axis = Axis.for_run(*bounds) if bounds else None
    charts: dict[str, str] = {}
    seconds = 0
    if axis is not None and f.has_timeline:
        builder = SeriesBuilder(axis, _criteria(slos), _extra_percentiles(slos))
        for second in read_timeline(f.timeline):
            builder.feed(second)
        series = builder.finish()
        seconds = series.seconds
        charts = draw_charts(series, axis, _overlays(f, axis, slos))
    exp = f.path / "experiment.yaml"
    return {
        "run": f.run, "status": _status(f.run), "name": f.run.get("name") or f.started.get("name") or run_dir.name,
        "title": f.run.get("title") or f.run.get("name") or run_dir.name, "folder": run_dir.name,
        "started": clock(f.run.get("started") or (f.started or {}).get("ts")), "ended": clock(f.run.get("ended")),
        "duration": f"{axis.length:.0f} s" if axis else "–", "bin": axis.bin if axis else 1,
        "timeline_state": _timeline_state(f, seconds), "charts": charts,
        "steps": step_rows(f.run.get("breakdown") or {}),
        "slos": f.run.get("slos") or [], "faults": _faults(f.run), "plan": f.started.get("plan") or [],
        "recovery": f.run.get("recovery"), "budget": f.run.get("error_budget") or {},
        "environment": _environment(f), "events": _key_events(f, axis), "links": _links(run_dir),
        "experiment": exp.read_text(encoding="utf-8") if exp.exists() else "",
    }


def _extra_percentiles(slos: Sequence[ParsedSlo]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in slos:
        ref = parse_sli(s.sli)
        if ref.kind is Kind.LATENCY and ref.source in ("load", "step") and ref.metric not in ("p50", "p95"):
            out.setdefault(ref.name, []).append(ref.metric)
    return out


def _timeline_state(f: Folder, seconds: int) -> str:
    if not f.timeline.exists():
        return "timeline.jsonl is missing: the run ended before it recorded anything, so there is nothing to chart."
    if seconds == 0:
        return "timeline.jsonl is empty: the run ended before its first second was recorded, so there is nothing to chart."
    return ""


def _faults(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"id": f.get("id"), "kind": f.get("kind"), "targets": f.get("targets") or [],
             "injected": clock(f.get("injected_at")), "reverted": clock(f.get("reverted_at")) if f.get("reverted_at") else None,
             "error": f.get("error"), "measurements": measurement_rows(f.get("measurements") or {})}
            for f in run.get("faults") or []]


def render_html(run_dir: Path, redact: Callable[[str], str] | None = None) -> Path:
    """Write ``run_dir/report.html`` from the folder's record and return its path."""
    run_dir = Path(run_dir)
    html = _env.get_template("report.html.j2").render(**build_context(run_dir))
    out = run_dir / REPORT
    tmp = run_dir / (REPORT + ".tmp")
    tmp.write_text((redact or (lambda s: s))(html), encoding="utf-8")
    tmp.replace(out)
    return out


def write_report_html(run_dir: Path, redact: Callable[[str], str] | None = None) -> Path | None:
    """``render_html`` for a run's end: a failure never fails the run; it goes to report-error.txt."""
    try:
        path = render_html(run_dir, redact)
    except Exception:  # noqa: BLE001 - the report is a by-product; the run's verdict stands without it
        (Path(run_dir) / ERROR_FILE).write_text("report.html could not be rendered:\n\n" + traceback.format_exc())
        return None
    (Path(run_dir) / ERROR_FILE).unlink(missing_ok=True)
    return path
