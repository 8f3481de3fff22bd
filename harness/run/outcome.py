"""How a run ends: the verdict (run.json's content) from the run folder and what the lifecycle saw,
and the exceptions inside an exception group."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.events import RunStatus
from harness.report.runfolder import evaluate_folder
from harness.spec.models import Experiment

if TYPE_CHECKING:
    from harness.load.runner import LoadTotals  # imported when the run has load


@dataclass(frozen=True)
class Ending:
    """What the lifecycle knows about how the run stopped, beyond the folder's journal and timeline."""

    aborted_by: str | None
    """The first reason the run stopped early, if it did."""
    abort_status: RunStatus | None
    """The status that early stop asked for (aborted, interrupted, refused, error)."""
    revert_failures: list[str]
    """Faults still injected, one ``"id (kind): error"`` each."""
    error: str | None
    """The traceback of an unexpected exception."""
    steady_after: list[str]
    """Problems of the steady-state check after the run."""
    load: LoadTotals | None
    """The load generator's totals, when the run had load."""


def verdict(run_dir: Path, exp: Experiment, ending: Ending) -> dict[str, Any]:
    """run.json's content: the folder evaluated, then overridden by revert failures, an early stop
    and a failed steady state after, with the exit code of the final status."""
    extra: dict[str, Any] = {"aborted_by": ending.aborted_by, "load": load_summary(ending.load)}
    if ending.revert_failures:
        extra["status"] = RunStatus.REVERT_FAILED
        extra["revert_failures"] = ending.revert_failures
    elif ending.aborted_by:
        extra["status"] = ending.abort_status or RunStatus.ABORTED
    if ending.error:
        extra["error"] = ending.error.strip().splitlines()[-1]
    run = evaluate_folder(run_dir, exp, extra)
    if ending.steady_after and run["status"] == RunStatus.PASSED:
        run["status"] = RunStatus.FAILED
    run["exit_code"] = RunStatus(run["status"]).exit_code
    run["steady_state_after"] = ending.steady_after
    return run


def load_summary(totals: LoadTotals | None) -> dict[str, Any]:
    if totals is None:
        return {}
    return {"requests": totals.requests, "failures": totals.failures,
            "locust_requests": totals.locust_requests, "locust_failures": totals.locust_failures}


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside a (nested) exception group, or the exception itself."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]
