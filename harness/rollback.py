"""`harness rollback RUN_DIR`: revert what a run journaled as injected and never reverted."""

from __future__ import annotations

from pathlib import Path

from harness.connect import Connection, fault_env
from harness.errors import HarnessError, RevertFailed
from harness.faults.base import load_all
from harness.journal import Journal, pending_faults, read_journal


async def rollback(run_dir: Path, postgres_dsn: str | None = None) -> list[str]:
    """Revert every pending fault of ``run_dir``, newest first; returns what was reverted.

    Raises RevertFailed naming what is still injected when any revert fails.
    """
    path = run_dir / "events.jsonl"
    if not path.exists():
        raise HarnessError(f"{path} not found: not a run folder")
    events = read_journal(path)
    pending = pending_faults(events)
    if not pending:
        return []
    started = next((e for e in events if e.get("type") == "run.started"), None)
    if started is None:
        raise HarnessError(f"{path} has no run.started event: cannot tell which cluster to reach")
    conn = Connection.from_public(started["connection"], postgres_dsn)
    journal = Journal(path)
    env = fault_env(conn, journal)
    registry = load_all()
    reverted, failed = [], []
    try:
        for pf in reversed(pending):
            try:
                await registry.get(pf.kind).undo(pf.undo, env)
            except Exception as exc:  # noqa: BLE001 - report every failure
                journal.write("fault.revert_failed", id=pf.id, kind=pf.kind, error=str(exc), by="rollback")
                failed.append(f"{pf.describe()} ({exc})")
                continue
            journal.write("fault.reverted", id=pf.id, kind=pf.kind, by="rollback")
            reverted.append(pf.describe())
    finally:
        journal.close()
    if failed:
        raise RevertFailed(failed)
    return reverted
