"""The run journal, ``events.jsonl``: append-only, fsynced, the record every report is rendered from.

Every injection writes its undo (``fault.undo``) *before* it acts and ``fault.reverted`` after its
revert, so after a crash `harness rollback RUN_DIR` can tell exactly what is still injected.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.events import Event


class Journal:
    """Appends one JSON object per line and fsyncs it; thread-safe. ``listeners`` see every event."""

    def __init__(self, path: Path, redact: Callable[[str], str] | None = None) -> None:
        self.path = path
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()
        self._redact = redact or (lambda s: s)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def write(self, type_: Event, **fields: Any) -> dict[str, Any]:
        event = {"ts": round(time.time(), 3), "type": type_, **fields}
        line = self._redact(json.dumps(event, default=str))
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())
        for fn in list(self.listeners):
            fn(event)
        return event

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every event of a run; a torn last line (crash mid-write) is ignored."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


@dataclass
class PendingFault:
    """A fault whose undo was journaled and whose revert was not."""

    id: str
    kind: str
    undo: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.kind} {self.id}: " + "; ".join(json.dumps(u, sort_keys=True) for u in self.undo)


def pending_faults(events: list[dict[str, Any]]) -> list[PendingFault]:
    """Faults with at least one ``fault.undo`` and no ``fault.reverted`` after it, in injection order."""
    pending: dict[str, PendingFault] = {}
    for ev in events:
        fid = ev.get("id")
        if ev.get("type") == Event.FAULT_UNDO and fid:
            pf = pending.setdefault(fid, PendingFault(fid, ev["kind"]))
            pf.undo.append(ev.get("undo") or {})
        elif ev.get("type") == Event.FAULT_REVERTED and fid:
            pending.pop(fid, None)
    return list(pending.values())
