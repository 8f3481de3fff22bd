"""Game-day files (``experiments/gamedays/*.yaml``): a planned series of experiments, validated like
an experiment (file:line, field, what was expected, a hint), and every experiment it names loaded too.

```yaml
name: weekly-staging
title: Tuesday game day on staging
target: sandbox
owners: [team-sre]
runbook: https://wiki.example.com/runbooks/game-day
experiments:
  - ../checkout-pod-kill.yaml        # a path relative to this file
  - tags: [gameday, capacity]         # every catalogue experiment carrying all these tags
order: listed                         # or shuffled (seeded: `seed:`)
between: {pause: 30s, deployments_ready: true, steady_state: true, timeout: 3m}
stop_on: breach                       # breach | abort | never
schedule: {cron: "0 9 * * 2", timezone: Europe/Paris}
```
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator

from harness.errors import InvalidExperiment, Problem
from harness.spec.errors import validation_problems
from harness.spec.fieldtypes import Duration
from harness.spec.models import SLUG, Frozen
from harness.spec.yamldoc import YamlDoc, duplicate_keys, read_yaml

StopOn = Literal["breach", "abort", "never"]
STOP_AT: dict[str, int] = {"breach": 1, "abort": 3, "never": 4}
"""The lowest exit code of a run that stops the game day (4, a failed revert, always does)."""


class TagSelection(Frozen):
    """Every experiment of a catalogue folder that carries all the given tags, by file name."""

    tags: list[str] = Field(min_length=1, description="Tags an experiment must all carry.")
    catalogue: str = Field(default="..", alias="from",
                           description="Folder of experiments, relative to the game-day file (default ..).")


class Between(Frozen):
    """What happens between two experiments: wait until the shop is whole, then pause."""

    pause: Duration = Field(default=10.0, description="Pause after the shop is whole, e.g. 30s.")
    deployments_ready: bool = Field(
        default=True, description="Wait until every deployment of the namespaces has all replicas ready.")
    steady_state: bool = Field(
        default=True, description="Wait until the next experiment's steady-state probes pass.")
    namespaces: list[str] | None = Field(
        default=None, description="Namespaces to check; default the experiments' allowed_namespaces and the target's.")
    timeout: Duration = Field(default=180.0, gt=0, description="Give up (and stop the game day) after this long.")


class Schedule(Frozen):
    """When the game day runs: a cron expression in a time zone."""

    cron: str = Field(description="Five-field cron expression, e.g. '0 9 * * 2' (Tuesdays at 09:00).")
    timezone: str = Field(default="UTC", description="IANA time zone of the cron expression, e.g. Europe/Paris.")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"not a five-field cron expression: {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name like Europe/Paris)") from exc
        return value


class GameDay(Frozen):
    """A game day: experiments run in order against one target while engineers watch."""

    name: str = Field(pattern=SLUG, description="Game-day name, used in its report folder's name.")
    title: str = Field(min_length=1, description="One line shown in reports.")
    target: str = Field(default="sandbox", description="Target from targets.yaml; replaces each experiment's.")
    experiments: list[str | TagSelection] = Field(
        min_length=1, description="Experiment paths relative to this file, or `tags:` selections, in order.")
    order: Literal["listed", "shuffled"] = Field(default="listed", description="listed, or shuffled with `seed`.")
    seed: int | None = Field(default=None, description="Seed of the shuffled order (default: random, recorded).")
    between: Between = Field(default_factory=Between, description="Wait for the shop to be whole, then pause.")
    stop_on: StopOn = Field(default="abort", description="breach: stop after a failed run; abort: after an "
                            "aborted or interrupted one; never: run them all (a failed revert always stops).")
    schedule: Schedule | None = Field(default=None, description="When it runs (`harness gameday next`).")
    owners: list[str] = Field(default_factory=list, description="Teams or people who run it.")
    runbook: str | None = Field(default=None, description="Link to the game day's runbook.")


@dataclass(frozen=True)
class LoadedGameDay:
    """A validated game day and the experiment files it runs, in order."""

    path: Path
    gameday: GameDay
    experiments: tuple[Path, ...]


def _tagged(folder: Path, tags: list[str]) -> list[Path]:
    import yaml

    found = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and "timeline" in data and set(tags) <= set(data.get("tags") or []):
            found.append(path)
    return found


def _resolve(doc: YamlDoc, gd: GameDay, base: Path) -> tuple[list[Path], list[Problem]]:
    paths: list[Path] = []
    problems: list[Problem] = []
    for i, ref in enumerate(gd.experiments):
        if isinstance(ref, str):
            path = (base / ref).resolve()
            if not path.is_file():
                problems.append(doc.problem(("experiments", i), f"experiment file `{ref}` not found (in {base})",
                                            "a path relative to the game-day file"))
            paths.append(path)
            continue
        found = _tagged((base / ref.catalogue).resolve(), ref.tags)
        if not found:
            problems.append(doc.problem(("experiments", i, "tags"), f"no experiment in `{ref.catalogue}` carries "
                                        f"all of {', '.join(ref.tags)}", "check the tags or `from:`"))
        paths += found
    return list(dict.fromkeys(paths)), problems


def ordered(paths: list[Path], gd: GameDay) -> tuple[list[Path], int | None]:
    """The run order (and the seed used when shuffled)."""
    if gd.order == "listed":
        return paths, None
    seed = gd.seed if gd.seed is not None else random.SystemRandom().randrange(2**31)
    shuffled = list(paths)
    random.Random(seed).shuffle(shuffled)
    return shuffled, seed


def load_gameday(path: Path) -> LoadedGameDay:
    """Load and validate a game-day file; InvalidExperiment with every problem (file:line, field, hint).

    The experiments it names are resolved (paths must exist, tag selections must match) but not loaded:
    ``harness gameday run`` loads them all before running any."""
    path = Path(path)
    doc = read_yaml(path)
    if not isinstance(doc.data, dict):
        raise InvalidExperiment([Problem(str(path), 1, "", "expected a mapping of game-day fields",
                                         "start with `name: my-game-day`")])
    problems = duplicate_keys(doc)
    data: Any = doc.data
    try:
        gd = GameDay.model_validate(data)
    except ValidationError as exc:
        raise InvalidExperiment(problems + validation_problems(exc, doc, GameDay)) from exc
    paths, more = _resolve(doc, gd, path.resolve().parent)
    if problems or more:
        raise InvalidExperiment(problems + more)
    return LoadedGameDay(path, gd, tuple(paths))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a game-day file, for editors (`harness gameday schema`)."""
    schema = GameDay.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Game day"
    return schema
