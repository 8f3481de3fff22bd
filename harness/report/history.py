"""Past runs, read from the reports folder: one small entry per run folder, kept in an index.

The run folders are the record; ``<reports>/.index.json`` is a cache of one entry per folder, rebuilt
for any folder whose ``run.json`` or ``events.jsonl`` changed since it was indexed (or when the index
is missing, unreadable or from another version). Entries hold what the run lists, comparisons, the
digest and the regression gate need, never the timeline, so reading 200 runs stays small.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from harness.events import RunStatus

INDEX_FILE = ".index.json"
INDEX_VERSION = 3
INCIDENT_STATUSES = frozenset({RunStatus.ABORTED, RunStatus.INTERRUPTED, RunStatus.ERROR, RunStatus.REVERT_FAILED})
"""Run outcomes a review follows up as incidents (with runs that needed `harness rollback`)."""


@dataclass
class RunEntry:
    """One run folder, summarised."""

    folder: str
    name: str
    title: str = ""
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    target: str = ""
    status: str = ""
    exit_code: int | None = None
    started: str = ""
    ended: str = ""
    detection_seconds: float | None = None
    recovery_seconds: float | None = None
    slos: list[dict[str, Any]] = field(default_factory=list)
    """name, sli, objective, window, status, measured, display, samples of each SLO."""
    availability: float | None = None
    budget_share: float | None = None
    """The run's share of the month's error budget (run.json error_budget.share_of_month_budget)."""
    images: dict[str, str] = field(default_factory=dict)
    fault_kinds: list[str] = field(default_factory=list)
    aborted_by: str | None = None
    still_injected: int = 0
    rolled_back: bool = False
    """`harness rollback` reverted something of this run (a crash or an interrupted revert)."""
    phases: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """run.json's breakdown cut to what trends need: ``{source: {phase: {requests, failures, p95}}}``."""

    @property
    def started_at(self) -> datetime | None:
        return parse_time(self.started)

    @property
    def incident(self) -> bool:
        return self.status in INCIDENT_STATUSES or self.rolled_back or self.still_injected > 0

    def slo(self, name: str) -> dict[str, Any] | None:
        return next((s for s in self.slos if s.get("name") == name), None)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``2w`` (ago from now) or an ISO date/time: the start of a period."""
    now = now or datetime.now(UTC)
    m = _DURATION.match(text.strip())
    if m:
        return now - timedelta(**{_UNIT[m.group(2)]: int(m.group(1))})
    when = parse_time(text.strip())
    if when is None:
        raise ValueError(f"`{text}` is neither a duration like 7d / 12h / 2w nor an ISO date like 2026-11-30")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _stamp(folder: Path) -> list[int]:
    return [(folder / f).stat().st_mtime_ns if (folder / f).exists() else 0 for f in ("run.json", "events.jsonl")]


def _tags(folder: Path, run: dict[str, Any]) -> list[str]:
    if isinstance(run.get("tags"), list):
        return [str(t) for t in run["tags"]]
    try:  # folders from before run.json carried tags
        doc = yaml.safe_load((folder / "experiment.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    tags = doc.get("tags") if isinstance(doc, dict) else None
    return [str(t) for t in tags] if isinstance(tags, list) else []


def _rolled_back(folder: Path) -> bool:
    try:
        with open(folder / "events.jsonl", encoding="utf-8") as fh:
            return any('"by": "rollback"' in line and '"fault.reverted"' in line for line in fh)
    except OSError:
        return False


def read_entry(folder: Path) -> RunEntry | None:
    """The entry of one run folder, or None when it is not a run folder (no readable run.json)."""
    try:
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(run, dict) or "name" not in run:
        return None
    budget = run.get("error_budget") or {}
    env = run.get("environment") or {}
    slo_keys = ("name", "sli", "objective", "window", "status", "measured", "display", "samples")
    return RunEntry(
        folder=folder.name, name=str(run["name"]), title=str(run.get("title") or ""), owner=str(run.get("owner") or ""),
        tags=_tags(folder, run), target=str(run.get("target") or ""), status=str(run.get("status") or ""),
        exit_code=run.get("exit_code"), started=str(run.get("started") or ""), ended=str(run.get("ended") or ""),
        detection_seconds=run.get("detection_seconds"), recovery_seconds=run.get("recovery_seconds"),
        slos=[{k: s.get(k) for k in slo_keys} for s in run.get("slos") or []],
        availability=budget.get("availability"), budget_share=budget.get("share_of_month_budget"),
        images=dict(env.get("images") or {}), fault_kinds=[str(f.get("kind")) for f in run.get("faults") or []],
        aborted_by=run.get("aborted_by"), still_injected=len(run.get("still_injected") or []),
        rolled_back=_rolled_back(folder), phases=_phases(run.get("breakdown") or {}),
    )


def _phases(table: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    keep = ("requests", "failures", "p95")
    return {source: {phase: {k: cell.get(k) for k in keep} for phase, cell in phases.items()}
            for source, phases in table.items() if isinstance(phases, dict)}


def _run_folders(reports: Path) -> Iterator[Path]:
    if not reports.is_dir():
        return
    with os.scandir(reports) as it:
        for item in it:
            if item.is_dir() and (Path(item.path) / "run.json").exists():
                yield Path(item.path)


def _read_index(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION:
        return {}
    runs = data.get("runs")
    return runs if isinstance(runs, dict) else {}


def load_history(reports: Path, *, write_index: bool = True) -> list[RunEntry]:
    """Every run folder's entry, oldest first; the index is refreshed for folders that changed."""
    cached = _read_index(reports / INDEX_FILE)
    fresh: dict[str, Any] = {}
    changed = False
    for folder in _run_folders(reports):
        stamp = _stamp(folder)
        hit = cached.get(folder.name)
        if hit and hit.get("stamp") == stamp:
            fresh[folder.name] = hit
            continue
        entry = read_entry(folder)
        changed = True
        if entry is not None:
            fresh[folder.name] = {"stamp": stamp, "entry": asdict(entry)}
    changed = changed or set(cached) != set(fresh)
    if write_index and changed and reports.is_dir():
        tmp = reports / f"{INDEX_FILE}.tmp"
        tmp.write_text(json.dumps({"version": INDEX_VERSION, "runs": fresh}, separators=(",", ":")))
        os.replace(tmp, reports / INDEX_FILE)
    entries = [RunEntry(**item["entry"]) for item in fresh.values()]
    return sorted(entries, key=lambda e: (e.started, e.folder))


def select(entries: Iterable[RunEntry], *, experiment: str | None = None, tag: str | None = None,
           since: datetime | None = None, until: datetime | None = None, status: str | None = None,
           target: str | None = None) -> list[RunEntry]:
    """The entries matching every filter given (``status`` may be a comma-separated list)."""
    statuses = set(status.split(",")) if status else None
    out = []
    for e in entries:
        when = e.started_at
        if experiment and e.name != experiment:
            continue
        if tag and tag not in e.tags:
            continue
        if since and (when is None or when < since):
            continue
        if until and (when is None or when >= until):
            continue
        if statuses and e.status not in statuses:
            continue
        if target and e.target != target:
            continue
        out.append(e)
    return out


def resolve_run(reports: Path, ref: str) -> Path:
    """A run named on the command line: a folder path, or a folder name inside ``reports``."""
    for candidate in (Path(ref), reports / ref):
        if (candidate / "run.json").exists():
            return candidate
    raise FileNotFoundError(f"{ref}: not a run folder (no run.json here or in {reports})")
