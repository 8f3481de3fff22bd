"""Run a game day: its experiments in order, the shop made whole between them, into
``reports/<UTC timestamp>-gameday-<name>/`` with ``gameday.json`` (rewritten after every step, so a
killed game day can be resumed), ``summary.md`` and ``report.html``.

Each experiment runs through ``run_one`` (the CLI passes the code ``harness run`` uses). The game day
stops after a run whose exit code reaches its ``stop_on`` (``breach`` 1, ``abort`` 3, ``never`` 4: a
failed revert always stops), after an interrupted run, when the shop is not whole in time, or when a
freeze window begins. Its exit code is the worst of its runs (3 when it was interrupted or stopped
because the shop was not whole).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, Refused
from harness.events import Event, RunStatus
from harness.gameday.render import write_reports
from harness.gameday.whole import namespaces_of, wait_whole
from harness.notify.gameday import GameDayAnnouncer
from harness.report.runfolder import make_run_dir
from harness.spec.gameday import STOP_AT, LoadedGameDay
from harness.spec.loader import LoadedExperiment

STATE = "gameday.json"
Notes = list[tuple[Event, dict[str, Any]]]
RunOne = Callable[[LoadedExperiment, Path, Notes], dict[str, Any]]
"""Runs one experiment into the reports folder, journaling the notes; returns its run.json."""
_UNFINISHED = (RunStatus.RUNNING, RunStatus.INTERRUPTED)
_EXIT_WORDS = {0: "passed", 1: "failed", 2: "refused", 3: "aborted", 4: "revert_failed"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_folder(reports: Path, name: str) -> Path:
    """``reports/<UTC timestamp>-gameday-<name>/`` (unique, named like run folders)."""
    return make_run_dir(reports, f"gameday-{name}", time.time())


def read_state(folder: Path) -> dict[str, Any]:
    """A game-day folder's gameday.json (HarnessError when it is not one)."""
    try:
        state: dict[str, Any] = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{folder} is not a game-day folder (no readable {STATE}): {exc}") from exc
    return state


def cut_short(state: dict[str, Any], reports: Path) -> list[Path]:
    """Run folders of this game day's experiments, started since it began, whose run.json still says
    ``running``: a process killed mid-run may have left a fault injected (``harness rollback`` them)."""
    names = {Path(p).stem for p in state.get("planned", [])} | {r["name"] for r in state.get("runs", [])}
    since = datetime.fromisoformat(state["started"]).strftime("%Y%m%dT%H%M%SZ")
    found = []
    for folder in sorted(reports.glob("*")) if reports.is_dir() else []:
        try:
            run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if folder.name >= since and run.get("name") in names and run.get("status") == RunStatus.RUNNING:
            found.append(folder)
    return found


def initial_state(gd: LoadedGameDay, order: list[Path], seed: int | None, target: str) -> dict[str, Any]:
    g = gd.gameday
    return {"name": g.name, "title": g.title, "file": str(gd.path), "target": target, "owners": g.owners,
            "runbook": g.runbook, "stop_on": g.stop_on, "order": g.order, "seed": seed,
            "planned": [str(p) for p in order], "started": _now(), "ended": None, "status": "running",
            "exit_code": None, "stopped_because": None, "resumed": [], "freeze_overrides": [],
            "runs": [], "abandoned": []}


@dataclass
class GameDayRun:
    """One execution (or resumption) of a game day, whose state lives in ``folder``."""

    gameday: LoadedGameDay
    experiments: dict[str, LoadedExperiment]
    """Loaded experiments by path (as in ``state["planned"]``)."""
    folder: Path
    state: dict[str, Any]
    run_one: RunOne
    reports: Path
    notes: Notes = field(default_factory=list)
    check_freeze: Callable[[], None] = lambda: None
    say: Callable[[str], None] = print
    announce: GameDayAnnouncer | None = None
    """The game day's own Slack messages (start and end); each run still sends its own."""

    def save(self) -> None:
        tmp = self.folder / f"{STATE}.tmp"
        tmp.write_text(json.dumps(self.state, indent=2, default=str) + "\n")
        tmp.replace(self.folder / STATE)
        write_reports(self.folder, self.state)

    def resume_point(self) -> int:
        """Move the unfinished attempts (running when killed, interrupted) aside; the next position."""
        runs = self.state["runs"]
        while runs and runs[-1]["status"] in _UNFINISHED:
            self.state["abandoned"].append(runs.pop())
        self.state["resumed"].append(_now())
        return len(runs)

    def execute(self, start: int = 0) -> int:
        """Run the planned experiments from position ``start``; the game day's exit code."""
        for note_type, note in self.notes:
            if note_type is Event.FREEZE_OVERRIDDEN:
                self.state["freeze_overrides"].append({"at": _now(), **note})
        self.state.update(status="running", ended=None, exit_code=None, stopped_because=None, interrupted=False,
                          not_whole=False)
        self.save()
        if self.announce is not None:
            rest = [self.experiments[p].experiment.timeline.planned_seconds() for p in self.state["planned"][start:]]
            self.announce.started(self.state, sum(rest) + self.gameday.gameday.between.pause * max(0, len(rest) - 1))
        planned = self.state["planned"]
        try:
            for i in range(start, len(planned)):
                if self._step(i, fresh=(i == 0 and not self.state["resumed"])):
                    break
        except KeyboardInterrupt:
            self._stop("interrupted between experiments", interrupted=True)
        return self._finish(len(planned))

    def _step(self, i: int, fresh: bool) -> bool:
        """Wait, check the freeze, run position ``i``; True when the game day must stop."""
        loaded = self.experiments[self.state["planned"][i]]
        if not fresh and self._not_whole(loaded):
            return True
        try:
            self.check_freeze()
        except Refused as exc:
            return self._stop(f"refused before {loaded.experiment.name}: {exc}")
        entry = self._run(i, loaded)
        code = int(entry["exit_code"])
        if entry["status"] == RunStatus.INTERRUPTED:
            return self._stop(f"{entry['name']} was interrupted", interrupted=True)
        if code >= STOP_AT[self.gameday.gameday.stop_on] or code == 4:
            return self._stop(f"stop_on: {self.gameday.gameday.stop_on}: {entry['name']} ended "
                              f"{entry['status']} (exit {code})")
        return False

    def _not_whole(self, upcoming: LoadedExperiment) -> bool:
        between = self.gameday.gameday.between
        t0 = time.monotonic()
        namespaces = namespaces_of(between, list(self.experiments.values()))
        self.say(f"== waiting until the shop is whole ({', '.join(namespaces) or 'no namespaces'}; "
                 f"at most {between.timeout:g}s)")
        problems = asyncio.run(wait_whole(between, namespaces, upcoming))
        self.state.setdefault("waits", []).append(
            {"before": upcoming.experiment.name, "seconds": round(time.monotonic() - t0, 1), "problems": problems})
        self.save()
        if problems:
            return self._stop(f"the shop was not whole after {between.timeout:g}s: {'; '.join(problems)}",
                              not_whole=True)
        if between.pause:
            self.say(f"   whole; pausing {between.pause:g}s")
            time.sleep(between.pause)
        return False

    def _run(self, i: int, loaded: LoadedExperiment) -> dict[str, Any]:
        entry: dict[str, Any] = {"position": i, "experiment": self.state["planned"][i],
                                 "name": loaded.experiment.name, "status": RunStatus.RUNNING, "exit_code": None,
                                 "run_dir": None, "started": _now(), "ended": None, "seconds": None}
        self.state["runs"].append(entry)
        self.save()
        self.say(f"\n== [{i + 1}/{len(self.state['planned'])}] running {loaded.experiment.name} ({loaded.path})")
        t0 = time.monotonic()
        try:
            result = self.run_one(loaded, self.reports, self.notes)
            entry.update(status=result["status"], exit_code=int(result["exit_code"]), run_dir=result.get("run_dir"),
                         aborted_by=result.get("aborted_by"))
        except Refused as exc:
            entry.update(status=RunStatus.REFUSED, exit_code=2, error=str(exc))
            self.say(f"   refused: {exc}")
        except HarnessError as exc:
            entry.update(status=RunStatus.ERROR, exit_code=3, error=f"{type(exc).__name__}: {exc}")
        entry.update(ended=_now(), seconds=round(time.monotonic() - t0, 1))
        self.save()
        return entry

    def _stop(self, reason: str, interrupted: bool = False, not_whole: bool = False) -> bool:
        self.state["stopped_because"] = reason
        self.state["interrupted"] = interrupted
        self.state["not_whole"] = not_whole
        self.say(f"== game day stopped: {reason}")
        return True

    def _finish(self, planned: int) -> int:
        codes = [int(r["exit_code"]) for r in self.state["runs"] if r.get("exit_code") is not None]
        if self.state.get("interrupted") or self.state.get("not_whole"):
            codes.append(3)
        elif self.state["stopped_because"] and self.state["stopped_because"].startswith("refused"):
            codes.append(2)
        worst = max(codes, default=0)
        done = len(self.state["runs"]) == planned and not self.state["stopped_because"]
        self.state.update(ended=_now(), exit_code=worst, verdict=_EXIT_WORDS.get(worst, "error"),
                          status="interrupted" if self.state.get("interrupted") else
                          ("completed" if done else "stopped"))
        self.save()
        if self.announce is not None:
            self.announce.ended(self.state)
        return worst
