"""Game days and freeze windows on the session sandbox: two experiments in order with a healthy wait
between, ``stop_on: breach`` stopping after a failing one, an interrupted game day resumed, and a freeze
window covering now refusing run, gate and gameday (exit 2, no fault event) unless overridden (journaled)."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

# short experiments: a little load, one pod killed, a probe that must pass before and after
KILL = """\
load: {users: 4, spawn_rate: 4, think_time: 0.2s..0.5s, workers: 1}
probes:
  - {name: cart-health, http: {url: /api/cart/health}}
slos:
  - {name: availability, sli: load.success_ratio, objective: ">= 50%", min_samples: 3}EXTRA
timeline:
  baseline: 3s
  faults:
    - {at: 0s, pod-kill: {namespace: shop, selector: app=cart, count: 1}, hold: 2s}
  recovery: 3s
safety: {allowed_namespaces: [shop]}
"""


def _experiment(workspace: Any, name: str, extra_slo: str = "") -> Path:
    path: Path = workspace.experiment(name, KILL.replace("EXTRA", extra_slo and f"\n  - {extra_slo}"))
    return path


def _gameday(workspace: Any, names: list[str], stop_on: str = "abort", pause: str = "1s") -> Path:
    path = workspace.root / "gd.yaml"
    items = "".join(f"  - {n}.yaml\n" for n in names)
    path.write_text(f"name: gd\ntitle: e2e game day\ntarget: sandbox\nowners: [team-sre]\nexperiments:\n{items}"
                    f"stop_on: {stop_on}\nbetween: {{pause: {pause}, timeout: 60s}}\n")
    return path


def _state(workspace: Any) -> tuple[Path, dict[str, Any]]:
    [folder] = [p for p in workspace.reports.glob("*-gameday-gd") if p.is_dir()]
    return folder, json.loads((folder / "gameday.json").read_text())


def _events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_two_experiments_run_in_order_with_a_whole_shop_between(workspace: Any) -> None:
    _experiment(workspace, "first")
    _experiment(workspace, "second")
    out = workspace.harness("gameday", "run", str(_gameday(workspace, ["first", "second"])), "--reports",
                            str(workspace.reports), timeout=300, check=0).stdout
    folder, state = _state(workspace)
    assert [r["name"] for r in state["runs"]] == ["first", "second"]
    assert [r["status"] for r in state["runs"]] == ["passed", "passed"] and state["status"] == "completed"
    [wait] = state["waits"]
    assert wait["before"] == "second" and wait["problems"] == []
    first_end = datetime.fromisoformat(state["runs"][0]["ended"])
    second_start = datetime.fromisoformat(state["runs"][1]["started"])
    assert second_start - first_end >= timedelta(seconds=1)  # waited until whole, then paused
    html = (folder / "report.html").read_text()
    for run in state["runs"]:
        rel = Path(run["run_dir"]).name
        assert f'href="../{rel}/report.html"' in html and (Path(run["run_dir"]) / "report.html").exists()
    assert "| 2 | `second` | passed | 0 |" in (folder / "summary.md").read_text()
    assert "game day gd: PASSED (exit 0), completed" in out


def test_stop_on_breach_stops_after_a_failing_experiment(workspace: Any) -> None:
    _experiment(workspace, "impossible", '{name: instant, sli: load.p50, objective: "<= 0.1ms", min_samples: 3}')
    _experiment(workspace, "never-reached")
    gd = _gameday(workspace, ["impossible", "never-reached"], stop_on="breach")
    workspace.harness("gameday", "run", str(gd), "--reports", str(workspace.reports), timeout=300, check=1)
    folder, state = _state(workspace)
    assert [r["name"] for r in state["runs"]] == ["impossible"] and state["status"] == "stopped"
    assert "stop_on: breach" in state["stopped_because"]
    assert "| 2 | `never-reached.yaml` | not run |" in (folder / "summary.md").read_text()


def test_an_interrupted_game_day_resumes_after_its_last_finished_experiment(workspace: Any) -> None:
    _experiment(workspace, "one")
    _experiment(workspace, "two")
    gd = _gameday(workspace, ["one", "two"], pause="60s")  # the pause is where it gets interrupted
    proc = workspace.popen("gameday", "run", str(gd), "--reports", str(workspace.reports))
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        folders = list(workspace.reports.glob("*-gameday-gd"))
        state = json.loads((folders[0] / "gameday.json").read_text()) if folders else {}
        if state.get("waits"):
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the game day never reached its first wait")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 3
    folder, state = _state(workspace)
    assert state["status"] == "interrupted" and [r["name"] for r in state["runs"]] == ["one"]
    gd.write_text(gd.read_text().replace("pause: 60s", "pause: 1s"))  # resuming reads the file again
    out = workspace.harness("gameday", "run", str(gd), "--resume", str(folder), "--reports", str(workspace.reports),
                            timeout=300, check=0).stdout
    assert "resuming game day gd" in out and "at experiment 2 of 2" in out
    _, state = _state(workspace)
    assert [r["name"] for r in state["runs"]] == ["one", "two"] and state["status"] == "completed"
    assert len(state["resumed"]) == 1
    assert len([p for p in workspace.run_dirs() if "-gameday-" not in p.name]) == 2  # `one` did not run again


def _freeze_now(workspace: Any) -> Path:
    now = datetime.now(UTC)
    path = workspace.root / "freeze.yaml"  # beside the experiments: the default freeze file
    path.write_text(f"windows:\n  - name: flash-sale\n    start: {(now - timedelta(hours=1)).isoformat()}\n"
                    f"    end: {(now + timedelta(hours=1)).isoformat()}\n    reason: Flash sale\n")
    return path


def test_a_freeze_window_refuses_run_gate_and_gameday_and_the_override_is_journaled(workspace: Any) -> None:
    exp = str(_experiment(workspace, "frozen"))
    gd = str(_gameday(workspace, ["frozen"]))
    _freeze_now(workspace)
    reports = str(workspace.reports)
    for args in (("run", exp), ("gate", exp), ("gameday", "run", gd)):
        proc = workspace.harness(*args, "--reports", reports, check=2)
        assert "refused: inside freeze window flash-sale (Flash sale) until" in proc.stderr
    assert workspace.run_dirs() == []  # nothing started: no run folder, so no fault event anywhere
    proc = workspace.harness("run", exp, "--reports", reports, "--override-freeze", "replaying INC-42",
                             env={"HARNESS_USER": "alice"}, timeout=300, check=0)
    assert "overridden by alice@" in proc.stderr
    run_dir = workspace.run_dirs()[-1]
    events = _events(run_dir)
    [note] = [e for e in events if e["type"] == "freeze.overridden"]
    assert note["window"] == "flash-sale" and note["reason"] == "replaying INC-42" and note["by"].startswith("alice@")
    assert [e["type"] for e in events].index("freeze.overridden") == 1  # right after run.started
    summary = (run_dir / "summary.md").read_text()
    assert "Freeze window **flash-sale**" in summary and "overridden by alice@" in summary and "INC-42" in summary
