"""`harness run` with load from remote workers: two `harness load-worker` processes started separately
(as on other machines or in worker pods), on loopback, against the session sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from harness.measure.timeline import read_timeline
from tests.components.test_load_remote import _free_port_pair
from tests.zone_mini import wait_for

pytestmark = pytest.mark.e2e


def _experiment(port: int, max_lost: int) -> str:
    return f"""
load: {{users: 6, spawn_rate: 6, think_time: 0.2s..0.5s, workers: 0, remote_workers: 2, master_port: {port},
        remote_worker_wait: 60s, max_lost_workers: {max_lost}}}
slos:
  - {{name: availability, sli: load.success_ratio, objective: ">= 50%"}}
timeline:
  baseline: 4s
  faults:
    - at: 0s
      pod-kill: {{namespace: shop, selector: app=catalog, count: 1, duration: 10s}}
  recovery: 3s
safety:
  allowed_namespaces: [shop]
"""


def _worker(workspace: Any, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "harness", "load-worker", "--master", f"127.0.0.1:{port}"],
                            cwd=workspace.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _events(folder: Any) -> list[dict[str, Any]]:
    path = folder / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def test_remote_workers_feed_the_run_and_a_lost_one_aborts_it_past_the_threshold(workspace: Any, sandbox: Any) -> None:
    port = _free_port_pair()
    workers = [_worker(workspace, port), _worker(workspace, port)]  # started first: they wait for the master
    exp = workspace.experiment("remote-load", _experiment(port, max_lost=0))
    run = workspace.popen("run", str(exp))
    try:
        def fault_on() -> bool:
            return bool(workspace.run_dirs()) and any(e["type"] == "fault.injected"
                                                       for e in _events(workspace.run_dirs()[-1]))

        wait_for(fault_on, 90, "the fault injected with both workers' load")
        time.sleep(2)
        os.kill(workers[0].pid, signal.SIGKILL)  # kill -9: the master hears nothing
        out, err = run.communicate(timeout=120)
    finally:
        for p in [run, *workers]:
            if p.poll() is None:
                p.kill()
            p.communicate()
    assert run.returncode == 3, out + err  # aborted: one lost worker is more than max_lost_workers 0
    folder = workspace.run_dirs()[-1]
    result = json.loads((folder / "run.json").read_text())
    assert "1 load worker(s) lost" in result["aborted_by"] and "max_lost_workers 0" in result["aborted_by"]
    assert len(result["generator"]["workers"]["lost"]) == 1
    assert all(f["reverted_at"] and not f["error"] for f in result["faults"])
    assert [e for e in _events(folder) if e["type"] == "load.worker_lost"]
    seconds = [s for s in read_timeline(folder / "timeline.jsonl") if s.load]
    both = [s for s in seconds if s.load.workers == 2 and s.load.requests]
    assert len(both) >= 3, "per-second records carried both workers' requests"
    assert sum(s.load.requests for s in seconds) > 0
    assert "lost" in (folder / "summary.md").read_text()
