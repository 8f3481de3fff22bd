"""``harness doctor [--target T] [EXPERIMENT...]``: before anything runs, check that every endpoint the
experiments need answers and every permission they need is granted (harness.plan.doctor); a table with
how to fix each failure, exit 2 when anything failed. ``harness run``, ``harness gate`` and ``harness gameday
run`` run the same checks first (``preflight``)."""

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
from harness.plan.doctor import Report, Result
from harness.plan.preflight import check_experiments, preflight_checks
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


def preflight(loaded: Sequence[LoadedExperiment], skip: str = "--skip-doctor") -> bool:
    """The first step of ``harness run``, ``harness gate`` and ``harness gameday run``: the doctor's checks for
    ``loaded`` (harness.plan.preflight). False (the table and the refusal on stderr) when one failed; one line
    on stderr otherwise."""
    pre = preflight_checks(loaded)
    if not pre.ok:
        print_table(pre.reports, sys.stderr)
        err(pre.refusal(skip=skip).splitlines()[0] + " (the table above)")
        return False
    err(pre.summary())
    return True


def add_skip_flag(parser: Any) -> None:
    """``--skip-doctor`` on a command that runs experiments."""
    parser.add_argument("--skip-doctor", action="store_true",
                        help="do not check endpoints and permissions first (`harness doctor`); a missing one then "
                             "fails mid-run")


def cmd_doctor(args: argparse.Namespace) -> int:
    loaded = load_all(list(args.paths) or [CATALOGUE], args.target)
    reports = asyncio.run(check_experiments(loaded))
    if args.format == "json":
        print(as_json(reports))
    else:
        print_table(reports)
    return EXIT_INVALID if failed(reports) else EXIT_OK
