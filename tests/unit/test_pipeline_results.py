"""The pipeline outputs' builders on hand-built results: JUnit properties and failure messages (shared by
the pytest plugin and `harness run --junit`), the JUnit file, and the Allure steps, severity and
environment built from a journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from junitparser import JUnitXml, Properties

from harness.report.allure_model import (
    environment_facts,
    merge_facts,
    phase_steps,
    properties_text,
    severity,
    slo_steps,
)
from harness.report.gate import GateVerdict
from harness.report.history import RunEntry
from harness.report.junit import JunitFile, failure_message, properties
from harness.report.regress import Finding

T0 = 1_765_000_000.0  # 2025-12-06 05:46:40 UTC


def _result(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "checkout-pod-kill", "status": "passed", "exit_code": 0, "target": "sandbox",
        "run_dir": "reports/20251206T054640Z-checkout-pod-kill",
        "started": "2025-12-06T05:46:40.000Z", "ended": "2025-12-06T05:47:21.500Z",
        "slos": [
            {"name": "availability", "sli": "load.success_ratio", "objective": ">= 95%", "window": "whole",
             "status": "pass", "measured": 0.9923, "display": "99.23%", "detail": "1,290 of 1,300 ok"},
            {"name": "checkout-latency", "sli": "step.checkout.p95", "objective": "<= 1500ms", "window": "fault",
             "status": "pass", "measured": 0.412, "display": "412 ms", "detail": "p95 of 80 successful requests"},
        ],
        "recovery": {"detection_seconds": 1.0, "recovery_seconds": 4.5, "reason": "stable from 05:47:05"},
        "aborted_by": None, "still_injected": [],
        "environment": {"harness_version": "0.1.0", "cluster_version": "v1.29.4-sandbox",
                        "node_versions": {"v1.29.4": 6}, "images": {"shop/checkout": "shop/checkout:2.3.1"}},
    }
    return {**base, **extra}


def _failed() -> dict[str, Any]:
    r = _result(status="failed", exit_code=1)
    r["slos"][1].update(status="fail", measured=2.1, display="2.1 s", detail="p95 of 80 successful requests; objective <= 1500ms not met")
    r["slos"].append({"name": "probe-ok", "sli": "probe.checkout-health.success_ratio", "objective": ">= 99%",
                      "window": "fault", "status": "inconclusive", "measured": None, "display": "n/a",
                      "detail": "3 samples of probe.checkout-health in the fault window (16 s); 10 needed"})
    return r


def test_properties_name_the_run_folder_verdict_each_slo_and_recovery() -> None:
    props = dict(properties(_result()))
    assert props["harness.run_dir"] == "reports/20251206T054640Z-checkout-pod-kill"
    assert props["harness.verdict"] == "passed" and props["harness.exit_code"] == "0"
    assert props["harness.target"] == "sandbox"
    assert props["harness.slo.availability.measured"] == "0.9923"
    assert props["harness.slo.availability.display"] == "99.23%"
    assert props["harness.slo.checkout-latency.objective"] == "<= 1500ms"
    assert props["harness.slo.checkout-latency.status"] == "pass"
    assert props["harness.detection_seconds"] == "1" and props["harness.recovery_seconds"] == "4.5"
    assert "harness.aborted_by" not in props and "harness.gate" not in props


def test_a_passed_run_has_no_failure_message() -> None:
    assert failure_message(_result()) is None


def test_the_failure_message_names_every_failed_or_inconclusive_slo_with_measured_vs_objective() -> None:
    message = failure_message(_failed())
    assert message is not None
    lines = message.splitlines()
    assert lines[0] == "checkout-pod-kill: FAILED (exit 1)"
    assert any(line.startswith("SLO checkout-latency fail: step.checkout.p95 measured 2.1 s, objective <= 1500ms "
                               "(fault window)") for line in lines)
    assert any(line.startswith("SLO probe-ok inconclusive: probe.checkout-health.success_ratio measured n/a, "
                               "objective >= 99%") and "10 needed" in line for line in lines)
    assert not any("availability" in line for line in lines)
    assert lines[-1] == "run folder: reports/20251206T054640Z-checkout-pod-kill"


def test_an_abort_names_its_guard() -> None:
    r = _result(status="aborted", exit_code=3, aborted_by="guard: load.error_ratio > 50% for 5s (last: 61.00%)")
    message = failure_message(r)
    assert message is not None
    assert "aborted: guard: load.error_ratio > 50% for 5s (last: 61.00%)" in message
    assert dict(properties(r))["harness.aborted_by"].startswith("guard: load.error_ratio")


def test_exit_4_says_exactly_what_is_still_injected() -> None:
    still = ["db-latency-1 (db-latency): toxic latency on proxy postgres"]
    r = _result(status="revert_failed", exit_code=4, still_injected=still)
    message = failure_message(r)
    assert message is not None
    assert "STILL INJECTED, a human must act (harness rollback reports/20251206T054640Z-checkout-pod-kill):" in message
    assert "  db-latency-1 (db-latency): toxic latency on proxy postgres" in message
    assert dict(properties(r))["harness.still_injected"] == still[0]


def _entry(folder: str) -> RunEntry:
    return RunEntry(folder=folder, name="checkout-pod-kill", target="sandbox", status="passed",
                    started="2025-12-06T05:46:40.000Z")


def test_a_regression_fails_a_run_that_met_its_slos_and_is_a_property() -> None:
    finding = Finding(what="SLO checkout-latency (step.checkout.p95)", baseline="200 ms", now="412 ms",
                      rule="more than 1.5× the baseline and at least 100 ms worse", severity=1.0)
    gate = GateVerdict(_entry("now"), _entry("20251205T054640Z-checkout-pod-kill"), [finding])
    message = failure_message(_result(), gate)
    assert message is not None and "REGRESSION against 20251205T054640Z-checkout-pod-kill" in message
    assert "SLO checkout-latency (step.checkout.p95): baseline 200 ms, now 412 ms (more than 1.5×" in message
    props = dict(properties(_result(), gate))
    assert props["harness.gate"] == "regression"
    assert props["harness.gate.baseline"] == "20251205T054640Z-checkout-pod-kill"
    assert dict(properties(_result(), GateVerdict(_entry("now"), None)))["harness.gate"] == "no baseline"
    assert failure_message(_result(), GateVerdict(_entry("now"), None)) is None


def test_the_junit_file_holds_one_testcase_per_experiment_and_a_refusal(tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    try:
        with JunitFile(out) as junit:
            for result in (_result(), _failed()):
                junit.start(Path("experiments/checkout-pod-kill.yaml"), result["name"])
                junit.add(result)
            junit.start(Path("experiments/zone-outage.yaml"), "zone-outage")
            raise RuntimeError("refused: zone-outage would leave checkout without a ready pod")
    except RuntimeError:
        pass
    suites = JUnitXml.fromfile(str(out))
    cases = [case for suite in suites for case in suite]
    assert [c.name for c in cases] == ["checkout-pod-kill", "checkout-pod-kill", "zone-outage"]
    assert cases[0].classname == "experiments.checkout-pod-kill.yaml"
    assert cases[0].is_passed and not cases[1].is_passed and not cases[2].is_passed
    assert abs(cases[0].time - 41.5) < 1e-6
    props = {p.name: p.value for p in cases[1].child(Properties)}
    assert props["harness.slo.checkout-latency.measured"] == "2.1"
    assert "SLO checkout-latency fail" in cases[1].result[0].message
    assert "refused: zone-outage would leave" in cases[2].result[0].message


def _events() -> list[dict[str, Any]]:
    return [
        {"ts": T0, "type": "run.started", "target": "sandbox"},
        {"ts": T0 + 1, "type": "phase", "phase": "baseline"},
        {"ts": T0 + 11, "type": "phase", "phase": "fault"},
        {"ts": T0 + 11.2, "type": "fault.undo", "id": "kill-checkout", "kind": "pod-kill"},
        {"ts": T0 + 11.3, "type": "fault.injected", "id": "kill-checkout", "kind": "pod-kill", "targets": ["shop/checkout-a"]},
        {"ts": T0 + 19.3, "type": "fault.action", "id": "kill-checkout", "kind": "pod-kill", "action": "killed"},
        {"ts": T0 + 20, "type": "guard.fired", "reason": "load.error_ratio > 50% for 5s (last: 61.00%)"},
        {"ts": T0 + 20.1, "type": "run.aborted", "reason": "guard: load.error_ratio > 50% for 5s", "status": "aborted",
         "phase": "fault"},
        {"ts": T0 + 20.5, "type": "fault.reverted", "id": "kill-checkout", "kind": "pod-kill", "targets": ["shop/checkout-a"]},
        {"ts": T0 + 21, "type": "run.stopping"},
        {"ts": T0 + 22, "type": "run.ended"},
    ]


def test_steps_are_the_phases_with_their_faults_and_guards_at_real_times() -> None:
    steps = phase_steps(_events())
    assert [s.title for s in steps] == ["baseline 05:46:41 → 05:46:51 (10.0 s)", "fault 05:46:51 → 05:47:01 (10.0 s)"]
    baseline, fault = steps
    assert baseline.status == "passed" and (baseline.start, baseline.stop) == (T0 + 1, T0 + 11)
    assert fault.status == "failed" and "guard: load.error_ratio" in fault.message
    kill, guard = fault.children
    assert kill.title == "fault kill-checkout (pod-kill) 05:46:51 → 05:47:00: 1 target(s)"
    assert (kill.start, kill.stop, kill.status) == (T0 + 11.2, T0 + 20.5, "passed")
    assert [c.title for c in kill.children] == ["05:46:51 injected: shop/checkout-a", "05:46:59 action killed",
                                                "05:47:00 reverted"]
    assert guard.status == "failed" and guard.title.startswith("05:47:00 guard fired: load.error_ratio")


def test_a_fault_never_reverted_is_broken() -> None:
    events = [e for e in _events() if e["type"] != "fault.reverted"]
    (kill, _guard) = phase_steps(events)[1].children
    assert kill.status == "broken" and "never reverted" in kill.title and kill.stop == T0 + 21


def test_slo_steps_carry_status_measured_and_objective() -> None:
    steps = slo_steps(_failed())
    assert [s.status for s in steps] == ["passed", "failed", "broken"]
    assert steps[1].title == "SLO checkout-latency: step.checkout.p95 <= 1500ms (fault window) measured 2.1 s: fail"
    assert "10 needed" in steps[2].message


def test_severity_comes_from_the_tags() -> None:
    assert severity(["gameday", "pre-release"]) == "normal"
    assert severity(["critical", "gameday"]) == "critical"
    assert severity(["critical", "blocker"]) == "blocker"


def test_environment_properties_hold_target_and_app_versions() -> None:
    other = _result(target="gke-staging")
    other["environment"] = {**other["environment"], "images": {"shop/checkout": "shop/checkout:2.4.0"}}
    facts = merge_facts([environment_facts(_result()), environment_facts(other)])
    assert facts["target"] == "gke-staging, sandbox"
    assert facts["image.shop/checkout"] == "shop/checkout:2.3.1, shop/checkout:2.4.0"
    text = properties_text(facts)
    assert "harness_version=0.1.0\n" in text and "cluster_version=v1.29.4-sandbox\n" in text
    assert "kubelet_versions=v1.29.4\n" in text
    assert properties_text({"a key:x": "v"}) == "a\\ key\\:x=v\n"
