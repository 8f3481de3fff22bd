"""Game days without processes: the file's validation (file:line, field, hint), experiment paths and
tag selections, the order, the schedule in its time zone around freeze windows, and the orchestration
(stop_on, resume, the folder's gameday.json, summary.md and report.html) with a stand-in for a run."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import InvalidExperiment, Refused
from harness.events import Event
from harness.gameday.runner import GameDayRun, Notes, cut_short, initial_state, new_folder, read_state
from harness.gameday.schedule import slots
from harness.gameday.whole import unready
from harness.spec.freeze import FreezeWindow
from harness.spec.gameday import Schedule, json_schema, load_gameday, ordered
from harness.spec.loader import LoadedExperiment, load_experiment

ROOT = Path(__file__).resolve().parents[2]
GAMEDAYS = ROOT / "experiments" / "gamedays"


def test_the_demo_game_day_runs_the_two_demo_experiments_in_order() -> None:
    gd = load_gameday(GAMEDAYS / "demo.yaml")
    assert [p.name for p in gd.experiments] == ["checkout-pod-kill.yaml", "catalog-scale-down.yaml"]
    assert gd.gameday.stop_on == "abort" and gd.gameday.target == "sandbox"


def test_a_tag_selection_picks_every_catalogue_experiment_with_all_its_tags() -> None:
    gd = load_gameday(GAMEDAYS / "weekly-staging.yaml")
    names = {p.name for p in gd.experiments}
    assert "checkout-pod-kill.yaml" in names and "catalog-scale-down.yaml" in names
    assert all(p.parent == ROOT / "experiments" for p in gd.experiments)
    assert gd.gameday.schedule == Schedule(cron="0 9 * * 2", timezone="Europe/Paris")


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "gd.yaml"
    path.write_text(body)
    return path


def test_problems_name_the_line_the_field_and_what_was_expected(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: Bad Name\ntitle: t\nexperiments:\n  - missing.yaml\nstop_on: breech\n"
                  "schedule: {cron: '0 9 * *', timezone: Europe/Pariss}\nowner: me\n")
    with pytest.raises(InvalidExperiment) as exc:
        load_gameday(path)
    text = "\n".join(str(p) for p in exc.value.problems)
    assert f"{path}:1: name: expected a slug" in text
    assert f"{path}:5: stop_on:" in text and "breach" in text
    assert f"{path}:6: schedule.cron: not a five-field cron expression" in text
    assert f"{path}:6: schedule.timezone: unknown time zone 'Europe/Pariss'" in text
    assert f"{path}:7: owner: unknown field `owner` (hint: did you mean `owners`?)" in text
    ok = _write(tmp_path, "name: gd\ntitle: t\nexperiments:\n  - missing.yaml\n  - {tags: [nope]}\n")
    with pytest.raises(InvalidExperiment) as exc:
        load_gameday(ok)
    text = "\n".join(str(p) for p in exc.value.problems)
    assert f"{ok}:4: experiments[0]: experiment file `missing.yaml` not found" in text
    assert f"{ok}:5: experiments[1].tags: no experiment in `..` carries all of nope" in text


def test_the_schema_describes_every_field() -> None:
    schema = json_schema()
    assert schema["title"] == "Game day"
    assert {"name", "experiments", "between", "stop_on", "schedule", "owners", "runbook"} <= set(schema["properties"])
    assert "description" in schema["$defs"]["Between"]["properties"]["pause"]


def test_a_shuffled_order_is_reproducible_from_its_seed(tmp_path: Path) -> None:
    gd = load_gameday(GAMEDAYS / "weekly-staging.yaml")
    first, seed = ordered(list(gd.experiments), gd.gameday)
    again, _ = ordered(list(gd.experiments), gd.gameday.model_copy(update={"seed": seed}))
    assert seed is not None and first == again and sorted(first) == sorted(gd.experiments)


def test_next_times_are_in_the_schedule_zone_with_its_offset_across_summer_time() -> None:
    paris = Schedule(cron="0 9 * * 2", timezone="Europe/Paris")
    found = slots(paris, [], datetime.fromisoformat("2027-03-20T00:00:00+00:00"), 3)
    assert [s.at.isoformat() for s in found] == ["2027-03-23T09:00:00+01:00", "2027-03-30T09:00:00+02:00",
                                                 "2027-04-06T09:00:00+02:00"]


def test_next_times_skip_freeze_windows_and_say_which() -> None:
    freeze = FreezeWindow.model_validate({"name": "code-freeze", "start": "2026-12-21T00:00:00+01:00",
                                          "end": "2027-01-04T08:00:00+01:00", "reason": "r", "recurrence": "yearly"})
    found = slots(Schedule(cron="0 9 * * 2", timezone="Europe/Paris"), [freeze],
                  datetime.fromisoformat("2026-12-16T00:00:00+00:00"), 1)
    assert [(s.at.date().isoformat(), s.frozen_by and s.frozen_by.window.name) for s in found] == [
        ("2026-12-22", "code-freeze"), ("2026-12-29", "code-freeze"), ("2027-01-05", None)]


def test_gameday_next_prints_times_with_offsets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gameday", "next", str(GAMEDAYS / "weekly-staging.yaml"), "--count", "2"]) == 0
    out = capsys.readouterr().out
    assert "`0 9 * * 2` in Europe/Paris" in out and "T09:00:00+0" in out
    assert main(["gameday", "next", str(GAMEDAYS / "demo.yaml")]) == 2


def test_unready_names_the_deployments_without_all_replicas() -> None:
    deps = [{"metadata": {"namespace": "shop", "name": "cart"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 2}},
            {"metadata": {"namespace": "shop", "name": "web"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 2}}]
    assert unready(deps) == ["shop/cart 2/3 ready"]


class Script:
    """Stands in for a run: the statuses to return, in order; records what it was asked to run."""

    def __init__(self, reports: Path, *statuses: tuple[str, int]) -> None:
        self.reports, self.statuses = reports, list(statuses)
        self.ran: list[tuple[str, Notes]] = []

    def __call__(self, loaded: LoadedExperiment, reports: Path, notes: Notes) -> dict[str, Any]:
        status, code = self.statuses.pop(0)
        run_dir = reports / f"run-{len(self.ran)}-{loaded.experiment.name}"
        run_dir.mkdir(parents=True)
        self.ran.append((loaded.experiment.name, notes))
        return {"name": loaded.experiment.name, "status": status, "exit_code": code, "run_dir": str(run_dir)}


def _gameday(tmp_path: Path, stop_on: str) -> tuple[Any, dict[str, LoadedExperiment]]:
    exp = ROOT / "experiments"
    path = _write(tmp_path, f"name: gd\ntitle: Three\nexperiments: [{exp}/checkout-pod-kill.yaml, "
                  f"{exp}/catalog-scale-down.yaml, {exp}/db-latency-checkout.yaml]\nstop_on: {stop_on}\n"
                  "between: {pause: 0s, deployments_ready: false, steady_state: false}\n")
    gd = load_gameday(path)
    return gd, {str(p): load_experiment(p) for p in gd.experiments}


def _start(tmp_path: Path, stop_on: str, script: Script, notes: Notes | None = None) -> GameDayRun:
    gd, loaded = _gameday(tmp_path, stop_on)
    folder = new_folder(tmp_path / "reports", "gd")
    state = initial_state(gd, list(gd.experiments), None, "sandbox")
    return GameDayRun(gd, loaded, folder, state, script, tmp_path / "reports", notes or [], say=lambda s: None)


def test_stop_on_breach_stops_after_a_failed_run_and_the_exit_code_is_the_worst(tmp_path: Path) -> None:
    script = Script(tmp_path, ("passed", 0), ("failed", 1), ("passed", 0))
    run = _start(tmp_path, "breach", script)
    assert run.execute() == 1
    state = read_state(run.folder)
    assert [r["status"] for r in state["runs"]] == ["passed", "failed"]
    assert state["status"] == "stopped" and "stop_on: breach: catalog-scale-down ended failed" in state["stopped_because"]
    summary = (run.folder / "summary.md").read_text()
    assert "| 3 | `db-latency-checkout.yaml` | not run |" in summary
    html = (run.folder / "report.html").read_text()
    assert 'href="../run-0-checkout-pod-kill/report.html"' in html


def test_stop_on_abort_goes_on_after_a_breach_but_never_after_a_failed_revert(tmp_path: Path) -> None:
    run = _start(tmp_path, "abort", Script(tmp_path, ("failed", 1), ("passed", 0), ("passed", 0)))
    assert run.execute() == 1 and read_state(run.folder)["status"] == "completed"
    (tmp_path / "b").mkdir()
    never = _start(tmp_path / "b", "never", Script(tmp_path, ("revert_failed", 4), ("passed", 0), ("passed", 0)))
    assert never.execute() == 4 and len(read_state(never.folder)["runs"]) == 1


def test_an_interrupted_game_day_resumes_after_its_last_finished_experiment(tmp_path: Path) -> None:
    first = Script(tmp_path, ("passed", 0), ("interrupted", 3))
    run = _start(tmp_path, "never", first)
    assert run.execute() == 3 and read_state(run.folder)["status"] == "interrupted"
    gd, loaded = _gameday(tmp_path, "never")
    second = Script(tmp_path, ("passed", 0), ("passed", 0))
    resumed = GameDayRun(gd, loaded, run.folder, read_state(run.folder), second, tmp_path / "reports",
                         say=lambda s: None)
    assert resumed.execute(resumed.resume_point()) == 0
    assert [name for name, _ in second.ran] == ["catalog-scale-down", "db-latency-checkout"]
    state = json.loads((run.folder / "gameday.json").read_text())
    assert [r["position"] for r in state["runs"]] == [0, 1, 2] and state["status"] == "completed"
    assert [a["status"] for a in state["abandoned"]] == ["interrupted"] and len(state["resumed"]) == 1


def test_a_freeze_window_beginning_mid_game_day_stops_it_and_an_override_reaches_every_run(tmp_path: Path) -> None:
    calls = iter([None, Refused("inside freeze window flash-sale")])

    def check() -> None:
        exc = next(calls)
        if exc:
            raise exc

    note: Notes = [(Event.FREEZE_OVERRIDDEN, {"window": "w", "by": "alice@h", "reason": "why"})]
    script = Script(tmp_path, ("passed", 0), ("passed", 0))
    run = _start(tmp_path, "never", script, note)
    run.check_freeze = check
    assert run.execute() == 2
    state = read_state(run.folder)
    assert "refused before catalog-scale-down: inside freeze window flash-sale" in state["stopped_because"]
    assert script.ran == [("checkout-pod-kill", note)]
    assert state["freeze_overrides"][0]["by"] == "alice@h"
    assert "Freeze window **w** overridden by alice@h: why." in (run.folder / "summary.md").read_text()


def test_a_run_cut_short_mid_game_day_is_found_before_resuming(tmp_path: Path) -> None:
    run = _start(tmp_path, "never", Script(tmp_path, ("passed", 0), ("interrupted", 3)))
    run.execute()
    state = read_state(run.folder)
    assert cut_short(state, tmp_path / "reports") == []
    dead = tmp_path / "reports" / "29991231T000000Z-catalog-scale-down"
    dead.mkdir()
    (dead / "run.json").write_text(json.dumps({"name": "catalog-scale-down", "status": "running"}))
    assert cut_short(state, tmp_path / "reports") == [dead]
