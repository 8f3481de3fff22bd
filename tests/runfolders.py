"""Hand-built run folders (run.json and events.jsonl as a run writes them) for history and digest tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_run(reports: Path, name: str, *, days_ago: float = 1.0, status: str = "passed", recovery: float | None = 4.0,
             tags: list[str] | None = None, image: str = "shop/checkout:1.0", p95: float = 0.2,
             events: list[dict[str, Any]] | None = None, checkout_fault: tuple[int, int, float] = (100, 0, 0.3),
             started: datetime | None = None, **extra: Any) -> Path:
    """A run folder; ``checkout_fault`` is checkout's (requests, failures, p95 s) in the fault phase (its
    baseline phase: 100 requests, none failed, p95 200 ms). ``started`` overrides ``days_ago``."""
    started = started or NOW - timedelta(days=days_ago)
    folder = reports / f"{started.strftime('%Y%m%dT%H%M%SZ')}-{name}"
    folder.mkdir(parents=True)
    run = {"name": name, "title": name, "owner": "team-checkout", "tags": tags or [], "target": "sandbox",
           "status": status, "exit_code": {"passed": 0, "failed": 1, "aborted": 3}.get(status, 4),
           "started": _iso(started), "ended": _iso(started + timedelta(seconds=40)),
           "detection_seconds": 1.0, "recovery_seconds": recovery,
           "slos": [{"name": "latency", "sli": "step.checkout.p95", "objective": "<= 1s", "window": "fault",
                     "status": "pass", "measured": p95, "display": f"{p95 * 1000:.0f} ms"}],
           "error_budget": {"availability": 0.995, "share_of_month_budget": 0.0001},
           "environment": {"images": {"shop/checkout": image}},
           "faults": [{"kind": "pod-kill"}], "still_injected": [],
           "breakdown": {"step.checkout": {
               "baseline": {"requests": 100, "failures": 0, "p95": 0.2},
               "fault": dict(zip(("requests", "failures", "p95"), checkout_fault, strict=True))}},
           **extra}
    (folder / "run.json").write_text(json.dumps(run))
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events or []))
    return folder
