"""An experiment's run as an Allure test (only with ``--alluredir``: allure-pytest's listener is active).

Labels: owner, target, severity (from the tags, ``harness.report.allure_model.severity``), the tags
themselves (allure-pytest turns the item's markers into ``tag`` labels), and ``target`` as a parameter,
so Allure's history and trend follow one experiment on one target across builds (its history id is
the item's node id, ``experiments/<file>.yaml::<name>``, plus that parameter). Steps are built from the
run folder after the run (``allure_model``) with their real times. Attachments: report.html,
summary.md, the report's timeline charts (SVG), events.jsonl, run.json, and gate.json when gating.
Every run also refreshes ``environment.properties`` in the results folder: targets, cluster, kubelet
and harness versions, and every workload's image (the app versions under test).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.journal import read_journal
from harness.report import allure_model
from harness.report.allure_model import Step

if TYPE_CHECKING:
    from harness.pytest_plugin.items import ExperimentItem
    from harness.report.gate import GateVerdict

_FACTS = pytest.StashKey[dict[str, dict[str, str]]]()
_FILES = (("report.html", "text/html", "html"), ("summary.md", "text/markdown", "md"),
          ("events.jsonl", "text/plain", "jsonl"), ("run.json", "application/json", "json"),
          ("gate.json", "application/json", "json"))


def _listener(config: pytest.Config) -> Any:
    return config.pluginmanager.get_plugin("allure_listener")


def _allure() -> Any:
    """allure-pytest's user API (untyped: called through Any)."""
    import allure

    return allure


def _labels(item: ExperimentItem, target: str) -> None:
    allure = _allure()
    exp = item.loaded.experiment
    allure.dynamic.title(exp.title or exp.name)
    allure.dynamic.description("\n\n".join(x for x in (exp.description, f"experiment file: `{item.path.name}`") if x))
    if exp.owner:
        allure.dynamic.label("owner", exp.owner)
    allure.dynamic.label("target", target)
    allure.dynamic.label("severity", allure_model.severity(exp.tags))
    allure.dynamic.parameter("target", target)


def _model(step: Step) -> Any:
    from allure_commons.model2 import StatusDetails, TestStepResult

    return TestStepResult(name=step.title, status=step.status, start=round(step.start * 1000),
                          stop=round(step.stop * 1000), stage="finished",
                          statusDetails=StatusDetails(message=step.message) if step.message else None,
                          steps=[_model(c) for c in step.children])


def _add_steps(config: pytest.Config, steps: list[Step]) -> None:
    """Append finished steps to the running test (allure-pytest's current test result)."""
    test = _listener(config).allure_logger.get_test(None)
    if test is not None:
        test.steps.extend(_model(s) for s in steps)


def _gate_step(gate: GateVerdict, at: float) -> Step:
    rows = tuple(Step(f"{what}: baseline {base}, now {now}", at, at, allure_model.FAILED, rule)
                 for what, base, now, rule in gate.table())
    return Step(gate.headline(), at, at, allure_model.FAILED if gate.regressed else allure_model.PASSED,
                children=rows)


def _attach(run_dir: Path) -> None:
    allure = _allure()
    for name, mime, ext in _FILES:
        if (run_dir / name).is_file():
            allure.attach.file(str(run_dir / name), name=name, attachment_type=mime, extension=ext)
    try:
        charts = allure_model.timeline_charts(run_dir)
    except Exception as exc:  # noqa: BLE001 - a chart is a by-product; the verdict stands without it
        allure.attach(f"{type(exc).__name__}: {exc}", name="timeline chart could not be drawn",
                      attachment_type=allure.attachment_type.TEXT)
        return
    for name, svg in charts.items():
        allure.attach(svg, name=f"timeline: {name}", attachment_type=allure.attachment_type.SVG)


def _environment(config: pytest.Config, key: str, facts: dict[str, str]) -> None:
    """Record this experiment's facts and rewrite environment.properties from all of the session's."""
    results = Path(config.getoption("allure_report_dir"))
    every = config.stash.setdefault(_FACTS, {})
    every[key] = facts
    results.mkdir(parents=True, exist_ok=True)
    (results / "environment.properties").write_text(allure_model.properties_text(allure_model.merge_facts(every.values())))


def report_run(item: ExperimentItem, result: dict[str, Any], gate: GateVerdict | None) -> None:
    """Labels, steps, attachments and environment of one finished run (nothing without --alluredir)."""
    if _listener(item.config) is None:
        return
    run_dir = Path(result["run_dir"])
    target = str(result.get("target") or item.loaded.experiment.target)
    _labels(item, target)
    events = read_journal(run_dir / "events.jsonl") if (run_dir / "events.jsonl").exists() else []
    steps = allure_model.phase_steps(events) + allure_model.slo_steps(result)
    if gate is not None:
        steps.append(_gate_step(gate, allure_model.epoch(result.get("ended")) or 0.0))
    _add_steps(item.config, steps)
    _attach(run_dir)
    _environment(item.config, item.nodeid, allure_model.environment_facts(result))


def report_plan(item: ExperimentItem, plan_text: str, refusals: list[str]) -> None:
    """A plan-only test: its labels and the plan as an attachment."""
    if _listener(item.config) is None:
        return
    allure = _allure()
    target = str(getattr(item.loaded.target, "name", "") or item.loaded.experiment.target)
    _labels(item, target)
    allure.dynamic.parameter("mode", "plan-only")
    allure.attach(plan_text, name="plan", attachment_type=allure.attachment_type.TEXT)
    for reason in refusals:
        allure.attach(reason, name="refused", attachment_type=allure.attachment_type.TEXT)
    _environment(item.config, item.nodeid, {"target": target})
