"""The `harness` command. Library code raises; only this module turns errors into exit codes:
0 all SLOs met · 1 an SLO was breached · 2 invalid input or refused, nothing injected ·
3 aborted or interrupted, every fault reverted · 4 a revert failed, a human must act."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, InvalidExperiment, Refused, RevertFailed, SandboxError
from harness.events import RunStatus

EXIT_OK, EXIT_SLO, EXIT_INVALID, EXIT_ABORTED, EXIT_REVERT = 0, 1, 2, 3, 4

USER_HELP = """Prove the shop survives failure: run YAML experiments that break things (pods, zones, databases,
partners) under Locust load, judge SLOs on what shoppers saw, and always revert.

  harness sandbox up                        start the local simulated GKE (no cloud account needed)
  harness validate experiments/             check experiment files; touches nothing
  harness plan experiments/X.yaml           show what would be hit, when, and what each SLO needs
  harness run experiments/X.yaml            run it; one folder in reports/ with summary.md
  harness rollback reports/<run>            after a crash: revert what is still injected"""

EXIT_HELP = """exit codes: 0 every SLO met · 1 an SLO breached or inconclusive · 2 invalid input or refused,
nothing injected · 3 aborted, interrupted or a harness error, every fault reverted · 4 a revert failed:
something is still injected and the message says what"""


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- sandbox ----------------------------------------------------------------------------------------
def cmd_sandbox(args: argparse.Namespace) -> int:
    from harness.sandbox import manage  # the CLI (not the engine) may import the sandbox

    directory = Path(args.dir)
    if args.action == "up":
        eps = manage.up(directory, Path(args.config) if args.config else None)
        print(f"sandbox up: site {eps['ingress']}  kubernetes {eps['kubernetes']}")
        print(f"  kubeconfig {eps['kubeconfig']}  endpoints {directory / 'endpoints.json'}")
        return EXIT_OK
    if args.action == "down":
        print("sandbox down" if manage.down(directory) else "no sandbox was running")
        return EXIT_OK
    if args.action == "config":
        from harness.sandbox.config import dump_defaults

        print(dump_defaults())
        return EXIT_OK
    status = manage.status(directory)
    ok = True
    for name, health in status["components"].items():
        ok = ok and bool(health.get("ok"))
        detail = ", ".join(f"{k}={v}" for k, v in health.items() if k != "ok")
        print(f"{'OK  ' if health.get('ok') else 'FAIL'} {name:<11} {detail}")
    return EXIT_OK if ok else EXIT_SLO


# -- experiments --------------------------------------------------------------------------------------
def _load(path: str, target: str | None) -> Any:
    from harness.spec.loader import load_experiment

    if target is not None:
        _check_target_flag(Path(path), target)
    return load_experiment(Path(path), target_override=target)


def _check_target_flag(path: Path, target: str) -> None:
    """A bad ``--target`` is blamed on the flag, not on the experiment's `target:` line."""
    import yaml

    from harness.errors import Problem
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


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.spec.loader import validate_paths

    results = validate_paths([Path(p) for p in args.paths])
    bad = 0
    for path, problems in results.items():
        if problems:
            bad += 1
            for problem in problems:
                _err(str(problem))
        else:
            print(f"{path}: ok")
            _warn_samples(path)
    return EXIT_INVALID if bad else EXIT_OK


def _warn_samples(path: Path) -> None:
    from harness import schedule
    from harness.spec.loader import load_experiment

    for text in schedule.warnings(load_experiment(path).experiment):
        _err(f"{path}: warning: {text}")


def cmd_schema(args: argparse.Namespace) -> int:
    from harness.spec.loader import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


async def _plan(loaded: Any) -> tuple[Any, Any]:
    from harness.run import Run

    run = Run(loaded, reports=Path("reports"))
    return run, await run.plan()


def cmd_plan(args: argparse.Namespace) -> int:
    loaded = _load(args.experiment, args.target)
    _, plan = asyncio.run(_plan(loaded))
    from harness import schedule

    print(f"plan for {loaded.experiment.name} on target {loaded.target.name or loaded.experiment.target}:")
    print("\n".join(schedule.describe(loaded.experiment)))
    print("targets:")
    print(plan.describe())
    if plan.refusals:
        for reason in plan.refusals:
            _err(f"refused: {reason}")
        return EXIT_INVALID
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    if args.dry_run:
        codes = [cmd_plan(argparse.Namespace(experiment=p, target=args.target)) for p in args.experiments]
        return max(codes)
    loaded_all = [_load(p, args.target) for p in args.experiments]  # validate all before running any
    worst = EXIT_OK
    for i, loaded in enumerate(loaded_all):
        worst = max(worst, _run_one(loaded, Path(args.reports), args.seed))
        if worst == EXIT_REVERT and i + 1 < len(loaded_all):
            rest = ", ".join(str(x.path) for x in loaded_all[i + 1:])
            _err(f"not running {rest}: a revert failed, the site is not whole (exit 4)")
            break
    return worst


def _run_one(loaded: Any, reports: Path, seed: int | None) -> int:
    from harness.run import Run

    async def go() -> dict[str, Any]:
        run = Run(loaded, reports=reports, seed=seed)
        return await run.execute()

    result = asyncio.run(go())
    print(f"{result['name']}: {result['status'].upper()} (exit {result['exit_code']})")
    if result.get("aborted_by"):
        print(f"  aborted: {result['aborted_by']}")
    marks = {"pass": "ok  ", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", "skipped": "skip", "not_judged": "not judged"}
    for slo in result.get("slos", []):
        mark = marks.get(str(slo.get("status")), str(slo.get("status")))
        print(f"  {mark} {slo['name']}: {slo['sli']} {slo['objective']} ({slo['window']}) measured {slo['display']}")
        if slo.get("status") in ("inconclusive", "not_judged", "fail"):
            print(f"       {slo.get('detail')}")
    rec = result.get("recovery") or {}
    if rec:
        det, sec = rec.get("detection_seconds"), rec.get("recovery_seconds")
        print(f"  detection {'n/a' if det is None else f'{det:.1f} s'}, "
              f"recovery {'n/a' if sec is None else f'{sec:.1f} s'} ({rec.get('reason')})")
    if result.get("error"):
        _err(f"  harness error: {result['error']} (traceback in {result['run_dir']}/error.txt)")
    if result.get("still_injected"):
        _err("STILL INJECTED — a human must act:")
        for item in result["still_injected"]:
            _err(f"  {item}")
    print(f"  report: {result['run_dir']}/summary.md")
    return int(result["exit_code"])


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
    """Rebuild run.json and summary.md from the folder's journal and timeline (the record)."""
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
    print(f"{run_dir / 'summary.md'}: {run['status'].upper()}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harness", description=USER_HELP, epilog=EXIT_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sb = sub.add_parser("sandbox", help="start, stop or check the local simulated GKE")
    sb.add_argument("action", choices=["up", "down", "status", "config"])
    sb.add_argument("--dir", default=".sandbox", help="sandbox folder (default .sandbox)")
    sb.add_argument("--config", default=None, help="sandbox config YAML (see `harness sandbox config`)")
    sb.set_defaults(fn=cmd_sandbox)
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
    r.set_defaults(fn=cmd_run)
    rb = sub.add_parser("rollback", help="revert whatever a run injected and did not revert")
    rb.add_argument("run_dir")
    rb.add_argument("--targets", default=None,
                    help="targets.yaml to take the target's credentials from, ${env:NAME} read from the environment "
                         "(default ./targets.yaml, else experiments/targets.yaml)")
    rb.add_argument("--target", default=None, help="target name (default: the one the run journaled)")
    rb.set_defaults(fn=cmd_rollback)
    rp = sub.add_parser("report", help="rebuild a run folder's run.json and summary.md from its journal")
    rp.add_argument("run_dir")
    rp.add_argument("--targets", default=None, help="targets.yaml to resolve the experiment's target with")
    rp.set_defaults(fn=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.fn(args))
    except InvalidExperiment as exc:
        for problem in exc.problems:
            _err(str(problem))
        code = EXIT_INVALID
    except Refused as exc:
        _err(f"refused: {exc}")
        code = EXIT_INVALID
    except RevertFailed as exc:
        _err("REVERT FAILED — still injected, a human must act:")
        for item in exc.still_injected:
            _err(f"  {item}")
        code = EXIT_REVERT
    except SandboxError as exc:
        _err(f"sandbox: {exc}")
        code = EXIT_INVALID
    except HarnessError as exc:
        _err(f"error: {exc}")
        code = EXIT_ABORTED
    except KeyboardInterrupt:
        code = EXIT_ABORTED
    return code


def entry() -> None:
    """Console script: exit with main()'s code."""
    sys.exit(main())
