"""``harness gameday run|next|validate|schema``: game days from ``experiments/gamedays/*.yaml``."""

from __future__ import annotations

import argparse
import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from harness.cli.common import EXIT_INVALID, EXIT_OK, err, load
from harness.cli.doctor import add_skip_flag, preflight
from harness.cli.experiments import run_and_print
from harness.cli.freeze import Notes, add_freeze_flags, check_freeze, windows_for
from harness.errors import HarnessError, InvalidExperiment
from harness.spec.loader import LoadedExperiment


def add_parsers(sub: Any) -> None:
    g = sub.add_parser("gameday", help="game days: experiments run in order, the shop made whole between them")
    gsub = g.add_subparsers(dest="gameday_command", required=True)
    r = gsub.add_parser("run", help="run a game day; one game-day folder linking its run folders")
    r.add_argument("file")
    r.add_argument("--target", default=None, help="target name (default: the game day's `target:`)")
    r.add_argument("--resume", default=None, metavar="DIR", help="continue this game-day folder after its last "
                   "finished experiment")
    r.add_argument("--reports", default="reports", help="where run and game-day folders go (default reports/)")
    r.add_argument("--seed", type=int, default=None, help="seed for random target choice")
    add_freeze_flags(r)
    add_skip_flag(r)
    r.set_defaults(fn=cmd_run)
    n = gsub.add_parser("next", help="the next scheduled times, skipping freeze windows")
    n.add_argument("file")
    n.add_argument("--count", type=int, default=5)
    n.add_argument("--freeze", default=None, metavar="FILE", help="freeze windows file (default experiments/freeze.yaml)")
    n.set_defaults(fn=cmd_next)
    v = gsub.add_parser("validate", help="check game-day files and the experiments they run")
    v.add_argument("files", nargs="+")
    v.set_defaults(fn=cmd_validate)
    s = gsub.add_parser("schema", help="print the game-day JSON Schema")
    s.set_defaults(fn=cmd_schema)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _between_signals() -> None:
    """Between experiments SIGTERM and SIGHUP stop the game day as SIGINT does (a run installs its own)."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


def _run_one(seed: int | None) -> Any:
    def run_one(loaded: LoadedExperiment, reports: Path, notes: Notes) -> dict[str, Any]:
        try:
            return run_and_print(loaded, reports, seed, notes)
        finally:
            _between_signals()
    return run_one


def cmd_run(args: argparse.Namespace) -> int:
    from harness.gameday.runner import GameDayRun, cut_short, initial_state, new_folder, read_state
    from harness.notify import NotifySettings
    from harness.notify.gameday import GameDayAnnouncer
    from harness.spec.gameday import load_gameday, ordered

    gd = load_gameday(Path(args.file))
    if args.resume:
        folder = Path(args.resume)
        state = read_state(folder)
        if state.get("name") != gd.gameday.name:
            err(f"--resume {folder}: that folder is game day `{state.get('name')}`, not `{gd.gameday.name}`")
            return EXIT_INVALID
        leftovers = cut_short(state, Path(args.reports))
        if leftovers:
            err(f"--resume {folder}: a run was cut short and may have left a fault injected; "
                f"`harness rollback` it first: {', '.join(map(str, leftovers))}")
            return EXIT_INVALID
        if args.target and args.target != state["target"]:
            err(f"--resume {folder}: it ran on target `{state['target']}`; --target {args.target} would mix targets")
            return EXIT_INVALID
    else:
        order, seed = ordered(list(gd.experiments), gd.gameday)
        state = initial_state(gd, order, seed, args.target or gd.gameday.target)
    loaded = {p: load(p, state["target"]) for p in state["planned"]}  # validate all before running any
    notes = check_freeze(args, gd.path, [state["target"]])
    if not args.skip_doctor and not preflight(list(loaded.values())):  # nothing was touched, no folder made
        return EXIT_INVALID
    if not args.resume:
        folder = new_folder(Path(args.reports), gd.gameday.name)
    target = next(iter(loaded.values())).target
    announce = GameDayAnnouncer(NotifySettings.resolve(getattr(target, "notify", None), os.environ), folder)
    run = GameDayRun(gd, loaded, folder, state, _run_one(args.seed), Path(args.reports), notes,
                     check_freeze=lambda: _recheck(args, gd.path, state["target"]), announce=announce)
    start = run.resume_point() if args.resume else 0
    if args.resume:
        print(f"== resuming game day {gd.gameday.name} in {folder} at experiment {start + 1} of {len(state['planned'])}")
    else:
        print(f"== game day {gd.gameday.name}: {len(state['planned'])} experiments on {state['target']}, in {folder}")
    _between_signals()
    try:
        code = run.execute(start)
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
    print(f"\n== game day {gd.gameday.name}: {str(run.state['verdict']).upper()} (exit {code}), "
          f"{run.state['status']}: {folder / 'report.html'} (summary.md, gameday.json beside it)")
    return code


def _recheck(args: argparse.Namespace, anchor: Path, target: str) -> None:
    check_freeze(args, anchor, [target])


def cmd_next(args: argparse.Namespace) -> int:
    from harness.gameday.schedule import slots
    from harness.spec.gameday import load_gameday

    gd = load_gameday(Path(args.file))
    schedule = gd.gameday.schedule
    if schedule is None:
        err(f"{gd.path}: no `schedule:`; add e.g. schedule: {{cron: \"0 9 * * 2\", timezone: Europe/Paris}}")
        return EXIT_INVALID
    _, windows = windows_for(args.freeze, gd.path)
    print(f"{gd.gameday.name}: `{schedule.cron}` in {schedule.timezone}, on target {gd.gameday.target}")
    for slot in slots(schedule, windows, datetime.now(UTC), args.count, gd.gameday.target):
        if slot.frozen_by is None:
            print(f"  {slot.at.isoformat()}  {slot.at:%a}")
        else:
            print(f"  {slot.at.isoformat()}  {slot.at:%a}  skipped: freeze window {slot.frozen_by.window.name} "
                  f"until {slot.frozen_by.end.isoformat()}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.spec.gameday import load_gameday

    bad = 0
    for file in args.files:
        try:
            gd = load_gameday(Path(file))
            for path in gd.experiments:
                load(str(path), gd.gameday.target)
            print(f"{file}: ok ({len(gd.experiments)} experiments)")
        except InvalidExperiment as exc:
            bad += 1
            for problem in exc.problems:
                err(str(problem))
        except HarnessError as exc:
            bad += 1
            err(f"{file}: {exc}")
    return EXIT_INVALID if bad else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from harness.spec.gameday import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK
