"""Freeze windows on the command line: ``harness freeze`` lists the upcoming ones, and every command
that can inject (run, gate, gameday run) refuses inside one (exit 2, nothing injected) unless
``--override-freeze REASON``, which is journaled (``freeze.overridden``: the window, who, why)."""

from __future__ import annotations

import argparse
import getpass
import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.cli.common import EXIT_OK, err
from harness.errors import InvalidExperiment, Problem, Refused
from harness.events import Event
from harness.spec.freeze import FreezeWindow, covering, default_freeze_path, load_freeze, upcoming

Notes = list[tuple[Event, dict[str, Any]]]


def add_freeze_flags(parser: argparse.ArgumentParser) -> None:
    """``--freeze FILE`` and ``--override-freeze REASON`` on a command that can inject."""
    parser.add_argument("--freeze", default=None, metavar="FILE",
                        help="freeze windows file (default freeze.yaml beside the file, else experiments/freeze.yaml)")
    parser.add_argument("--override-freeze", default=None, metavar="REASON",
                        help="run even inside a freeze window; who and REASON are journaled and reported")


def add_parsers(sub: Any) -> None:
    f = sub.add_parser("freeze", help="list the upcoming freeze windows (no experiment runs inside one)")
    f.add_argument("--freeze", default=None, metavar="FILE", help="freeze windows file (default experiments/freeze.yaml)")
    f.add_argument("--days", type=float, default=366, help="how far ahead to list (default 366 days)")
    f.set_defaults(fn=cmd_freeze)


def windows_for(freeze: str | None, anchor: Path) -> tuple[Path | None, list[FreezeWindow]]:
    """The freeze file in force for a command on ``anchor`` (an experiment or game-day file) and its
    windows; none when no ``--freeze`` was given and the default file does not exist."""
    if freeze is not None:
        path = Path(freeze)
        if not path.is_file():
            raise InvalidExperiment([Problem("--freeze", None, "", f"freeze file `{freeze}` not found")])
        return path, load_freeze(path)
    path = default_freeze_path(anchor)
    return (path, load_freeze(path)) if path.is_file() else (None, [])


def who() -> str:
    """Who overrides: ``HARNESS_USER`` (a pipeline's actor), else the login name, at this host."""
    try:
        user = os.environ.get("HARNESS_USER") or getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def check_freeze(args: argparse.Namespace, anchor: Path, targets: Iterable[str | None] = (None,),
                 now: datetime | None = None) -> Notes:
    """Refused when now is inside a freeze window of one of ``targets`` (naming it and when it ends); with
    ``--override-freeze`` the journal notes that record the override instead (none outside a window)."""
    path, windows = windows_for(getattr(args, "freeze", None), anchor)
    at = now or datetime.now(UTC)
    occ = next((o for o in (covering(windows, at, t) for t in dict.fromkeys(targets)) if o is not None), None)
    if occ is None:
        return []
    reason = getattr(args, "override_freeze", None)
    if not reason:
        raise Refused(f"inside freeze window {occ.window.name} ({occ.window.reason}) until "
                      f"{occ.end.isoformat()} [{path}]; nothing injected (to run anyway: --override-freeze REASON)")
    note = {"window": occ.window.name, "window_reason": occ.window.reason, "ends": occ.end.isoformat(),
            "by": who(), "reason": reason, "file": str(path)}
    err(f"freeze window {occ.window.name} (until {occ.end.isoformat()}) overridden by {note['by']}: {reason}")
    return [(Event.FREEZE_OVERRIDDEN, note)]


def cmd_freeze(args: argparse.Namespace) -> int:
    path, windows = windows_for(args.freeze, Path("experiments"))
    if path is None:
        print("no freeze file (experiments/freeze.yaml): nothing is frozen")
        return EXIT_OK
    now = datetime.now(UTC)
    found = upcoming(windows, now, args.days)
    print(f"freeze windows in {path} (next {args.days:g} days):" if found else
          f"no freeze window in the next {args.days:g} days ({path})")
    for occ in found:
        mark = "NOW " if occ.start <= now < occ.end else "    "
        repeat = " (yearly)" if occ.window.recurrence == "yearly" else ""
        which = ", ".join(occ.window.targets) if occ.window.targets is not None else "every target"
        print(f"  {mark}{occ.start.isoformat()} → {occ.end.isoformat()}  {occ.window.name}{repeat} [{which}]: "
              f"{occ.window.reason}")
    return EXIT_OK
