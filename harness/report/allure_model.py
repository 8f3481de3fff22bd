"""What an experiment's run looks like in Allure, from its run folder: steps, labels, environment.

Pure functions over the journal (``events.jsonl``) and the verdict (run.json's content); the pytest
plugin (``harness.pytest_plugin.allure_out``) hands them to allure-pytest. Steps are built after the
run, from the record, so each carries the real start and stop of what it stands for, and the times in
its title (UTC):

- one step per phase (steady-before, baseline, fault, recovery, steady-after); the phase an abort
  happened in is failed with the reason, a guard that fired is a failed child step;
- inside the phase it started in, one step per fault (injected → reverted, its targets), with its
  actions, errors and a failed revert as children;
- one step per SLO: passed, failed, broken (inconclusive or not judged) or skipped, with the measured
  value against the objective in its title and the detail as its message.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.events import Event

SEVERITIES = ("blocker", "critical", "normal", "minor", "trivial")
"""Allure's severities, worst first; an experiment tagged with one of them gets it (else ``normal``)."""

PASSED, FAILED, BROKEN, SKIPPED = "passed", "failed", "broken", "skipped"
_SLO_STATUS = {"pass": PASSED, "fail": FAILED, "inconclusive": BROKEN, "not_judged": BROKEN, "skipped": SKIPPED}


@dataclass(frozen=True)
class Step:
    """One Allure step: a title, real start and stop (epoch seconds), a status, and its children."""

    title: str
    start: float
    stop: float
    status: str = PASSED
    message: str = ""
    children: tuple[Step, ...] = field(default_factory=tuple)


def hms(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def epoch(iso: Any) -> float | None:
    """An ISO timestamp (run.json's ``started``/``ended``) as epoch seconds; None when missing."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def severity(tags: Iterable[str]) -> str:
    """The worst Allure severity among the tags, else ``normal``."""
    found = [SEVERITIES.index(t) for t in tags if t in SEVERITIES]
    return SEVERITIES[min(found)] if found else "normal"


def _end(events: Sequence[Mapping[str, Any]]) -> float:
    stop = [float(e["ts"]) for e in events if e.get("type") == Event.RUN_STOPPING]
    return stop[0] if stop else float(events[-1]["ts"])


def _fault_child(e: Mapping[str, Any]) -> Step:
    ts, kind = float(e["ts"]), e.get("type")
    if kind == Event.FAULT_ACTION:
        return Step(f"{hms(ts)} action {e.get('action', '')}", ts, ts)
    if kind == Event.FAULT_INJECTED:
        targets = ", ".join(str(t) for t in e.get("targets") or []) or "no targets"
        return Step(f"{hms(ts)} injected: {targets}", ts, ts)
    if kind == Event.FAULT_REVERTED:
        return Step(f"{hms(ts)} reverted", ts, ts)
    status = FAILED if kind == Event.FAULT_REVERT_FAILED else BROKEN
    verb = "revert failed" if kind == Event.FAULT_REVERT_FAILED else f"error during {e.get('step', '?')}"
    return Step(f"{hms(ts)} {verb}", ts, ts, status, str(e.get("error", "")))


_FAULT_STARTS = (Event.FAULT_UNDO, Event.FAULT_INJECTED, Event.FAULT_ERROR)
_FAULT_CHILDREN = (Event.FAULT_ACTION, Event.FAULT_INJECTED, Event.FAULT_REVERTED, Event.FAULT_ERROR,
                   Event.FAULT_REVERT_FAILED)


def fault_steps(events: Sequence[Mapping[str, Any]]) -> list[Step]:
    """One step per fault: from its first action (first undo record or injection) to its revert."""
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    for e in events:
        if e.get("id") and str(e.get("type", "")).startswith("fault."):
            by_id.setdefault(str(e["id"]), []).append(e)
    end = _end(events) if events else 0.0
    steps = []
    for fid, evs in by_id.items():
        start = min((float(e["ts"]) for e in evs if e.get("type") in _FAULT_STARTS), default=float(evs[0]["ts"]))
        ends = [float(e["ts"]) for e in evs if e.get("type") in (Event.FAULT_REVERTED, Event.FAULT_REVERT_FAILED)]
        stop = ends[0] if ends else end
        children = tuple(_fault_child(e) for e in evs if e.get("type") in _FAULT_CHILDREN)
        bad = [c for c in children if c.status != PASSED]
        status = bad[0].status if bad else (PASSED if ends else BROKEN)
        kind = next((e.get("kind") for e in evs if e.get("kind")), "?")
        targets = sorted({str(t) for e in evs for t in e.get("targets") or []})
        until = hms(stop) if ends else "never reverted"
        title = f"fault {fid} ({kind}) {hms(start)} → {until}: {len(targets)} target(s)"
        steps.append(Step(title, start, stop, status, bad[0].message if bad else "", children))
    return steps


def phase_steps(events: Sequence[Mapping[str, Any]]) -> list[Step]:
    """One step per phase, its faults and fired guards inside; an abort fails the phase it hit. A fault
    that started outside every phase is a step of its own, after them."""
    if not events:
        return []
    marks = [(str(e["phase"]), float(e["ts"])) for e in events if e.get("type") == Event.PHASE]
    ends = [ts for _, ts in marks[1:]] + [_end(events)]
    faults = fault_steps(events)
    aborted = next((e for e in events if e.get("type") == Event.RUN_ABORTED), None)
    steps = []
    for (name, t0), t1 in zip(marks, ends, strict=True):
        inside = [f for f in faults if t0 <= f.start < t1]
        faults = [f for f in faults if f not in inside]
        guards = [Step(f"{hms(float(e['ts']))} guard fired: {e.get('reason', '')}", float(e["ts"]), float(e["ts"]),
                       FAILED, str(e.get("reason", ""))) for e in events
                  if e.get("type") == Event.GUARD_FIRED and t0 <= float(e["ts"]) <= t1]
        status, message = PASSED, ""
        if aborted is not None and aborted.get("phase") == name:
            status, message = FAILED, f"{aborted.get('status', 'aborted')}: {aborted.get('reason', '')}"
        title = f"{name} {hms(t0)} → {hms(t1)} ({t1 - t0:.1f} s)"
        steps.append(Step(title, t0, t1, status, message, tuple(sorted(inside + guards, key=lambda s: s.start))))
    return steps + faults


def slo_steps(result: Mapping[str, Any]) -> list[Step]:
    """The SLO table, one step per SLO, stamped at the run's end."""
    at = epoch(result.get("ended")) or epoch(result.get("started")) or 0.0
    out = []
    for s in result.get("slos") or []:
        title = (f"SLO {s['name']}: {s.get('sli')} {s.get('objective')} ({s.get('window')} window) "
                 f"measured {s.get('display', 'n/a')}: {s.get('status')}")
        out.append(Step(title, at, at, _SLO_STATUS.get(str(s.get("status")), BROKEN), str(s.get("detail") or "")))
    return out


def timeline_charts(run_dir: Path) -> dict[str, bytes]:
    """The report's charts (traffic, latency, probe status) as SVG documents, drawn from the folder as
    report.html draws them; empty when the run recorded no timeline."""
    from harness.report.html import build_context  # matplotlib: only when charts are wanted

    charts = build_context(run_dir)["charts"]
    prefix = "data:image/svg+xml;base64,"
    return {name: base64.b64decode(uri[len(prefix):]) for name, uri in charts.items() if uri.startswith(prefix)}


def environment_facts(result: Mapping[str, Any]) -> dict[str, str]:
    """One run's facts for Allure's environment.properties: target, versions and workload images."""
    env = result.get("environment") or {}
    facts = {"target": str(result.get("target", "")), "harness_version": str(env.get("harness_version", "")),
             "cluster_version": str(env.get("cluster_version", ""))}
    kubelets = env.get("node_versions") or {}
    if kubelets:
        facts["kubelet_versions"] = ", ".join(sorted(kubelets))
    facts.update({f"image.{k}": str(v) for k, v in (env.get("images") or {}).items()})
    return {k: v for k, v in facts.items() if v}


def merge_facts(runs: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """Several runs' facts in one: a key with different values lists them all, sorted."""
    values: dict[str, set[str]] = {}
    for facts in runs:
        for k, v in facts.items():
            values.setdefault(k, set()).add(v)
    return {k: ", ".join(sorted(v)) for k, v in sorted(values.items())}


def _escape(text: str, key: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return "".join("\\" + c if key and c in " =:#!" else c for c in text)


def properties_text(facts: Mapping[str, str]) -> str:
    """``environment.properties`` (Java properties syntax, which Allure reads)."""
    return "".join(f"{_escape(k, True)}={_escape(v, False)}\n" for k, v in facts.items())
