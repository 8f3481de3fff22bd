"""The run folder: where a run's record lives, and how its verdict is rebuilt from that record.

``evaluate_folder`` reads only ``events.jsonl`` and ``timeline.jsonl`` (plus the experiment), so
`harness report RUN_DIR` re-renders exactly what the run itself wrote.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.budget import error_budget
from harness.journal import pending_faults, read_journal
from harness.report.summary import render_summary
from harness.slo import (
    SloInput,
    criteria_from,
    evaluate,
    measure_recovery,
    recovery_time,
    windows_from_events,
)

EXIT_CODES = {"passed": 0, "failed": 1, "refused": 2, "invalid": 2, "aborted": 3, "revert_failed": 4, "error": 4}


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
        if kind == "fault.injected":
            f["injected_at"] = f["injected_at"] or iso(ev["ts"])
            f["targets"] = sorted(set(f["targets"]) | set(ev.get("targets") or []))
        elif kind == "fault.reverted":
            f["reverted_at"] = iso(ev["ts"])
            f["targets"] = sorted(set(f["targets"]) | set(ev.get("targets") or []))
            f["measurements"].update(ev.get("measurements") or {})
        elif kind == "fault.measured":
            f["measurements"].update(ev.get("measurements") or {})
        elif kind in ("fault.error", "fault.revert_failed"):
            f["error"] = ev.get("error")
    return list(faults.values())


def _per_fault_recovery(faults: list[dict[str, Any]], events: list[dict[str, Any]], timeline: Path,
                        slos: list[SloInput], consecutive: int) -> None:
    """Each reverted fault's own SLI recovery: seconds from its revert until every per-second
    objective held for ``consecutive`` seconds (measurements.sli_recovery_seconds)."""
    criteria = criteria_from(slos)
    if not criteria or not timeline.exists():
        return
    reverted = {e["id"]: e["ts"] for e in events if e.get("type") == "fault.reverted" and e.get("id")}
    injected = {e["id"]: e["ts"] for e in reversed(events) if e.get("type") == "fault.injected" and e.get("id")}
    for f in faults:
        if f["id"] in reverted:
            f["measurements"]["sli_recovery_seconds"] = recovery_time(
                timeline, reverted[f["id"]], criteria, consecutive, since=injected.get(f["id"]))


def _recovery(timeline: Path, slos: list[SloInput], windows: Any) -> float | None:
    rec = [s for s in slos if s.sli == "recovery_time"]
    return measure_recovery(timeline, slos, windows, rec[0].consecutive if rec else 3)


def evaluate_folder(run_dir: Path, experiment: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build run.json's content from the folder's journal and timeline."""
    extra = dict(extra or {})
    events = read_journal(run_dir / "events.jsonl")
    started = next((e["ts"] for e in events if e["type"] == "run.started"), events[0]["ts"] if events else 0.0)
    ended = next((e["ts"] for e in reversed(events) if e["type"] == "run.stopping"), events[-1]["ts"])
    windows = windows_from_events(started, ended, events)
    timeline = run_dir / "timeline.jsonl"
    slos = slo_inputs(experiment)
    recovery = _recovery(timeline, slos, windows) if timeline.exists() else None
    results = evaluate(timeline, slos, windows) if timeline.exists() else []
    still = [p.describe() for p in pending_faults(events)]
    faults = _faults(events)
    rec = [s for s in slos if s.sli == "recovery_time"]
    _per_fault_recovery(faults, events, timeline, slos, rec[0].consecutive if rec else 3)
    status = extra.pop("status", None) or _status(results, still)
    run = {
        "name": experiment.name,
        "title": experiment.title,
        "owner": experiment.owner,
        "target": experiment.target,
        "status": status,
        "exit_code": EXIT_CODES.get(status, 4),
        "started": iso(started),
        "ended": iso(ended),
        "run_dir": str(run_dir),
        "windows": windows.to_json(),
        "slos": [r.to_json() for r in results],
        "faults": faults,
        "recovery_seconds": recovery,
        "error_budget": error_budget(timeline, experiment.sla) if timeline.exists() else {},
        "aborted_by": None,
        "still_injected": still,
        "phases": _phases(events, ended),
    }
    run.update(extra)
    if still and run["status"] not in ("revert_failed",):
        run["status"], run["exit_code"] = "revert_failed", 4
    return run


def _phases(events: list[dict[str, Any]], ended: float) -> list[dict[str, Any]]:
    marks = [(e["phase"], e["ts"]) for e in events if e["type"] == "phase"]
    ends = [ts for _, ts in marks[1:]] + [ended]
    return [{"name": n, "start": iso(t0), "end": iso(t1)} for (n, t0), t1 in zip(marks, ends, strict=True)]


def _status(results: list[Any], still: list[str]) -> str:
    if still:
        return "revert_failed"
    return "passed" if all(r.ok for r in results) else "failed"


KEY_EVENTS = ("fault.injected", "fault.action", "fault.reverted", "fault.revert_failed", "fault.error",
              "guard.fired", "probe.changed", "steady_state.failed", "load.error")
_BULKY = ("connection", "plan", "undo", "measurements", "values", "pids")


def key_events(run_dir: Path, limit: int = 60) -> list[dict[str, Any]]:
    """The journal events a reader of summary.md wants to see, trimmed of bulky fields."""
    events = [e for e in read_journal(run_dir / "events.jsonl") if e.get("type") in KEY_EVENTS]
    return [{k: v for k, v in e.items() if k not in _BULKY} for e in events[:limit]]


def write_outputs(run_dir: Path, run: dict[str, Any], redact: Any = None) -> None:
    """run.json and summary.md (redacted)."""
    red = redact or (lambda s: s)
    (run_dir / "run.json").write_text(red(json.dumps(run, indent=2, default=str)) + "\n")
    (run_dir / "summary.md").write_text(red(render_summary(run, key_events(run_dir))))
