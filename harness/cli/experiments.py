"""The experiment commands: validate, schema, plan, run, rollback, report."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cli.common import EXIT_INVALID, EXIT_OK, EXIT_REVERT, err, load
from harness.cli.freeze import add_freeze_flags, check_freeze
from harness.cli.render import print_result
from harness.errors import HarnessError
from harness.events import Event, RunStatus

if TYPE_CHECKING:
    from harness.plan.faults import PlanResult
    from harness.spec.loader import LoadedExperiment


def add_parsers(sub: Any) -> None:
    v = sub.add_parser("validate", help="check experiments without touching anything")
    v.add_argument("paths", nargs="+")
    v.set_defaults(fn=cmd_validate)
    s = sub.add_parser("schema", help="print the experiment JSON Schema")
    s.set_defaults(fn=cmd_schema)
    pl = sub.add_parser("plan", help="resolve targets against the live target and print what would be hit")
    pl.add_argument("experiment")
    pl.add_argument("--target", default=None)
    pl.set_defaults(fn=cmd_plan)
    r = sub.add_parser("run", help="run experiments; one run folder each")
    r.add_argument("experiments", nargs="+")
    r.add_argument("--target", default=None)
    r.add_argument("--dry-run", action="store_true", help="stop after the plan")
    r.add_argument("--reports", default="reports", help="where run folders go (default reports/)")
    r.add_argument("--seed", type=int, default=None, help="seed for random target choice")
    r.add_argument("--junit", default=None, metavar="FILE",
                   help="also write JUnit XML: one testcase per experiment, its measured values as properties")
    r.add_argument("--skip-doctor", action="store_true",
                   help="do not check endpoints and permissions first (`harness doctor`); a missing one then "
                        "fails mid-run")
    add_freeze_flags(r)
    r.set_defaults(fn=cmd_run)
    rb = sub.add_parser("rollback", help="revert whatever a run injected and did not revert")
    rb.add_argument("run_dir")
    rb.add_argument("--targets", default=None,
                    help="targets.yaml to take the target's credentials from, ${env:NAME} read from the environment "
                         "(default ./targets.yaml, else experiments/targets.yaml)")
    rb.add_argument("--target", default=None, help="target name (default: the one the run journaled)")
    rb.set_defaults(fn=cmd_rollback)
    rp = sub.add_parser("report", help="rebuild a run folder's run.json, summary.md and report.html from its journal")
    rp.add_argument("run_dir")
    rp.add_argument("--targets", default=None, help="targets.yaml to resolve the experiment's target with")
    rp.set_defaults(fn=cmd_report)


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.spec.loader import validate_paths

    results = validate_paths([Path(p) for p in args.paths])
    bad = 0
    for path, problems in results.items():
        if problems:
            bad += 1
            for problem in problems:
                err(str(problem))
        else:
            print(f"{path}: ok")
            _warn_samples(path)
    return EXIT_INVALID if bad else EXIT_OK


def _warn_samples(path: Path) -> None:
    from harness.plan import schedule
    from harness.spec.loader import load_experiment

    for text in schedule.warnings(load_experiment(path).experiment):
        err(f"{path}: warning: {text}")


def cmd_schema(args: argparse.Namespace) -> int:
    from harness.spec.loader import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


async def _plan(loaded: LoadedExperiment) -> PlanResult:
    from harness.run import Run

    return await Run(loaded, reports=Path("reports")).plan()


def cmd_plan(args: argparse.Namespace) -> int:
    from harness.plan import schedule

    loaded = load(args.experiment, args.target)
    plan = asyncio.run(_plan(loaded))
    print(f"plan for {loaded.experiment.name} on target {loaded.target.name or loaded.experiment.target}:")
    print("\n".join(schedule.describe(loaded.experiment)))
    print("targets:")
    print(plan.describe())
    if plan.refusals:
        for reason in plan.refusals:
            err(f"refused: {reason}")
        return EXIT_INVALID
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    if args.dry_run:
        codes = [cmd_plan(argparse.Namespace(experiment=p, target=args.target)) for p in args.experiments]
        return max(codes)
    from harness.report.junit import JunitFile

    loaded_all = [load(p, args.target) for p in args.experiments]  # validate all before running any
    notes = check_freeze(args, loaded_all[0].path, [x.target.name for x in loaded_all])  # Refused in a window
    if not args.skip_doctor:
        from harness.cli.doctor import preflight

        if not preflight(loaded_all):  # the table is printed; nothing was touched
            return EXIT_INVALID
    worst = EXIT_OK
    with JunitFile(Path(args.junit) if args.junit else None) as junit:
        for i, loaded in enumerate(loaded_all):
            junit.start(loaded.path, loaded.experiment.name)
            result = run_and_print(loaded, Path(args.reports), args.seed, notes)
            junit.add(result)
            worst = max(worst, int(result["exit_code"]))
            if worst == EXIT_REVERT and i + 1 < len(loaded_all):
                rest = ", ".join(str(x.path) for x in loaded_all[i + 1:])
                err(f"not running {rest}: a revert failed, the site is not whole (exit 4)")
                break
    return worst


def run_and_print(loaded: LoadedExperiment, reports: Path, seed: int | None,
                  notes: Sequence[tuple[Event, dict[str, Any]]] = ()) -> dict[str, Any]:
    """Run one experiment, print its verdict, return the result (``run_dir``, ``exit_code`` …);
    ``notes`` are journaled right after run.started (a freeze override)."""
    from harness.run import Run

    async def go() -> dict[str, Any]:
        return await Run(loaded, reports=reports, seed=seed, notes=notes).execute()

    result = asyncio.run(go())
    print_result(result)
    return result


def cmd_rollback(args: argparse.Namespace) -> int:
    from harness.rollback import rollback

    targets = Path(args.targets) if args.targets else None
    reverted = asyncio.run(rollback(Path(args.run_dir), targets_path=targets, target=args.target))
    if not reverted:
        print("nothing to revert: every injected fault was reverted")
    for item in reverted:
        print(f"reverted {item}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild run.json, summary.md and report.html from the folder's journal and timeline (the record)."""
    from harness.report.runfolder import evaluate_folder, write_outputs
    from harness.spec.loader import load_experiment

    run_dir = Path(args.run_dir)
    if not (run_dir / "events.jsonl").exists():
        raise HarnessError(f"{run_dir} is not a run folder (no events.jsonl)")
    loaded = load_experiment(run_dir / "experiment.yaml", targets_path=Path(args.targets) if args.targets else None)
    previous = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    keep = {k: previous[k] for k in ("aborted_by", "load", "steady_state_after", "error") if k in previous}
    if previous.get("status") in (RunStatus.ABORTED, RunStatus.REFUSED, RunStatus.INTERRUPTED, RunStatus.ERROR):
        keep["status"] = previous["status"]
    run = evaluate_folder(run_dir, loaded.experiment, keep)
    write_outputs(run_dir, run, loaded.redact)
    print(f"{run_dir / 'report.html'}: {run['status'].upper()} (and summary.md, run.json)")
    return EXIT_OK
