"""An unexpected exception inside a fault ends the run as ``error``, never as a verdict: the other
faults are cancelled and reverted, the traceback is in error.txt, and run.json matches the exit code.

The failing fault is a kind registered for this test only (and removed after it), run in-process
against the session sandbox alongside a real deployment-scale.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from harness.events import RunStatus
from harness.faults.base import Fault, FaultPlan
from harness.faults.undo import NothingToUndo
from harness.journal import read_journal
from harness.run import Run
from harness.spec.loader import load_experiment
from harness.spec.params import FaultParams
from harness.spec.registry import FAULTS

pytestmark = pytest.mark.e2e


class BoomParams(FaultParams):
    """Acts, then raises something no fault should ever raise."""


class Boom(Fault):
    kind = "test-boom"
    Params = BoomParams

    async def plan(self) -> FaultPlan:
        return FaultPlan(["nothing"])

    async def inject(self) -> None:
        self.record_undo(NothingToUndo(note="nothing to undo"))
        raise RuntimeError("boom: a bug in a fault")


@pytest.fixture
def boom_kind() -> Iterator[None]:
    FAULTS.register(Boom)
    try:
        yield
    finally:
        FAULTS.unregister(Boom.kind)


def test_an_unexpected_exception_is_an_error_with_everything_reverted(workspace: Any, sandbox: Any,
                                                                      boom_kind: None) -> None:
    exp = workspace.experiment("boom", """
slos: [{name: recovery, sli: recovery_time, objective: "<= 60s"}]
steady_state: {before: false, after: false}
timeline:
  baseline: 0s
  faults:
    - {at: 0s, name: scale, deployment-scale: {namespace: shop, name: cart, replicas: 2, duration: 60s}}
    - {at: 1s, name: bug, test-boom: {}}
  recovery: 0s
""")
    loaded = load_experiment(exp, targets_path=workspace.root / "targets.yaml")
    run = asyncio.run(Run(loaded, reports=workspace.reports).execute())
    assert run["status"] == "error" and run["exit_code"] == RunStatus.ERROR.exit_code == 3
    assert run["slos"][0]["status"] == "not_judged"
    folder = workspace.run_dirs()[-1]
    assert "RuntimeError: boom: a bug in a fault" in (folder / "error.txt").read_text()
    assert json.loads((folder / "run.json").read_text())["status"] == "error"
    events = read_journal(folder / "events.jsonl")
    assert {e["id"] for e in events if e["type"] == "fault.reverted"} == {"scale", "bug"}
    assert [e for e in events if e["type"] == "fault.error" and e["id"] == "bug"]
    kube = sandbox.kube()
    try:
        assert kube.get_scale("shop", "cart") == 3
    finally:
        kube.close()
    sandbox.wait_deployments_ready()
