"""``harness rbac EXPERIMENT|GAMEDAY... [--namespace NS]``: the least-privilege Roles, ClusterRole and
bindings those experiments need, as YAML (``deploy/rbac.yaml`` is its output; see harness.plan.rbac)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

import yaml

from harness.plan.rbac import NAME, Subject, rbac_plan, render
from harness.spec.gameday import load_gameday
from harness.spec.loader import LoadedExperiment, load_experiment

DEFAULT_NAMESPACE = "shop-resilience"
"""Namespace of the harness's ServiceAccount (deploy/ creates it)."""


def add_parsers(sub: Any) -> None:
    r = sub.add_parser("rbac", help="print the least-privilege RBAC (Roles, ClusterRole, bindings) experiments need")
    r.add_argument("paths", nargs="+", type=Path, help="experiment or game-day files, or folders of experiments")
    r.add_argument("--namespace", default=DEFAULT_NAMESPACE,
                   help=f"namespace of the harness's ServiceAccount (default {DEFAULT_NAMESPACE})")
    r.add_argument("--service-account", default=NAME, help=f"its name (default {NAME})")
    r.add_argument("--target", default=None, help="target name (its lease namespace), instead of each file's")
    r.add_argument("--lease-namespace", default=None, help="namespace of the run's Lease, instead of the target's")
    r.add_argument("--output", "-o", type=Path, default=None, help="write to this file instead of stdout")
    r.set_defaults(fn=cmd_rbac)


def _is_gameday(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "experiments" in data and "timeline" not in data


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += [p for p in sorted(path.glob("*.yaml")) if p.name not in ("targets.yaml", "freeze.yaml")]
        else:
            out.append(path)
    return out


def load_all(paths: list[Path], target: str | None = None) -> list[LoadedExperiment]:
    """The experiments of ``paths`` (a game day's, with the game day's target), each once, in order."""
    loaded: dict[Path, LoadedExperiment] = {}
    for path in _files(paths):
        if _is_gameday(path):
            gd = load_gameday(path)
            for exp in gd.experiments:
                loaded.setdefault(exp.resolve(), load_experiment(exp, target_override=target or gd.gameday.target))
        else:
            loaded.setdefault(path.resolve(), load_experiment(path, target_override=target))
    return list(loaded.values())


def cmd_rbac(args: argparse.Namespace) -> int:
    experiments = load_all(list(args.paths), args.target)
    plan = rbac_plan((x.experiment, args.lease_namespace or x.target.lease.namespace) for x in experiments)
    command = "harness rbac " + " ".join(shlex.quote(str(p)) for p in args.paths)
    extra = {"namespace": None if args.namespace == DEFAULT_NAMESPACE else args.namespace,
             "lease-namespace": args.lease_namespace, "target": args.target}
    command += "".join(f" --{option} {shlex.quote(value)}" for option, value in extra.items() if value)
    text = render(plan, Subject(args.namespace, args.service_account), command)
    if args.output is None:
        print(text, end="")
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0
