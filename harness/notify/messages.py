"""What a run tells Slack, as plain values: pure functions of the experiment and the verdict.

``harness.clients.slack`` renders a ``SlackMessage`` as Block Kit; nothing here sends anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.clients.slack import SlackMessage
from harness.events import RunStatus
from harness.spec.models import Experiment

ICONS = {RunStatus.PASSED: "✅", RunStatus.FAILED: "❌", RunStatus.ABORTED: "🛑", RunStatus.INTERRUPTED: "🛑",
         RunStatus.REFUSED: "⛔", RunStatus.ERROR: "💥", RunStatus.REVERT_FAILED: "🚨"}


def _icon(status: str, default: str) -> str:
    try:
        return ICONS.get(RunStatus(status), default)
    except ValueError:
        return default


def clock(ts: float) -> str:
    """``2026-12-07 13:05:09 UTC``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def report_link(run_dir: Path | str, report_url: str | None = None) -> str:
    """The run's report.html: under ``report_url`` when run folders are published there, else its
    absolute path on the machine that ran it."""
    run_dir = Path(run_dir)
    if report_url:
        return f"{report_url.rstrip('/')}/{run_dir.name}/report.html"
    return str(run_dir.absolute() / "report.html")


def _link(link: str) -> str:
    return f"<{link}|report.html>" if link.startswith(("http://", "https://")) else f"`{link}`"


def started_message(exp: Experiment, target: str, started: float, link: str) -> SlackMessage:
    """A run begins: what (experiment, faults), where (target), who (owner), until when."""
    planned = exp.timeline.planned_seconds()
    faults = ", ".join(f"{fid} ({step.kind})" for fid, step in zip(exp.timeline.fault_ids(), exp.timeline.faults,
                                                                       strict=True)) or "none"
    return SlackMessage(
        header=f"🧪 Chaos run started: {exp.title}",
        text=f"Chaos run {exp.name} started on {target}; planned end {clock(started + planned)}",
        fields=[("Experiment", f"`{exp.name}`"), ("Target", target), ("Owner", exp.owner or "—"),
                ("Started", clock(started)),
                ("Planned end", f"{clock(started + planned)} (~{planned:.0f} s, hard limit {exp.safety.max_duration:.0f} s)"),
                ("Faults", faults)],
        sections=[exp.description] if exp.description else [],
        context=[f"Report (when done): {_link(link)}"] + ([f"tags: {', '.join(exp.tags)}"] if exp.tags else []),
    )


def _still(still_injected: Sequence[str]) -> str:
    if not still_injected:
        return "Nothing is injected any more."
    return "*Still injected* (a human must act if the harness cannot revert it):\n" + "\n".join(
        f"• `{s}`" for s in still_injected)


def aborted_message(exp: Experiment, target: str, reason: str, status: str, still_injected: Sequence[str],
                    link: str) -> SlackMessage:
    """The run stops early (guard, signal, refusal, error): why, and what is injected right now."""
    icon = _icon(status, "🛑")
    return SlackMessage(
        header=f"{icon} Chaos run {status}: {exp.title}",
        text=f"Chaos run {exp.name} on {target} {status}: {reason}",
        fields=[("Experiment", f"`{exp.name}`"), ("Target", target), ("Owner", exp.owner or "—"), ("Status", status)],
        sections=[f"*Why*: {reason}", _still(still_injected)],
        context=[f"Reverting every fault now; report: {_link(link)}"],
    )


def revert_failed_message(exp: Experiment, target: str, failure: str, still_injected: Sequence[str],
                          link: str) -> SlackMessage:
    """A revert failed: which, and everything still injected (the harness keeps trying at cleanup)."""
    return SlackMessage(
        header=f"🚨 Revert failed: {exp.title}",
        text=f"Chaos run {exp.name} on {target}: a revert failed: {failure}",
        fields=[("Experiment", f"`{exp.name}`"), ("Target", target), ("Owner", exp.owner or "—")],
        sections=[f"*Revert failed*: `{failure}`", _still(still_injected)],
        context=[f"`harness rollback {Path(link).parent}` reverts what the journal still shows; report: {_link(link)}"],
    )


def verdict_table(slos: Sequence[Mapping[str, Any]]) -> str:
    """The SLOs as a monospace table: name, objective, measured, result."""
    rows = [("SLO", "objective", "measured", "result")]
    rows += [(str(s.get("name", "")), str(s.get("objective", "")), str(s.get("display") or s.get("measured") or "—"),
              str(s.get("status", ""))) for s in slos]
    widths = [min(28, max(len(r[i]) for r in rows)) for i in range(4)]
    lines = ["  ".join(cell[:w].ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "```\n" + "\n".join(lines) + "\n```"


def _seconds(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1f} s"


def ended_message(run: Mapping[str, Any], link: str) -> SlackMessage:
    """The verdict: status, SLO table, detection and recovery, faults, link to the report."""
    status = str(run.get("status", ""))
    icon = _icon(status, "ℹ️")
    title = run.get("title") or run.get("name", "")
    faults = ", ".join(f"{f.get('id')} ({f.get('kind')})" for f in run.get("faults") or []) or "none"
    sections = [verdict_table(run.get("slos") or [])] if run.get("slos") else []
    if run.get("aborted_by"):
        sections.append(f"*Stopped early*: {run['aborted_by']}")
    if run.get("still_injected") or run.get("revert_failures"):
        sections.append(_still(list(run.get("still_injected") or run.get("revert_failures") or [])))
    return SlackMessage(
        header=f"{icon} Chaos run {status}: {title}",
        text=f"Chaos run {run.get('name')} on {run.get('target')}: {status} (exit {run.get('exit_code')})",
        fields=[("Experiment", f"`{run.get('name')}`"), ("Target", str(run.get("target"))),
                ("Status", f"{status} (exit {run.get('exit_code')})"), ("Owner", str(run.get("owner") or "—")),
                ("Detection", _seconds(run.get("detection_seconds"))), ("Recovery", _seconds(run.get("recovery_seconds"))),
                ("Faults", faults), ("Ran", f"{run.get('started', '')} → {run.get('ended', '')}")],
        sections=sections,
        context=[f"Report: {_link(link)}"],
    )
