"""``harness doctor [--target T] [EXPERIMENT...]``: before anything runs, check that every endpoint the
experiments need answers and every permission they need is granted (harness.plan.doctor); a table with
how to fix each failure, exit 2 when anything failed. ``harness run`` runs the same checks first."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.cli.common import EXIT_INVALID, EXIT_OK, err
from harness.cli.rbac import load_all
from harness.clients.connect import resolve_connection
from harness.plan.doctor import Report, Result, doctor
from harness.spec.loader import LoadedExperiment

CATALOGUE = Path("experiments")
STYLE = {Result.OK: "green", Result.FAILED: "bold red", Result.UNCHECKED: "yellow"}


def add_parsers(sub: Any) -> None:
    d = sub.add_parser("doctor", help="check every endpoint and permission experiments need, before running them")
    d.add_argument("paths", nargs="*", type=Path,
                   help=f"experiment or game-day files, or folders of experiments (default {CATALOGUE}/)")
    d.add_argument("--target", default=None, help="target name, instead of each experiment's")
    d.add_argument("--format", choices=("table", "json"), default="table", help="output (default table)")
    d.set_defaults(fn=cmd_doctor)


def _target(loaded: LoadedExperiment) -> str:
    return str(getattr(loaded.target, "name", "") or loaded.experiment.target)


async def check_experiments(loaded: Sequence[LoadedExperiment]) -> list[tuple[str, Report]]:
    """The doctor's report for ``loaded``, one per target they run on."""
    by_target: dict[str, list[LoadedExperiment]] = {}
    for x in loaded:
        by_target.setdefault(_target(x), []).append(x)
    out = []
    for name, group in by_target.items():
        conn = resolve_connection(group[0].target)
        out.append((name, await doctor([(x.experiment, x.target.lease.namespace) for x in group], conn)))
    return out


def failed(reports: Sequence[tuple[str, Report]]) -> bool:
    return any(r.failed for _, r in reports)


def print_table(reports: Sequence[tuple[str, Report]], stream: TextIO | None = None) -> None:
    """The reports as rich tables (one per target), with a verdict line."""
    out = stream or sys.stdout
    console = Console(file=out, width=None if out.isatty() else 200, soft_wrap=False)
    for name, report in reports:
        table = Table(title=f"harness doctor: target {name} ({report.seconds:.1f}s)", show_lines=False)
        for column in ("check", "needed for", "result", "how to fix"):
            table.add_column(column, overflow="fold")
        for row in report.rows:
            result = str(row.result) + (f": {row.detail}" if row.result != Result.OK else "")
            table.add_row(escape(row.check), escape(", ".join(row.needed_for)),
                          f"[{STYLE[row.result]}]{escape(result)}[/]", escape(row.fix))
        console.print(table)
    bad = sum(len(r.failed) for _, r in reports)
    total = sum(len(r.rows) for _, r in reports)
    console.print(f"[bold red]{bad} of {total} checks FAILED[/]" if bad else f"[green]all {total} checks ok[/]")


def as_json(reports: Sequence[tuple[str, Report]]) -> str:
    return json.dumps({"ok": not failed(reports), "targets": [
        {"target": name, "seconds": round(r.seconds, 3), "rows": [row.as_dict() for row in r.rows]}
        for name, r in reports]}, indent=2)


def preflight(loaded: Sequence[LoadedExperiment]) -> bool:
    """``harness run``'s first step: the doctor's checks for ``loaded``. False (the table on stderr) when
    one failed; one line on stderr otherwise."""
    reports = asyncio.run(check_experiments(loaded))
    if failed(reports):
        print_table(reports, sys.stderr)
        err("refused: a check of `harness doctor` failed (above): nothing was run or injected "
            "(--skip-doctor runs anyway)")
        return False
    rows = [row for _, r in reports for row in r.rows]
    unchecked = [row for row in rows if row.result == Result.UNCHECKED]
    seconds = sum(r.seconds for _, r in reports)
    err(f"doctor: {len(rows) - len(unchecked)} checks ok in {seconds:.1f}s"
        + "".join(f"; not checked: {row.check} ({row.detail})" for row in unchecked))
    return True


def cmd_doctor(args: argparse.Namespace) -> int:
    loaded = load_all(list(args.paths) or [CATALOGUE], args.target)
    reports = asyncio.run(check_experiments(loaded))
    if args.format == "json":
        print(as_json(reports))
    else:
        print_table(reports)
    return EXIT_INVALID if failed(reports) else EXIT_OK
