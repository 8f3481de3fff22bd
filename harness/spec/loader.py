"""The experiment spec: load a YAML experiment into typed frozen models, or report every problem.

    load_experiment(path)   -> LoadedExperiment (raises InvalidExperiment with every Problem)
    validate_paths(paths)   -> {path: [Problem, ...]}   (directories expand to *.yaml)
    json_schema()           -> the Experiment JSON Schema, for editors (`harness schema`)

Nothing here touches a cluster. ``${env:NAME}`` placeholders are substituted from the environment;
the substituted values are secrets that ``LoadedExperiment.redact`` hides.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.errors import InvalidExperiment, Problem
from harness.spec.checks import named_refs, semantic_findings, unknown_steps
from harness.spec.errors import validation_problems
from harness.spec.fieldtypes import Objective, parse_duration, parse_objective, parse_ratio
from harness.spec.models import (
    Experiment,
    FaultStep,
    Guard,
    LoadSpec,
    ProbeSpec,
    SafetySpec,
    SloSpec,
    Stage,
    SteadyStateSpec,
    TimelineSpec,
)
from harness.spec.sli import SLI_HELP
from harness.spec.steps import StepsUndeclared, catalogue_steps, declared_steps
from harness.spec.targets import GkeTarget, PostgresTarget, SandboxTarget, Target, resolve_target
from harness.spec.yamldoc import YamlDoc, duplicate_keys, parse_yaml, substitute_env, unset_env

__all__ = [
    "Experiment", "FaultStep", "GkeTarget", "Guard", "LoadSpec", "LoadedExperiment", "Objective",
    "PostgresTarget", "ProbeSpec", "SafetySpec", "SandboxTarget", "SloSpec", "Stage", "SteadyStateSpec",
    "Target", "TimelineSpec", "json_schema", "load_experiment", "parse_duration", "parse_objective",
    "parse_ratio", "validate_paths",
]

TARGETS_FILE = "targets.yaml"


@dataclass(frozen=True)
class LoadedExperiment:
    """A validated experiment with its source, resolved target and the secrets to redact."""

    path: Path
    source_text: str
    experiment: Experiment
    target: SandboxTarget | GkeTarget
    secrets: frozenset[str] = field(default_factory=frozenset)
    journeys: Path | None = None
    """The load's journeys file resolved to an absolute path (None without load)."""

    def redact(self, text: str) -> str:
        """``text`` with every secret value replaced by ``***`` (longest first)."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def repo_root(start: Path) -> Path:
    """The nearest ancestor of ``start`` holding pyproject.toml or .git; else the working directory."""
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").is_file() or (folder / ".git").exists():
            return folder
    return Path.cwd()


def default_targets_path(path: Path) -> Path:
    """targets.yaml next to the experiment, else ``<repo>/experiments/targets.yaml``."""
    beside = path.parent / TARGETS_FILE
    return beside if beside.is_file() else repo_root(path.resolve().parent) / "experiments" / TARGETS_FILE


def _journeys_raw(doc: YamlDoc) -> str | None:
    """``load.journeys`` as written (the default when omitted); None without load or on a wrong shape."""
    load = doc.data.get("load")
    if not isinstance(load, dict):
        return None
    raw = load.get("journeys", str(LoadSpec.model_fields["journeys"].default))
    return raw if isinstance(raw, str) else None


def _journeys(doc: YamlDoc, root: Path) -> tuple[Path | None, list[Problem]]:
    raw = _journeys_raw(doc)
    if raw is None:
        return None, []
    for base in (root, Path.cwd()):
        candidate = (base / raw).resolve()
        if candidate.is_file():
            return candidate, []
    return None, [doc.problem(("load", "journeys"), f"journeys file `{raw}` not found (looked in {root})",
                              "a Locust file path relative to the repository root")]


def _step_problems(doc: YamlDoc, journeys: Path | None) -> list[Problem]:
    """SLIs naming journey steps, checked against the STEPS the journeys file declares."""
    raw = _journeys_raw(doc)
    if journeys is None or raw is None or not named_refs(doc.data, "step"):
        return []
    try:
        steps = declared_steps(journeys, f"`{raw}`")
    except StepsUndeclared as exc:
        return [doc.problem(("load", "journeys"), f"{exc}, so its step SLIs cannot be checked", exc.hint)]
    return [doc.problem(loc, msg, hint) for loc, msg, hint in unknown_steps(doc.data, steps, f"`{raw}`")]


@dataclass
class _Loading:
    """Everything gathered while loading one file."""

    path: Path
    environ: Mapping[str, str]
    problems: list[Problem] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)


def _validate(doc: YamlDoc, state: _Loading) -> Experiment | None:
    state.problems += duplicate_keys(doc) + unset_env(doc, state.environ)
    data: dict[str, Any] = substitute_env(doc.data, state.environ, state.secrets)
    experiment = None
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as exc:
        state.problems += validation_problems(exc, doc, Experiment)
    state.problems += [doc.problem(loc, msg, hint) for loc, msg, hint in semantic_findings(data)]
    if experiment and experiment.timeline.planned_seconds() > experiment.safety.max_duration:
        msg = (f"the timeline lasts {experiment.timeline.planned_seconds():g}s, above "
               f"safety.max_duration {experiment.safety.max_duration:g}s")
        state.problems.append(doc.problem(("timeline",), msg, "shorten it or raise safety.max_duration"))
    return experiment


def _load(path: Path, targets_path: Path | None, environ: Mapping[str, str],
          target_override: str | None = None) -> tuple[Any, list[Problem]]:
    state = _Loading(path, environ)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), None, "", f"cannot read the file: {exc}")]
    doc, problems = parse_yaml(text, str(path))
    if doc is None:
        return None, problems
    if not isinstance(doc.data, dict):
        found = type(doc.data).__name__ if doc.data is not None else "an empty file"
        return None, [Problem(str(path), 1, "", f"expected a mapping of experiment fields, got {found}",
                              "start with `name: my-experiment`")]
    experiment = _validate(doc, state)
    journeys, more = _journeys(doc, repo_root(path.resolve().parent))
    state.problems += more + _step_problems(doc, journeys)
    name = target_override or doc.data.get("target", "sandbox")
    target = None
    if isinstance(name, str):
        tpath = targets_path or default_targets_path(path)
        target, more = resolve_target(name, tpath, doc, environ, state.secrets)
        state.problems += more
    if state.problems or experiment is None or target is None:
        return None, _sorted(state.problems)
    return LoadedExperiment(path, text, experiment, target, frozenset(state.secrets), journeys), []


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file, p.line or 0))


def load_experiment(
    path: Path,
    *,
    targets_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    target_override: str | None = None,
) -> LoadedExperiment:
    """Load and validate one experiment; raise InvalidExperiment listing EVERY problem found.

    ``targets_path`` defaults to targets.yaml beside the file, else ``<repo>/experiments/targets.yaml``;
    ``environ`` (default ``os.environ``) resolves ``${env:NAME}`` placeholders; ``target_override``
    (`harness run --target`) replaces the file's ``target:``.
    """
    env = os.environ if environ is None else environ
    loaded, problems = _load(Path(path), targets_path, env, target_override)
    if problems:
        raise InvalidExperiment(problems)
    return loaded  # type: ignore[no-any-return]


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(p for p in path.glob("*.yaml") if p.name not in (TARGETS_FILE, "freeze.yaml"))
        else:
            out.append(path)
    return out


def validate_paths(paths: list[Path], *, targets_path: Path | None = None) -> dict[Path, list[Problem]]:
    """Validate files (directories expand to their *.yaml except targets.yaml and freeze.yaml): path -> problems."""
    results: dict[Path, list[Problem]] = {}
    for path in _expand(paths):
        try:
            load_experiment(path, targets_path=targets_path)
            results[path] = []
        except InvalidExperiment as exc:
            results[path] = exc.problems
    return results


def _with_steps(sli: dict[str, Any], catalogue: dict[str, tuple[str, ...]]) -> None:
    """Name the catalogue journeys' steps in an ``sli`` property: description and examples."""
    listed = "; ".join(f"{file}: {', '.join(steps)}" for file, steps in catalogue.items())
    sli["description"] = f"{sli.get('description', SLI_HELP)} Journey steps ({listed})."
    steps = [step for file_steps in catalogue.values() for step in file_steps]
    sli["examples"] = ["load.success_ratio", *(f"step.{step}.p95" for step in dict.fromkeys(steps))]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of an experiment file (with every field's description), for editors; the steps
    of the catalogue's journeys files are in ``x-journey-steps`` and in the ``sli`` fields."""
    schema = Experiment.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Resilience experiment"
    catalogue = catalogue_steps()
    schema["x-journey-steps"] = {file: list(steps) for file, steps in catalogue.items()}
    for model in ("SloSpec", "Guard") if catalogue else ():
        _with_steps(schema["$defs"][model]["properties"]["sli"], catalogue)
    return schema
