"""harness gate against the session sandbox: a latency toxic on PostgreSQL regresses the shop's p95
against the last good run (exit 1, the rule named); the same experiment without it passes."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
from junitparser import JUnitXml, Properties

pytestmark = pytest.mark.e2e

BODY = """\
name: checkout-gate
title: The shop's p95 against the last good run
target: sandbox
load: {users: 10, spawn_rate: 10, think_time: 0.1s..0.3s, workers: 1}
slos:
  - {name: shop-p95, sli: load.p95, objective: "<= 10s"}
timeline:
  baseline: 8s
  faults: FAULTS
  recovery: 2s
steady_state: {before: false, after: false}
"""
TOXIC = "\n    - {at: 0s, db-latency: {latency: 400ms, duration: 8s}}"


def _write(workspace: Any, name: str, faults: str) -> str:
    path = workspace.root / f"{name}.yaml"
    path.write_text(textwrap.dedent(BODY).replace("FAULTS", faults))
    return str(path)


def test_a_latency_toxic_is_a_regression_against_the_last_good_run(workspace: Any) -> None:
    calm = _write(workspace, "calm", "[]")
    toxic = _write(workspace, "toxic", TOXIC)
    first = workspace.harness("gate", calm, check=0).stdout
    assert "no baseline yet" in first and "judged on its SLOs alone" in first
    baseline = workspace.run_dirs()[-1]
    slowed = workspace.harness("gate", toxic, "--junit", "gate.xml", check=1).stdout
    assert f"REGRESSION against {baseline.name}" in slowed
    assert "| SLO shop-p95 (load.p95) |" in slowed
    assert "more than 1.5× the baseline and at least 100 ms worse" in slowed
    run = workspace.last_run()
    assert run["status"] == "passed"  # its own SLO held: only the comparison failed it
    gate = json.loads((workspace.run_dirs()[-1] / "gate.json").read_text())
    assert gate["baseline"] == baseline.name and gate["regressed"]
    [case] = [c for suite in JUnitXml.fromfile(str(workspace.root / "gate.xml")) for c in suite]
    props = {p.name: p.value for p in case.child(Properties)}
    assert props["harness.gate"] == "regression" and not case.is_passed
    again = workspace.harness("gate", calm, "--baseline", str(baseline), check=0).stdout
    assert f"no regression against {baseline.name}" in again
