"""``harness gate``: run experiments and compare each with its last good run (the pre-release gate)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli.common import EXIT_INVALID, EXIT_OK, EXIT_REVERT, err, load
from harness.cli.doctor import add_skip_flag, preflight
from harness.cli.experiments import run_and_print
from harness.cli.freeze import add_freeze_flags, check_freeze
from harness.report.gate import LAST_GOOD, judge, render_table
from harness.report.junit import JunitFile
from harness.report.regress import Rules


def add_parsers(sub: Any) -> None:
    g = sub.add_parser("gate", help="run experiments and fail on a regression against the last good run",
                       description="Run each experiment, then compare it with its baseline: the most recent passed "
                                   "run of the same experiment on the same target. Exit 1 on a regression "
                                   "(the rules: README, or the experiment's `gate:` section).")
    g.add_argument("experiments", nargs="+")
    g.add_argument("--target", default=None)
    g.add_argument("--reports", default="reports", help="where run folders go (default reports/)")
    g.add_argument("--baseline", default=LAST_GOOD,
                   help="last-good (default) or a run folder to compare with")
    g.add_argument("--baseline-dir", default=None,
                   help="where to look for the last good run (default: --reports; e.g. a pipeline artifact store)")
    g.add_argument("--seed", type=int, default=None)
    add_freeze_flags(g)
    add_skip_flag(g)
    g.add_argument("--junit", default=None, metavar="FILE",
                   help="also write JUnit XML: one testcase per experiment, the gate's verdict in its properties")
    g.set_defaults(fn=cmd_gate)


def cmd_gate(args: argparse.Namespace) -> int:
    if args.baseline != LAST_GOOD and not (Path(args.baseline) / "run.json").exists():
        err(f"--baseline {args.baseline}: not a run folder (no run.json); use last-good or a run folder")
        return EXIT_INVALID
    loaded_all = [load(p, args.target) for p in args.experiments]  # validate all before running any
    notes = check_freeze(args, loaded_all[0].path, [x.target.name for x in loaded_all])  # Refused in a window
    if not args.skip_doctor and not preflight(loaded_all):  # the table is printed; nothing was touched
        return EXIT_INVALID
    reports = Path(args.reports)
    worst = EXIT_OK
    with JunitFile(Path(args.junit) if args.junit else None) as junit:
        for loaded in loaded_all:
            junit.start(loaded.path, loaded.experiment.name)
            result = run_and_print(loaded, reports, args.seed, notes)
            code = int(result["exit_code"])
            if code == EXIT_REVERT:
                junit.add(result)
                return EXIT_REVERT  # the site is not whole: no comparison, no further runs
            rules = Rules(**loaded.experiment.gate.model_dump())
            verdict = judge(Path(result["run_dir"]), rules, args.baseline,
                            Path(args.baseline_dir) if args.baseline_dir else reports)
            junit.add(result, verdict)
            print(verdict.headline())
            if verdict.regressed:
                print("\n".join(render_table(verdict.table())))
            worst = max(worst, verdict.exit_code(code))
    return worst
