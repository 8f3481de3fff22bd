"""Experiment files as pytest collectors, experiments as pytest items."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from harness.errors import HarnessError, InvalidExperiment, Refused
from harness.report.junit import PREFIX, failure_message, properties

if TYPE_CHECKING:
    from harness.plan.preflight import Preflight
    from harness.report.gate import GateVerdict
    from harness.spec.loader import LoadedExperiment

EXPERIMENT_KEYS = frozenset({"timeline", "slos"})
OTHER_FILES = frozenset({"targets", "experiments", "windows"})
"""Top-level keys of the files that live beside experiments: targets.yaml, game days, freeze calendars."""
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)
_REGISTERED = pytest.StashKey[set[str]]()
_PREFLIGHT: pytest.StashKey[Preflight] = pytest.StashKey()


def top_level_keys(path: Path) -> set[str]:
    """The YAML's top-level keys; for a file YAML cannot parse, the keys written at column 0."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return set(_TOP_KEY.findall(text))
    return {str(k) for k in data} if isinstance(data, dict) else set()


def is_experiment(path: Path) -> bool:
    """Whether pytest should collect ``path`` as an experiment (see the package docstring)."""
    keys = top_level_keys(path)
    return bool(keys & EXPERIMENT_KEYS) and not keys & OTHER_FILES


def marker_name(tag: str) -> str:
    """An experiment tag as a marker name usable in ``-m``: ``pre-release`` → ``pre_release``."""
    return re.sub(r"\W", "_", tag)


@dataclass(frozen=True)
class Options:
    """The plugin's command-line options."""

    target: str | None
    reports: Path
    plan_only: bool
    gate: bool
    baseline_dir: Path | None
    seed: int | None
    skip_doctor: bool = False

    @classmethod
    def of(cls, config: pytest.Config) -> Options:
        base = config.getoption("harness_baseline_dir")
        return cls(config.getoption("harness_target"), Path(config.getoption("harness_reports")),
                   bool(config.getoption("harness_plan_only")), bool(config.getoption("harness_gate")),
                   Path(base) if base else None, config.getoption("harness_seed"),
                   bool(config.getoption("harness_skip_doctor")))


class ExperimentBroken(Exception):
    """The experiment could not be judged: refused, interrupted, a harness error, a failed revert. Allure
    shows it as *broken*; the message says why (``harness.report.junit``)."""


class ExperimentFailed(ExperimentBroken, AssertionError):
    """The site failed the experiment: an SLO breached, a guard aborted the run, or a regression. Allure
    shows it as *failed*."""


def _outcome(result: dict[str, Any], message: str) -> ExperimentBroken:
    guard = str(result.get("aborted_by") or "").startswith("guard:")
    return ExperimentFailed(message) if result["exit_code"] in (0, 1) or guard else ExperimentBroken(message)


class ExperimentFile(pytest.File):
    """One experiment YAML: loaded and validated at collection, one item."""

    def collect(self) -> Iterator[pytest.Item]:
        from harness.spec.loader import load_experiment

        try:
            loaded = load_experiment(self.path, target_override=self.config.getoption("harness_target"))
        except InvalidExperiment as exc:
            raise self.CollectError("\n".join(str(p) for p in exc.problems)) from exc
        item = ExperimentItem.from_parent(self, name=loaded.experiment.name, loaded=loaded)
        registered = self.config.stash.setdefault(_REGISTERED, set())
        for tag in loaded.experiment.tags:
            name = marker_name(tag)
            if name not in registered:  # before add_marker, so --strict-markers knows it
                self.config.addinivalue_line("markers", f"{name}: experiments tagged `{tag}`")
                registered.add(name)
            item.add_marker(name)
        yield item


class ExperimentItem(pytest.Item):
    """One experiment: running it runs the experiment (or only plans it) against its target."""

    def __init__(self, *, loaded: LoadedExperiment, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded = loaded
        self.result: dict[str, Any] | None = None

    def __repr__(self) -> str:
        marks = ", ".join(marker_name(t) for t in self.loaded.experiment.tags)
        return f"<Experiment {self.name}{f' [{marks}]' if marks else ''}>"

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"experiment {self.name}"

    def runtest(self) -> None:
        opts = Options.of(self.config)
        if not opts.skip_doctor:
            self._preflight()
        if opts.plan_only:
            self._plan_only(opts)
            return
        try:
            result = asyncio.run(_execute(self.loaded, opts))
        except Refused as exc:
            self._properties(("verdict", "refused"), ("exit_code", "2"))
            raise ExperimentBroken(f"{self.name}: REFUSED (exit 2), nothing was injected: {exc}") from exc
        self.result = result
        gate = _judge(self.loaded, result, opts) if opts.gate and result["exit_code"] != 4 else None
        self.user_properties += properties(result, gate)
        from harness.pytest_plugin import allure_out

        allure_out.report_run(self, result, gate)
        if result["exit_code"] == 4:
            self.session.shouldstop = f"{self.name}: a revert failed, the site is not whole (exit 4)"
        message = failure_message(result, gate)
        if message:
            raise _outcome(result, message)

    def _preflight(self) -> None:
        """The doctor's checks, run once per session for every collected experiment; broken (nothing
        injected) when a check this experiment needs failed."""
        pre = self.session.stash.get(_PREFLIGHT, None)
        if pre is None:
            from harness.plan.preflight import preflight_checks

            pre = preflight_checks([i.loaded for i in self.session.items if isinstance(i, ExperimentItem)])
            self.session.stash[_PREFLIGHT] = pre
        if pre.failed(self.loaded.experiment.name):
            self._properties(("verdict", "refused"), ("exit_code", "2"))
            raise ExperimentBroken(f"{self.name}: REFUSED by `harness doctor` (exit 2)\n"
                                   + pre.refusal(self.loaded.experiment.name, skip="--harness-skip-doctor"))

    def _plan_only(self, opts: Options) -> None:
        from harness.plan import schedule

        plan = asyncio.run(_plan(self.loaded, opts))
        exp = self.loaded.experiment
        text = "\n".join([f"plan for {exp.name} on target {_target(self.loaded)}:", *schedule.describe(exp),
                          "targets:", plan.describe(), *(f"warning: {w}" for w in schedule.warnings(exp))])
        print(text)
        verdict = "refused" if plan.refusals else "planned"
        self._properties(("mode", "plan-only"), ("verdict", verdict), ("target", _target(self.loaded)), ("plan", text))
        from harness.pytest_plugin import allure_out

        allure_out.report_plan(self, text, plan.refusals)
        if plan.refusals:
            raise ExperimentBroken("\n".join([f"{exp.name}: REFUSED by the plan (exit 2)",
                                              *(f"refused: {r}" for r in plan.refusals), text]))

    def _properties(self, *pairs: tuple[str, str]) -> None:
        self.user_properties += [(PREFIX + k, v) for k, v in pairs]

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, ExperimentBroken):
            return str(excinfo.value)
        if isinstance(excinfo.value, HarnessError):
            return f"{self.name}: {type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo, style)


def _target(loaded: LoadedExperiment) -> str:
    return str(getattr(loaded.target, "name", "") or loaded.experiment.target)


async def _execute(loaded: LoadedExperiment, opts: Options) -> dict[str, Any]:
    from harness.run import Run

    return await Run(loaded, reports=opts.reports, seed=opts.seed).execute()


async def _plan(loaded: LoadedExperiment, opts: Options) -> Any:
    """The plan ``harness plan`` prints: resolved against the live target, nothing injected."""
    from harness.run import Run

    return await Run(loaded, reports=opts.reports, seed=opts.seed).plan()


def _judge(loaded: LoadedExperiment, result: dict[str, Any], opts: Options) -> GateVerdict:
    from harness.report.gate import LAST_GOOD, judge
    from harness.report.regress import Rules

    rules = Rules(**loaded.experiment.gate.model_dump())
    return judge(Path(result["run_dir"]), rules, LAST_GOOD, opts.baseline_dir or opts.reports)
