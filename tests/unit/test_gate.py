"""The gate's verdict on hand-built run folders: baseline search, rules, overrides, gate.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import InvalidExperiment
from harness.report.gate import GATE_FILE, judge
from harness.report.regress import Rules
from harness.spec.loader import load_experiment
from tests.runfolders import make_run

TARGETS = Path(__file__).parents[2] / "experiments/targets.yaml"


def test_a_slower_recovery_than_the_last_good_run_is_a_regression(tmp_path: Path) -> None:
    make_run(tmp_path, "checkout-pod-kill", days_ago=9, recovery=6.0)
    good = make_run(tmp_path, "checkout-pod-kill", days_ago=3, recovery=8.0)
    make_run(tmp_path, "checkout-pod-kill", days_ago=2, recovery=2.0, status="failed")  # not good
    make_run(tmp_path, "other", days_ago=1, recovery=1.0)
    now = make_run(tmp_path, "checkout-pod-kill", days_ago=0, recovery=25.0)
    verdict = judge(now, Rules())
    assert verdict.baseline is not None and verdict.baseline.folder == good.name
    assert verdict.table() == [["recovery time", "8.0 s", "25.0 s",
                                "+50 % and at least 5 s longer than the baseline"]]
    assert verdict.regressed and verdict.exit_code(0) == 1 and verdict.exit_code(3) == 3
    assert "REGRESSION against " + good.name in verdict.headline()
    saved = json.loads((now / GATE_FILE).read_text())
    assert saved["baseline"] == good.name and saved["findings"][0]["what"] == "recovery time"


def test_the_experiments_gate_rules_override_the_defaults(tmp_path: Path) -> None:
    make_run(tmp_path, "checkout-pod-kill", days_ago=3, recovery=8.0)
    now = make_run(tmp_path, "checkout-pod-kill", days_ago=0, recovery=25.0)
    assert not judge(now, Rules(time_min=30.0)).regressed


def test_no_baseline_yet_is_said_and_judged_on_slos_alone(tmp_path: Path) -> None:
    make_run(tmp_path, "checkout-pod-kill", days_ago=3, status="failed")
    now = make_run(tmp_path, "checkout-pod-kill", days_ago=0, recovery=25.0)
    verdict = judge(now, Rules())
    assert verdict.baseline is None and not verdict.regressed and verdict.exit_code(0) == 0
    assert "no baseline yet" in verdict.headline() and "judged on its SLOs alone" in verdict.headline()


def test_an_explicit_baseline_folder_and_a_shared_baseline_dir(tmp_path: Path) -> None:
    store, reports = tmp_path / "store", tmp_path / "reports"
    stored = make_run(store, "checkout-pod-kill", days_ago=3, p95=0.2)
    now = make_run(reports, "checkout-pod-kill", days_ago=0, p95=0.9)
    shared = judge(now, Rules(), baseline_dir=store)
    assert shared.baseline is not None and shared.baseline.folder == stored.name
    assert [f.what for f in shared.findings] == ["SLO latency (step.checkout.p95)"]
    assert judge(now, Rules(), baseline=stored).baseline is not None
    assert judge(now, Rules()).baseline is None  # its own reports folder holds no good run
    with pytest.raises(ValueError, match="not a run folder"):
        judge(now, Rules(), baseline=tmp_path / "nowhere")


GATED = """\
name: gated
title: A gate section
load: {users: 5, spawn_rate: 5}
slos: [{name: up, sli: load.success_ratio, objective: ">= 99%"}]
timeline: {baseline: 5s, recovery: 5s}
"""


def test_gate_rules_are_read_with_the_experiment_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "gated.yaml"
    path.write_text(GATED + "gate: {latency_min: 250ms, ratio_points: 2%}\n")
    gate = load_experiment(path, targets_path=TARGETS).experiment.gate
    assert Rules(**gate.model_dump()) == Rules(latency_min=0.25, ratio_points=0.02)
    path.write_text(GATED + "gate: {latency_factor: 0.5}\n")
    with pytest.raises(InvalidExperiment) as caught:
        load_experiment(path, targets_path=TARGETS)
    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (6, "gate.latency_factor") and "greater than 1" in problem.message


def test_values_measured_on_too_few_samples_are_not_compared(tmp_path: Path) -> None:
    make_run(tmp_path, "checkout-pod-kill", days_ago=3, p95=0.05, checkout_fault=(100, 0, 0.05))
    now = make_run(tmp_path, "checkout-pod-kill", days_ago=0, p95=0.9, checkout_fault=(12, 0, 0.9))
    run = json.loads((now / "run.json").read_text())
    run["slos"][0]["samples"] = 7  # a p95 of seven requests: noise
    (now / "run.json").write_text(json.dumps(run))
    assert not judge(now, Rules()).regressed
    assert [f.what for f in judge(now, Rules(min_samples=5)).findings] == [
        "SLO latency (step.checkout.p95)", "step.checkout.p95 in the fault window"]
