"""What every command module shares: exit codes, printing to stderr, loading an experiment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import InvalidExperiment, Problem

if TYPE_CHECKING:
    from harness.spec.loader import LoadedExperiment

EXIT_OK, EXIT_SLO, EXIT_INVALID, EXIT_ABORTED, EXIT_REVERT = 0, 1, 2, 3, 4


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load(path: str, target: str | None) -> LoadedExperiment:
    """Load and validate one experiment; ``--target`` (when given) replaces its `target:`."""
    from harness.spec.loader import load_experiment

    if target is not None:
        check_target_flag(Path(path), target)
    return load_experiment(Path(path), target_override=target)


def check_target_flag(path: Path, target: str) -> None:
    """A bad ``--target`` is blamed on the flag, not on the experiment's `target:` line."""
    import yaml

    from harness.spec.kinds import did_you_mean
    from harness.spec.loader import default_targets_path

    tpath = default_targets_path(path)
    names = ["sandbox"]
    if tpath.is_file():
        data = yaml.safe_load(tpath.read_text(encoding="utf-8")) or {}
        names = [str(k) for k in (data.get("targets") or {})] if isinstance(data, dict) else []
    if target not in names:
        hint = did_you_mean(target, names) or f"targets: {', '.join(names)}"
        where = tpath if tpath.is_file() else "the built-in targets"
        raise InvalidExperiment([Problem("--target", None, "", f"unknown target `{target}` (not in {where})", hint)])
