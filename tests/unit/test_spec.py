"""The experiment spec: value parsers, the catalogue, every broken fixture refused with file:line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from harness.errors import InvalidExperiment, Problem
from harness.faults.base import fault_class
from harness.faults.pods import PodKill, PodKillParams
from harness.spec.fieldtypes import parse_ratio, parse_think_time
from harness.spec.loader import (
    json_schema,
    load_experiment,
    parse_duration,
    parse_objective,
    validate_paths,
)
from harness.spec.models import Experiment
from harness.spec.params import FaultParams
from harness.spec.registry import FAULTS, PROBES, DuplicateKind, Registry
from probes.http import HttpProbeParams
from tests.kind_examples import MINIMAL_FAULTS, NAMESPACES, filled

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"
BROKEN = Path(__file__).parents[1] / "fixtures" / "broken"
TARGETS = EXPERIMENTS / "targets.yaml"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("800ms", 0.8), ("30s", 30), ("2m", 120), ("1h", 3600), ("1m30s", 90), ("1.5s", 1.5), ("0", 0),
     (5, 5), (0.25, 0.25), ("10", 10), (" 2m ", 120), ("1d", 86400)],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["-5s", "-1", "abc", "5 parsecs", "", "1x", "ms", True, "nan"])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "op", "value", "unit"),
    [(">= 99%", ">=", 0.99, "ratio"), ("<= 800ms", "<=", 0.8, "duration"), ("<1.5s", "<", 1.5, "duration"),
     ("> 0.95", ">", 0.95, "number"), ("== 0", "==", 0.0, "number"), ("<= 30s", "<=", 30.0, "duration"),
     (">= 99.9%", ">=", 0.999, "ratio"), ("<= 2m", "<=", 120.0, "duration")],
)
def test_parse_objective(text: str, op: str, value: float, unit: str) -> None:
    objective = parse_objective(text)
    assert (objective.op, objective.unit, objective.text) == (op, unit, text.strip())
    assert objective.value == pytest.approx(value)


@pytest.mark.parametrize("text", ["99%", "about 99", ">= ", ">= fast", "=> 99%", ">= 120%"])
def test_parse_objective_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_objective(text)


@pytest.mark.parametrize(
    ("text", "measured", "met"),
    [(">= 99%", 0.995, True), (">= 99%", 0.98, False), ("<= 800ms", 0.8, True), ("< 800ms", 0.8, False),
     ("> 0.5", 0.6, True), ("== 0", 0.0, True)],
)
def test_objective_met(text: str, measured: float, met: bool) -> None:
    assert parse_objective(text).met(measured) is met


def test_ratio_and_think_time() -> None:
    assert parse_ratio("99%") == pytest.approx(0.99)
    assert parse_ratio(0.5) == 0.5
    assert parse_think_time("0.5s..2s") == (0.5, 2.0)
    assert parse_think_time([1, "1500ms"]) == (1.0, 1.5)
    assert parse_think_time("1s") == (1.0, 1.0)
    for bad in ("150%", -0.1, "x"):
        with pytest.raises(ValueError):
            parse_ratio(bad)
    with pytest.raises(ValueError):
        parse_think_time("2s..1s")


def test_catalogue_checkout_pod_kill() -> None:
    loaded = load_experiment(EXPERIMENTS / "checkout-pod-kill.yaml")
    exp = loaded.experiment
    assert (exp.name, exp.target, loaded.target.kind) == ("checkout-pod-kill", "sandbox", "sandbox")
    assert exp.load is not None and (exp.load.users, exp.load.spawn_rate) == (60, 30)
    assert exp.load.think_time == (0.5, 1.5)
    assert loaded.journeys is not None and loaded.journeys.is_file()
    fault = exp.timeline.faults[0]
    assert fault.kind == "pod-kill" and isinstance(fault.params, PodKillParams)
    assert (fault.params.count, fault.params.every, fault.params.duration) == (1, 8.0, 24.0)
    assert isinstance(exp.probes[0].params, HttpProbeParams)
    assert [s.objective.value for s in exp.slos] == pytest.approx([0.95, 1.5, 30.0])
    assert exp.safety.abort_when[0].for_ == 5.0
    assert exp.timeline.planned_seconds() < 60
    assert loaded.source_text == (EXPERIMENTS / "checkout-pod-kill.yaml").read_text()


def test_catalogue_catalog_scale_down_and_round_trip() -> None:
    exp = load_experiment(EXPERIMENTS / "catalog-scale-down.yaml").experiment
    fault = exp.timeline.faults[0]
    assert fault.kind == "deployment-scale" and fault.params.namespaces() == ["shop"]
    assert exp.timeline.fault_ids() == ["catalog-to-one"]
    dumped = exp.model_dump(by_alias=True)
    assert "deployment-scale" in dumped["timeline"]["faults"][0]
    assert dumped["slos"][1]["objective"] == "<= 2s"
    assert Experiment.model_validate(dumped) == exp
    with pytest.raises(ValidationError):  # frozen
        exp.name = "other"


def test_validate_directory_catalogue_is_clean() -> None:
    results = validate_paths([EXPERIMENTS])
    assert {"checkout-pod-kill.yaml", "catalog-scale-down.yaml"} <= {p.name for p in results}
    assert "targets.yaml" not in {p.name for p in results}
    assert all(problems == [] for problems in results.values()), results


# file -> (line, field substring, hint substring or None)
BROKEN_EXPECTED: dict[str, tuple[int, str, str | None]] = {
    "bad-yaml-syntax.yaml": (7, "", "quote"),
    "unknown-top-level-key.yaml": (6, "slo", "did you mean `slos`"),
    "wrong-type.yaml": (4, "load.users", None),
    "negative-duration.yaml": (4, "timeline.baseline", None),
    "fraction-above-one.yaml": (10, "timeline.faults[0].pod-kill.fraction", None),
    "count-and-fraction.yaml": (7, "timeline.faults[0].pod-kill", None),
    "unknown-fault-kind.yaml": (7, "timeline.faults[0].pod-kil", "did you mean `pod-kill`"),
    "protected-namespace.yaml": (8, "timeline.faults[0].pod-kill.namespace", None),
    "broken-selector.yaml": (9, "timeline.faults[0].pod-kill.selector", None),
    "nonsense-objective.yaml": (6, "slos[0].objective", None),
    "percent-on-latency.yaml": (9, "slos[1].objective", None),
    "unknown-probe.yaml": (8, "slos[0].sli", "did you mean `checkout-health`"),
    "duplicate-slo-names.yaml": (5, "slos[1].name", None),
    "unknown-target.yaml": (3, "target", "did you mean `sandbox`"),
    "missing-required.yaml": (7, "timeline.faults[0].pod-kill.namespace", None),
    "guard-above-and-below.yaml": (8, "safety.abort_when[0]", None),
    "unset-env.yaml": (6, "probes[0].postgres.dsn", "HARNESS_TEST_SURELY_UNSET"),
    "top-level-list.yaml": (1, "", None),
    "recovery-time-window.yaml": (7, "slos[0].window", None),
    "not-allowed-namespace.yaml": (6, "timeline.faults[0].deployment-scale.namespace", None),
    "bad-guard-for.yaml": (10, "safety.abort_when[0].for", None),
    "duplicate-key.yaml": (6, "timeline", None),
    "several-problems.yaml": (1, "name", None),
}


def test_every_broken_fixture_has_an_expectation() -> None:
    assert {p.name for p in BROKEN.glob("*.yaml")} == set(BROKEN_EXPECTED)
    assert len(BROKEN_EXPECTED) >= 15


def _refuse(path: Path) -> list[Problem]:
    with pytest.raises(InvalidExperiment) as info:
        load_experiment(path, targets_path=TARGETS)
    assert info.value.problems
    return info.value.problems


@pytest.mark.parametrize("name", sorted(BROKEN_EXPECTED))
def test_broken_fixture_refused(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_TEST_SURELY_UNSET", raising=False)
    line, field, hint = BROKEN_EXPECTED[name]
    problems = _refuse(BROKEN / name)
    matching = [p for p in problems if p.line == line and field in p.field]
    assert matching, "\n".join(str(p) for p in problems)
    assert all(p.file == str(BROKEN / name) for p in problems)
    if hint is not None:
        assert any(hint in (p.hint or "") for p in matching), [str(p) for p in matching]


def test_several_problems_all_reported() -> None:
    problems = _refuse(BROKEN / "several-problems.yaml")
    got = {(p.line, p.field) for p in problems}
    assert got >= {
        (1, "name"), (3, "load.users"), (5, "slos[0].sli"), (6, "slos[1].windw"),
        (11, "timeline.faults[0].pod-kill.namespace"), (12, "timeline.recovery"),
    }
    windw = next(p for p in problems if p.field == "slos[1].windw")
    assert windw.hint == "did you mean `window`?"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


ENV_EXPERIMENT = """\
name: env-probe
title: DSN from the environment
probes:
  - name: db
    postgres: {dsn: "postgresql://shop:${env:HARNESS_TEST_PG_PASSWORD}@127.0.0.1:5432/shop"}
slos:
  - {name: db-up, sli: probe.db.success_ratio, objective: ">= 90%"}
timeline: {baseline: 1s, recovery: 1s}
"""


def test_env_substitution_and_redact(tmp_path: Path) -> None:
    path = _write(tmp_path, ENV_EXPERIMENT)
    loaded = load_experiment(path, targets_path=TARGETS, environ={"HARNESS_TEST_PG_PASSWORD": "s3cr3t-pw"})
    dsn = loaded.experiment.probes[0].params.dsn  # type: ignore[attr-defined]
    assert dsn == "postgresql://shop:s3cr3t-pw@127.0.0.1:5432/shop"
    assert loaded.secrets == frozenset({"s3cr3t-pw"})
    assert "${env:HARNESS_TEST_PG_PASSWORD}" in loaded.source_text
    assert loaded.redact(f"connect {dsn} failed") == "connect postgresql://shop:***@127.0.0.1:5432/shop failed"


def test_unset_env_names_the_variable_not_a_value(tmp_path: Path) -> None:
    path = _write(tmp_path, ENV_EXPERIMENT)
    with pytest.raises(InvalidExperiment) as info:
        load_experiment(path, targets_path=TARGETS, environ={})
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (5, "probes[0].postgres.dsn")
    assert "HARNESS_TEST_PG_PASSWORD" in problem.message


def test_targets_file_problems_point_into_it(tmp_path: Path) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        "targets:\n  staging:\n    kind: gke\n    context: ctx\n    projct: p\n    region: r\n"
        "    site_url: https://shop.example\n    postgres: {dsn: 'postgresql://u:${env:HARNESS_TEST_NOPE}@db/shop'}\n"
    )
    path = _write(tmp_path, "name: t\ntitle: t\ntarget: staging\ntimeline: {baseline: 1s, recovery: 1s}\n"
                        "slos: [{name: r, sli: recovery_time, objective: '<= 5s'}]\n")
    with pytest.raises(InvalidExperiment) as info:
        load_experiment(path, targets_path=targets, environ={})
    found = {(Path(p.file).name, p.line, p.field): p for p in info.value.problems}
    assert ("targets.yaml", 5, "targets.staging.projct") in found
    assert found[("targets.yaml", 5, "targets.staging.projct")].hint == "did you mean `project`?"
    assert ("targets.yaml", 2, "targets.staging.project") in found  # missing: the entry's line
    assert ("targets.yaml", 8, "targets.staging.postgres.dsn") in found


def test_gke_target_loads_with_env(tmp_path: Path) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        "targets:\n  staging: {kind: gke, context: c, project: p, region: europe-west1,"
        " site_url: 'https://shop.example', postgres: {dsn: 'postgresql://u:${env:PW}@db/shop'}}\n"
    )
    path = _write(tmp_path, "name: t\ntitle: t\ntarget: staging\ntimeline: {baseline: 1s, recovery: 1s}\n"
                        "slos: [{name: r, sli: recovery_time, objective: '<= 5s'}]\n")
    loaded = load_experiment(path, targets_path=targets, environ={"PW": "hunter22"})
    assert loaded.target.kind == "gke" and loaded.target.name == "staging"
    assert loaded.redact(loaded.target.postgres.dsn) == "postgresql://u:***@db/shop"  # type: ignore[union-attr]


def test_max_duration_and_blast_radius(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
name: long
title: too long and too wide
slos: [{name: r, sli: recovery_time, objective: "<= 5s"}]
timeline:
  baseline: 10m
  faults:
    - pod-kill: {namespace: shop, selector: app=cart, fraction: 0.8}
  recovery: 25m
""")
    problems = _refuse(path)
    fields = {p.field for p in problems}
    assert {"timeline", "timeline.faults[0].pod-kill.fraction"} <= fields


def test_missing_fault_kind_and_two_kinds(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
name: kinds
title: no kind, two kinds
timeline:
  baseline: 1s
  faults:
    - at: 1s
    - at: 2s
      pod-kill: {namespace: shop, selector: app=cart, count: 1}
      deployment-scale: {namespace: shop, name: cart, replicas: 0, duration: 5s}
  recovery: 1s
""")
    problems = {(p.line, p.field): p for p in _refuse(path)}
    assert "missing the fault kind" in problems[(6, "timeline.faults[0]")].message
    assert "exactly one fault kind" in problems[(9, "timeline.faults[1].deployment-scale")].message


def test_registry_rejects_duplicates() -> None:
    registry: Registry[FaultParams] = Registry("fault", FaultParams)
    registry.register(PodKill)

    class Impostor(PodKill):
        """Another class claiming pod-kill."""

    with pytest.raises(DuplicateKind):
        registry.register(Impostor)
    assert registry.get("pod-kill") is PodKill and registry.params("pod-kill") is PodKillParams
    assert registry.get("nope") is None
    assert registry.suggest("pod-kil") == "pod-kill"
    assert "pod-kill" in FAULTS and "http" in PROBES


@pytest.mark.parametrize("kind", sorted(MINIMAL_FAULTS))
def test_every_params_model_answers_namespaces(kind: str) -> None:
    params = fault_class(kind).Params.model_validate(filled(MINIMAL_FAULTS[kind], 1))
    assert isinstance(params, FaultParams)
    assert params.namespaces() == NAMESPACES.get(kind, [])


def test_zone_faults_answer_every_workload_namespace() -> None:
    params = fault_class("zone-outage").Params.model_validate(
        {**MINIMAL_FAULTS["zone-outage"], "workload_namespaces": ["shop", "payments"]})
    assert params.namespaces() == ["shop", "payments"]


def _descriptions_missing(schema: dict[str, Any], where: str = "") -> list[str]:
    missing = []
    for name, prop in schema.get("properties", {}).items():
        if "description" not in prop:
            missing.append(f"{where}.{name}")
    return missing


def test_json_schema_has_descriptions() -> None:
    schema = json_schema()
    json.dumps(schema)
    assert schema["properties"]["timeline"]["description"]
    defs = schema["$defs"]
    missing = _descriptions_missing(schema)
    for name, sub in defs.items():
        missing += _descriptions_missing(sub, name)
    assert missing == []
    fault = defs["FaultStep"]
    assert "pod-kill" in fault["properties"] and "kind" not in fault["properties"]
    assert fault["properties"]["pod-kill"]["properties"]["fraction"]["description"]
    assert "for" in defs["Guard"]["properties"]


def test_all_params_models_have_field_descriptions() -> None:
    models = [FAULTS.params(k) for k in FAULTS] + [PROBES.params(k) for k in PROBES]
    for model in models:
        assert model is not None
        assert all(f.description for f in model.model_fields.values()), model


def test_hints_inside_fault_params(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
name: hints
title: misspelt values inside a fault
timeline:
  baseline: 1s
  faults:
    - pod-kill: {namespce: shop, selector: app=x, count: 1, order: oldst}
  recovery: 1s
""")
    problems = {p.field: p for p in _refuse(path)}
    assert problems["timeline.faults[0].pod-kill.namespce"].hint == "did you mean `namespace`?"
    assert problems["timeline.faults[0].pod-kill.order"].hint == "did you mean `oldest`?"
    assert problems["timeline.faults[0].pod-kill.namespace"].line == 6


def test_an_experiment_without_slos_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: t\ntitle: t\nslos: []\ntimeline: {baseline: 1s, recovery: 1s}\n")
    problems = _refuse(path)
    assert [p.field for p in problems] == ["slos"] and problems[0].line == 3


def test_window_fault_on_a_one_shot_fault_needs_a_hold(tmp_path: Path) -> None:
    text = """\
name: t
title: t
slos: [{name: errors, sli: recovery_time, objective: "<= 5s"}, {name: f, sli: probe.p.success_ratio, objective: ">= 90%", window: fault}]
probes: [{name: p, http: {url: /}}]
timeline:
  baseline: 1s
  faults:
    - pod-kill: {namespace: shop, selector: app=cart, count: 1}
  recovery: 1s
"""
    problems = _refuse(_write(tmp_path, text))
    assert problems[0].field == "timeline.faults[0]" and "hold" in (problems[0].hint or "")
    loaded = load_experiment(_write(tmp_path, text.replace("count: 1}", "count: 1}\n      hold: 10s")))
    assert loaded.experiment.timeline.faults[0].held_for() == 10.0
