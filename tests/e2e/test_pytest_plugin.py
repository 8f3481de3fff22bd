"""The pytest plugin in a pytest subprocess (pytester): experiment files collected as tests, run against the
session sandbox with JUnit and Allure results; plan-only injects nothing; the catalogue collects with its
markers; an invalid experiment fails collection with file:line. `harness run --junit` writes the same
test case as pytest's --junitxml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from allure_commons.utils import md5
from junitparser import JUnitXml, Properties, TestCase

from tests.conftest import REPO, SandboxHandle

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.e2e

JOURNEYS = REPO / "probes/journeys/storefront.py"

BODY = """\
name: {name}
title: Catalog survives losing a pod ({name})
owner: team-catalog
tags: [pre-release, critical]
target: sandbox
load: {{journeys: {journeys}, users: 4, spawn_rate: 4, think_time: 0.2s..0.5s, workers: 1}}
probes:
  - {{name: site, every: 0.5s, timeout: 2s, http: {{url: "/api/catalog/products?limit=2"}}}}
slos:
  - {{name: availability, sli: load.success_ratio, objective: ">= 50%"}}
  - {{name: latency, sli: probe.site.p95, objective: "{objective}", window: fault, min_samples: 2}}
  - {{name: recovery, sli: recovery_time, objective: "<= 60s"}}
timeline:
  baseline: 3s
  faults:
    - at: 0s
      name: kill-catalog
      pod-kill: {{namespace: shop, selector: app=catalog, count: 1, duration: 3s}}
  recovery: 3s
safety:
  allowed_namespaces: [shop]
gate: {{latency_min: 2s, time_min: 30s, ratio_points: 0.2}}   # a few probe samples are noisy: only gross regressions
"""


def _experiment(root: Path, name: str, objective: str) -> Path:
    path = root / f"{name}.yaml"
    path.write_text(BODY.format(name=name, objective=objective, journeys=JOURNEYS))
    return path


@pytest.fixture
def pipeline(pytester: pytest.Pytester, sandbox: SandboxHandle) -> pytest.Pytester:
    """A pipeline's checkout: targets.yaml pointing at the session sandbox, a lenient and a strict experiment."""
    (pytester.path / "targets.yaml").write_text(
        f"targets:\n  sandbox:\n    kind: sandbox\n    endpoints_file: {sandbox.dir / 'endpoints.json'}\n")
    _experiment(pytester.path, "catalog-lenient", "<= 5s")
    _experiment(pytester.path, "catalog-strict", "<= 0.1ms")
    sandbox.wait_deployments_ready()
    return pytester


def _cases(path: Path) -> dict[str, TestCase]:
    return {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}


def _props(case: TestCase) -> dict[str, str]:
    return {p.name: p.value for p in case.child(Properties)}


def _allure(results: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for f in results.glob("*-result.json"):
        data = json.loads(f.read_text())
        out[data["name"]] = data
    return out


def test_experiments_run_as_tests_with_junit_properties_and_allure_results(pipeline: pytest.Pytester) -> None:
    res = pipeline.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=junit.xml", "--alluredir=allure",
                                        "--harness-reports=reports", "-m", "pre_release", "--strict-markers",
                                        "--harness-gate", timeout=240)
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(["*SLO latency fail: probe.site.p95 measured *, objective <= 0.1ms (fault window)*"])
    cases = _cases(pipeline.path / "junit.xml")
    assert set(cases) == {"catalog-lenient", "catalog-strict"}
    lenient, strict = _props(cases["catalog-lenient"]), _props(cases["catalog-strict"])
    assert cases["catalog-lenient"].is_passed and not cases["catalog-strict"].is_passed
    for props, verdict in ((lenient, "passed"), (strict, "failed")):
        assert props["harness.verdict"] == verdict and props["harness.target"] == "sandbox"
        assert (Path(props["harness.run_dir"]) / "run.json").is_file()
        assert float(props["harness.slo.availability.measured"]) >= 0.5
        assert props["harness.slo.latency.objective"] in ("<= 5s", "<= 0.1ms")
        assert {"harness.detection_seconds", "harness.recovery_seconds", "harness.slo.recovery.status"} <= set(props)
        assert props["harness.gate"] == "no baseline"  # the first runs: judged on their SLOs alone
    assert strict["harness.slo.latency.status"] == "fail" and strict["harness.exit_code"] == "1"
    assert float(lenient["harness.recovery_seconds"]) >= 0  # the strict latency objective may never recover
    message = cases["catalog-strict"].result[0].text  # the attribute holds the first lines, the text all of it
    assert "catalog-strict: FAILED (exit 1)" in message and "SLO latency fail: probe.site.p95 measured" in message
    assert f"run folder: {strict['harness.run_dir']}" in message

    results = _allure(pipeline.path / "allure")
    assert set(results) == {"Catalog survives losing a pod (catalog-lenient)", "Catalog survives losing a pod (catalog-strict)"}
    for name, result in results.items():
        passed = "lenient" in name
        assert result["status"] == ("passed" if passed else "failed")
        labels = {(lab["name"], lab["value"]) for lab in result["labels"]}
        assert {("owner", "team-catalog"), ("target", "sandbox"), ("severity", "critical"),
                ("tag", "pre_release"), ("tag", "critical")} <= labels
        assert result["historyId"] == md5(result["fullName"], "'sandbox'")  # node id and target: stable across builds
        phases = {s["name"].split()[0]: s for s in result["steps"] if not s["name"].startswith(("SLO ", "gate "))}
        assert list(phases) == ["steady-before", "baseline", "fault", "recovery", "steady-after"]
        fault_phase = phases["fault"]
        assert fault_phase["steps"][0]["name"].startswith("fault kill-catalog (pod-kill) ")
        assert fault_phase["start"] <= fault_phase["steps"][0]["start"] < fault_phase["stop"]
        slos = {s["name"].split(":")[0]: s["status"] for s in result["steps"] if s["name"].startswith("SLO ")}
        assert slos["SLO availability"] == "passed" and slos["SLO latency"] == ("passed" if passed else "failed")
        assert slos["SLO recovery"] in (("passed",) if passed else ("passed", "failed", "broken"))
        assert "no baseline yet" in result["steps"][-1]["name"]
        attached = {a["name"] for a in result["attachments"]}
        assert {"report.html", "summary.md", "events.jsonl", "run.json", "gate.json", "timeline: traffic"} <= attached
        for a in result["attachments"]:
            assert (pipeline.path / "allure" / a["source"]).stat().st_size > 0
    env = (pipeline.path / "allure" / "environment.properties").read_text()
    assert "target=sandbox\n" in env and "harness_version=" in env and "cluster_version=" in env
    assert "image.shop/checkout=shop/checkout:" in env

    again = pipeline.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=again.xml", "--harness-reports=reports",
                                          "--harness-gate", "catalog-lenient.yaml", timeout=120)
    again.assert_outcomes(passed=1)
    props = _props(_cases(pipeline.path / "again.xml")["catalog-lenient"])
    assert props["harness.gate"] == "no regression"
    assert props["harness.gate.baseline"] == Path(lenient["harness.run_dir"]).name


def _pods(sandbox: SandboxHandle) -> set[tuple[str, str]]:
    kube = sandbox.kube()
    try:
        return {(p["metadata"]["name"], p["metadata"]["uid"]) for p in kube.list_pods("shop")}
    finally:
        kube.close()


def test_plan_only_resolves_targets_and_injects_nothing(pipeline: pytest.Pytester, sandbox: SandboxHandle) -> None:
    before = _pods(sandbox)
    res = pipeline.runpytest_subprocess("-p", "no:cacheprovider", "--harness-plan-only", "--junitxml=plan.xml",
                                        "--alluredir=allure", "catalog-strict.yaml", timeout=120)
    res.assert_outcomes(passed=1)
    props = _props(_cases(pipeline.path / "plan.xml")["catalog-strict"])
    assert props["harness.mode"] == "plan-only" and props["harness.verdict"] == "planned"
    assert "- kill-catalog (pod-kill): " in props["harness.plan"]
    assert "target shop/catalog-" in props["harness.plan"]
    assert not (pipeline.path / "reports").exists()  # no run folder, so no journal and no fault event
    (result,) = _allure(pipeline.path / "allure").values()
    assert "plan" in [a["name"] for a in result["attachments"]] and "report.html" not in str(result)
    assert _pods(sandbox) == before


def test_harness_run_junit_writes_the_same_testcase(pipeline: pytest.Pytester) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "catalog-strict.yaml", "--junit", "out/junit.xml"],
                          cwd=pipeline.path, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, proc.stderr
    (suite,) = list(JUnitXml.fromfile(str(pipeline.path / "out/junit.xml")))
    (case,) = list(suite)
    assert (case.name, case.classname) == ("catalog-strict", "catalog-strict.yaml")
    props = _props(case)
    assert props["harness.verdict"] == "failed" and props["harness.slo.latency.status"] == "fail"
    assert {"harness.run_dir", "harness.detection_seconds", "harness.recovery_seconds",
            "harness.slo.availability.measured"} <= set(props)
    assert "SLO latency fail: probe.site.p95 measured" in case.result[0].message and case.time > 5


def test_collect_only_lists_the_catalogue_with_its_markers_and_nothing_else(pytester: pytest.Pytester) -> None:
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", str(REPO / "experiments"))
    expected = []
    for path in sorted((REPO / "experiments").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if "timeline" in data:
            marks = ", ".join(t.replace("-", "_") for t in data.get("tags") or [])
            expected.append(f"*<Experiment {data['name']} [[]{marks}[]]>")
    assert len(expected) >= 7
    res.stdout.fnmatch_lines(expected, consecutive=False)
    res.stdout.fnmatch_lines([f"*{len(expected)} tests collected*"])
    assert "targets.yaml" not in res.stdout.str()
    chosen = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q", "--strict-markers",
                                           "-m", "pre_release", str(REPO / "experiments"))
    assert sorted(line for line in chosen.stdout.lines if "::" in line) == [
        "experiments/checkout-pod-kill.yaml::checkout-pod-kill",
        "experiments/payment-partner-outage.yaml::payment-partner-outage"]


def test_only_experiments_are_collected_and_an_invalid_one_fails_with_file_and_line(pytester: pytest.Pytester) -> None:
    (pytester.path / "targets.yaml").write_text("targets:\n  sandbox:\n    kind: sandbox\n    endpoints_file: e.json\n")
    _experiment(pytester.path, "good", "<= 5s")
    (pytester.path / "gameday.yaml").write_text("name: weekly\nexperiments: [good.yaml]\n")
    (pytester.path / "freeze.yaml").write_text("windows:\n  - {name: black-friday, from: 2026-11-27, to: 2026-11-30}\n")
    ok = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    assert [line for line in ok.stdout.lines if "::" in line] == ["good.yaml::good"]
    bad = pytester.path / "bad.yaml"
    bad.write_text(BODY.format(name="bad", objective="<= 5s", journeys=JOURNEYS).replace("count: 1", "fraction: 1.5"))
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    assert res.ret == pytest.ExitCode.INTERRUPTED
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "fraction" in text)
    res.stdout.fnmatch_lines([f"*{bad}:{line}: timeline.faults[[]0].pod-kill.fraction: *", "*ERROR*bad.yaml*"])
