"""The harness as a pytest plugin: experiment files are tests (entry point ``pytest11``, loaded once the
package is installed).

    pytest experiments/checkout-pod-kill.yaml --junitxml junit.xml --alluredir allure-results
    pytest experiments/ -m pre_release --harness-target gke-staging --harness-gate
    pytest experiments/ --harness-plan-only          # validate and plan, inject nothing
    pytest experiments/ --harness-skip-doctor        # without the endpoint and permission checks first

A YAML file is collected when it looks like an experiment: a mapping with a top-level ``timeline:`` or
``slos:`` and none of the keys of the other files that live beside experiments (``targets:``,
``experiments:`` of a game day, ``windows:`` of a freeze calendar). It is loaded and validated at
collection; an invalid one is a collection error with the harness's ``file:line: field: message``
problems. Each experiment is one test (``items``); its tags are markers (``pre-release`` →
``pre_release``). Before the first test runs (or is planned), the checks of ``harness doctor`` run once for
every collected experiment (harness.plan.preflight); a test whose experiment needs a failed check fails,
broken, naming the rows, and nothing is injected. Running a test runs the experiment in-process, one run folder each; its JUnit
properties and failure message come from ``harness.report.junit``, its Allure steps and attachments
from ``allure_out`` (when ``--alluredir`` is given).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.pytest_plugin.items import ExperimentFile, is_experiment


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "resilience experiments (the harness pytest plugin)")
    group.addoption("--harness-target", default=None, metavar="NAME",
                    help="run every experiment against this target of targets.yaml instead of its `target:`")
    group.addoption("--harness-reports", default="reports", metavar="DIR",
                    help="where run folders go (default: reports, from the working directory)")
    group.addoption("--harness-plan-only", action="store_true",
                    help="validate and plan against the live target, inject nothing (merge-request pipelines)")
    group.addoption("--harness-gate", action="store_true",
                    help="after each run, compare it with the last good run of the experiment on its target "
                         "and fail on a regression (as `harness gate`)")
    group.addoption("--harness-baseline-dir", default=None, metavar="DIR",
                    help="where --harness-gate looks for the last good run (default: --harness-reports)")
    group.addoption("--harness-seed", type=int, default=None, metavar="N",
                    help="seed for the random choice of fault targets")
    group.addoption("--harness-skip-doctor", action="store_true",
                    help="do not check endpoints and permissions before the first experiment (`harness doctor`); "
                         "a missing one then fails mid-run")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ExperimentFile | None:
    if file_path.suffix in (".yaml", ".yml") and is_experiment(file_path):
        return ExperimentFile.from_parent(parent, path=file_path)
    return None
