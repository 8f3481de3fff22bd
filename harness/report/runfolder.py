"""The run folder: where a run's record lives, and how its verdict is rebuilt from that record.

``evaluate_folder`` reads only ``events.jsonl`` and ``timeline.jsonl`` (plus the experiment), so
`harness report RUN_DIR` re-renders exactly what the run itself wrote.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.events import Event, RunStatus
from harness.journal import pending_faults, read_journal
from harness.measure.breakdown import breakdown
from harness.measure.budget import error_budget
from harness.measure.generator import Flag, generator_summary, mark_inconclusive
from harness.measure.judge import Recovery, State, judge_all, measure
from harness.measure.slo import (
    SloInput,
    all_met,
    criteria_from,
    evaluate,
    first_actions,
    windows_from_events,
)
from harness.measure.timeline import read_timeline
from harness.report.summary import render_summary


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_run_dir(reports: Path, name: str, now: float) -> Path:
    """``reports/<UTC timestamp>-<name>/``, unique even for two runs in the same second."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    base = reports / f"{stamp}-{re.sub(r'[^a-z0-9-]', '-', name.lower())}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def slo_inputs(experiment: Any) -> list[SloInput]:
    """The spec's SLOs as the evaluator's plain inputs."""
    return [
        SloInput(
            name=s.name,
            sli=s.sli,
            op=s.objective.op,
            value=s.objective.value,
            window=s.window or "whole",
            consecutive=s.consecutive,
            objective_text=s.objective.text,
            min_samples=s.min_samples,
            inconclusive_passes=s.inconclusive == "pass",
        )
        for s in experiment.slos
    ]


def _faults(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    faults: dict[str, dict[str, Any]] = {}
    for ev in events:
        fid = ev.get("id")
        if not fid or not str(ev.get("type", "")).startswith("fault."):
            continue
        f = faults.setdefault(fid, {"id": fid, "kind": ev.get("kind"), "targets": [], "injected_at": None,
                                    "reverted_at": None, "error": None, "measurements": {}})
        kind = ev["type"]
        if kind == Event.FAULT_INJECTED:
            f["injected_at"] = f["injected_at"] or iso(ev["ts"])
            f["targets"] = sorted(set(f["targets"]) | set(ev.get("targets") or []))
        elif kind == Event.FAULT_REVERTED:
            f["reverted_at"] = iso(ev["ts"])
            f["targets"] = sorted(set(f["targets"]) | set(ev.get("targets") or []))
            f["measurements"].update(ev.get("measurements") or {})
        elif kind == Event.FAULT_MEASURED:
            f["measurements"].update(ev.get("measurements") or {})
        elif kind in (Event.FAULT_ERROR, Event.FAULT_REVERT_FAILED):
            f["error"] = ev.get("error")
    return list(faults.values())


def reference_points(events: list[dict[str, Any]]) -> dict[str, float]:
    """Each reverted fault's recovery reference point: its revert, or, for a fault whose revert is a
    no-op (``fault.reverted`` with ``restores: false``, e.g. pod-kill), its last disruptive action."""
    last_action: dict[str, float] = {}
    refs: dict[str, float] = {}
    for e in events:
        fid, kind = e.get("id"), e.get("type")
        if not fid:
            continue
        if kind in (Event.FAULT_UNDO, Event.FAULT_ACTION, Event.FAULT_INJECTED):
            last_action[fid] = max(last_action.get(fid, 0.0), float(e["ts"]))
        elif kind == Event.FAULT_REVERTED and fid not in refs:
            restores = e.get("restores", True)
            refs[fid] = float(e["ts"]) if restores or fid not in last_action else last_action[fid]
    return refs


DIED = "the run's process died (no run.stopping in the journal)"

# an abort or interrupt in this phase cuts these windows short
_CUT_BY_PHASE = {
    "": ("baseline", "fault", "recovery", "whole"),
    "steady-before": ("baseline", "fault", "recovery", "whole"),
    "baseline": ("baseline", "fault", "recovery", "whole"),
    "fault": ("fault", "recovery", "whole"),
    "recovery": ("recovery", "whole"),
    "steady-after": (),
}


def cut_short(events: list[dict[str, Any]]) -> tuple[tuple[str, ...], str]:
    """Windows an abort or interrupt cut short, and why (from the ``run.aborted`` event)."""
    ev = next((e for e in events if e.get("type") == Event.RUN_ABORTED), None)
    if ev is None and events and not any(e.get("type") == Event.RUN_STOPPING for e in events):
        phases = [e for e in events if e.get("type") == Event.PHASE]
        ev = {"reason": DIED, "phase": phases[-1]["phase"] if phases else ""}
    if ev is None:
        return (), ""
    phase = str(ev.get("phase") or "")
    return _CUT_BY_PHASE.get(phase, _CUT_BY_PHASE[""]), f"{ev.get('reason', 'aborted')} during {phase or 'start-up'}"


@dataclass(frozen=True)
class Measurement:
    """Everything measured from a folder: windows, per-second judgements, recoveries, SLO results."""

    windows: Any
    results: list[Any]
    recovery: Recovery | None
    per_fault: dict[str, Recovery]
    generator: dict[str, Any]
    """Offered vs achieved load, worker CPU and lost workers (``harness.measure.generator``)."""


def measure_folder(run_dir: Path, experiment: Any, events: list[dict[str, Any]], started: float,
                   ended: float) -> Measurement:
    """The one place a run's numbers are computed, live at the end of a run and by `harness report`."""
    windows = windows_from_events(started, ended, events)
    timeline = run_dir / "timeline.jsonl"
    slos = slo_inputs(experiment)
    rec = [s for s in slos if s.sli == "recovery_time"]
    consecutive = rec[0].consecutive if rec else 3
    criteria = criteria_from(slos)
    states: list[tuple[int, State]] = judge_all(read_timeline(timeline), criteria) if timeline.exists() else []
    actions, refs = first_actions(events), reference_points(events)
    per_fault = {fid: measure(states, actions[fid], ref, consecutive) for fid, ref in refs.items() if fid in actions}
    recovery = None
    if criteria and actions and refs and windows.recovery is not None:
        recovery = measure(states, min(actions.values()), max(refs.values()), consecutive)
    cut, why = cut_short(events)
    results = evaluate(timeline, slos, windows, recovery, cut, why) if timeline.exists() else []
    generator = generator_summary(read_timeline(timeline), events) if timeline.exists() else {}
    results = mark_inconclusive(results, [Flag(**f) for f in generator.get("flags", [])])
    return Measurement(windows, results, recovery, per_fault, generator)


def _recovery_json(r: Recovery | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"detection_seconds": r.detection, "recovery_seconds": r.seconds, "degraded": r.degraded,
            "inconclusive": r.inconclusive, "degraded_seconds": r.degraded_seconds, "reason": r.reason,
            "first_degraded": r.first_degraded, "recovered_at": r.recovered_at}


def evaluate_folder(run_dir: Path, experiment: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build run.json's content from the folder's journal and timeline."""
    extra = dict(extra or {})
    events = read_journal(run_dir / "events.jsonl")
    started_ev = next((e for e in events if e["type"] == Event.RUN_STARTED), events[0] if events else {"ts": 0.0})
    started = float(started_ev["ts"])
    ended = next((e["ts"] for e in reversed(events) if e["type"] == Event.RUN_STOPPING), events[-1]["ts"] if events else started)
    m = measure_folder(run_dir, experiment, events, started, ended)
    timeline = run_dir / "timeline.jsonl"
    still = [p.describe() for p in pending_faults(events)]
    faults = _faults(events)
    for f in faults:
        r = m.per_fault.get(f["id"])
        if r is not None:
            f["measurements"].update({"detection_seconds": r.detection, "sli_recovery_seconds": r.seconds,
                                      "recovery_note": r.reason})
        f["targets_hit"] = len(f["targets"])
    died = bool(events) and not any(e.get("type") == Event.RUN_STOPPING for e in events)
    if died and "status" not in extra:
        extra.update(status=RunStatus.INTERRUPTED, aborted_by=DIED)
    status = RunStatus(extra.pop("status", None) or _status(m.results, still))
    run = {
        "name": experiment.name,
        "title": experiment.title,
        "owner": experiment.owner,
        "tags": list(experiment.tags),
        "target": started_ev.get("target", experiment.target),
        "status": status,
        "exit_code": status.exit_code,
        "started": iso(started),
        "ended": iso(ended),
        "run_dir": str(run_dir),
        "windows": m.windows.to_json(),
        "slos": [r.to_json() for r in m.results],
        "faults": faults,
        "detection_seconds": m.recovery.detection if m.recovery else None,
        "recovery_seconds": m.recovery.seconds if m.recovery else None,
        "recovery": _recovery_json(m.recovery),
        "error_budget": error_budget(timeline, experiment.sla) if timeline.exists() else {},
        "aborted_by": None,
        "still_injected": still,
        "phases": _phases(events, ended),
        "environment": started_ev.get("environment", {}),
        "breakdown": breakdown(read_timeline(timeline)) if timeline.exists() else {},
        "generator": m.generator,
    }
    run.update(extra)
    if still and run["status"] != RunStatus.REVERT_FAILED:
        run["status"], run["exit_code"] = RunStatus.REVERT_FAILED, RunStatus.REVERT_FAILED.exit_code
    return run


def _phases(events: list[dict[str, Any]], ended: float) -> list[dict[str, Any]]:
    marks = [(e["phase"], e["ts"]) for e in events if e["type"] == Event.PHASE]
    ends = [ts for _, ts in marks[1:]] + [ended]
    return [{"name": n, "start": iso(t0), "end": iso(t1)} for (n, t0), t1 in zip(marks, ends, strict=True)]


def _status(results: list[Any], still: list[str]) -> RunStatus:
    if still:
        return RunStatus.REVERT_FAILED
    return RunStatus.PASSED if all_met(results) else RunStatus.FAILED


KEY_EVENTS = (Event.FAULT_INJECTED, Event.FAULT_ACTION, Event.FAULT_REVERTED, Event.FAULT_REVERT_FAILED, Event.FAULT_ERROR,
              Event.GUARD_FIRED, Event.PROBE_CHANGED, Event.STEADY_STATE_FAILED, Event.LOAD_ERROR, Event.RUN_ABORTED,
              Event.FREEZE_OVERRIDDEN, Event.LOAD_WORKER_LOST, Event.LOAD_WORKER_JOINED)
_BULKY = ("connection", "plan", "undo", "measurements", "values", "pids")


def key_events(run_dir: Path, limit: int = 60) -> list[dict[str, Any]]:
    """The journal events a reader of summary.md wants to see, trimmed of bulky fields."""
    events = [e for e in read_journal(run_dir / "events.jsonl") if e.get("type") in KEY_EVENTS]
    return [{k: v for k, v in e.items() if k not in _BULKY} for e in events[:limit]]


def write_outputs(run_dir: Path, run: dict[str, Any], redact: Any = None, summary: bool = True) -> None:
    """run.json and (unless ``summary`` is False) summary.md and report.html, redacted; run.json is
    replaced atomically. A report.html that cannot be rendered leaves report-error.txt, never fails."""
    red = redact or (lambda s: s)
    tmp = run_dir / "run.json.tmp"
    tmp.write_text(red(json.dumps(run, indent=2, default=str)) + "\n")
    tmp.replace(run_dir / "run.json")
    if summary:
        (run_dir / "summary.md").write_text(red(render_summary(run, key_events(run_dir))))
        from harness.report.html import write_report_html  # it imports this module (and matplotlib)

        write_report_html(run_dir, red)
