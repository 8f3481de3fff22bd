"""Load generation: Locust in subprocesses against a tiny local shop, and the per-second merging."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.load import LoadError, LoadRunner, LoadTimeouts
from harness.load.buckets import SecondMerger, WorkerBuckets
from harness.measure.histogram import Histogram

try:
    from tests.fixtures.tinyshop import TinyShop
except ImportError:  # tests/ is on sys.path rather than the project root
    from fixtures.tinyshop import TinyShop  # type: ignore[no-redef]

JOURNEYS = Path(__file__).resolve().parents[2] / "probes" / "journeys" / "storefront.py"
STEPS = {"home", "search", "product", "catalog.api", "cart.add", "cart.view", "checkout"}


def _locust_processes() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "harness.load.locustproc" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Records:
    """Thread-safe sink for on_second."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.items.append(record)

    def __len__(self) -> int:
        with self._lock:
            return len(self.items)


@pytest.fixture
def shop() -> Iterator[TinyShop]:
    with TinyShop() as s:
        yield s


@pytest.fixture
def make_runner(tmp_path: Path, shop: TinyShop) -> Iterator[Callable[..., LoadRunner]]:
    made: list[LoadRunner] = []

    def make(**overrides: Any) -> LoadRunner:
        kwargs: dict[str, Any] = {
            "journeys": JOURNEYS, "host": shop.url, "users": 6, "spawn_rate": 20.0, "workers": 1,
            "think_time": (0.05, 0.2), "stages": [], "run_dir": tmp_path / "run", "on_second": Records(),
            "timeouts": LoadTimeouts(max_seconds=120, flush=5),
        }
        kwargs.update(overrides)
        runner = LoadRunner(**kwargs)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        try:
            runner.stop(timeout=20)
        except LoadError:
            pass
    assert not _locust_processes()


def test_records_once_per_second_add_up_to_locust_totals(make_runner, shop: TinyShop, tmp_path: Path) -> None:
    shop.fail_ratio = 0.25
    records = Records()
    runner = make_runner(users=8, workers=2, on_second=records)
    runner.start(timeout=60)
    assert runner.alive()
    _wait_for(lambda: len(records) >= 3, 30, "three records during the run")
    totals = runner.stop()

    ts = [r["t"] for r in records.items]
    assert ts == list(range(ts[0], ts[0] + len(ts))), "one record per second, in order, no gaps"
    assert totals.requests == sum(r["requests"] for r in records.items) > 0
    assert totals.requests == totals.locust_requests
    assert totals.failures == totals.locust_failures
    assert 0.1 < totals.failures / totals.requests < 0.4, "the shop's 503s are failures"
    assert {"home", "product", "search"} <= set(totals.per_step) <= STEPS
    assert sum(r for r, _ in totals.per_step.values()) == totals.locust_requests
    for record in records.items:
        assert Histogram.from_json(record["hist"]).total == record["requests"] - record["failures"]  # successes
        assert sum(s["requests"] for s in record["steps"].values()) == record["requests"]
        assert sum(s["failures"] for s in record["steps"].values()) == record["failures"]
        assert set(record["steps"]) <= STEPS
    assert max(r["users"] for r in records.items) == 8
    assert (tmp_path / "run" / "locust-master.log").exists()
    assert (tmp_path / "run" / "locust-worker-2.log").exists()
    assert not runner.alive()
    assert not _locust_processes(), "stop() leaves no Locust process"
    assert runner.stop() is totals, "stop() is idempotent"


def test_stages_change_the_user_count(make_runner) -> None:
    records = Records()
    calls = {"n": 0}

    def on_second(record: dict[str, Any]) -> None:
        calls["n"] += 1
        records(record)
        if calls["n"] == 1:
            raise RuntimeError("a failing consumer must not stop the stream")

    runner = make_runner(users=2, stages=[(2.5, 6, 50.0)], on_second=on_second)
    runner.start(timeout=60)
    _wait_for(lambda: any(r["users"] == 6 for r in records.items), 30, "the stage's 6 users")
    totals = runner.stop()
    users = [r["users"] for r in records.items]
    assert users[0] <= 2
    assert users == sorted(users), "users only grow in this run"
    assert totals.requests == totals.locust_requests


def test_dead_master_is_reported_not_hung(make_runner) -> None:
    runner = make_runner(users=2)
    runner.start(timeout=60)
    master_pid = runner.process_ids()[0]
    os.kill(master_pid, signal.SIGKILL)
    _wait_for(lambda: not runner.alive(), 10, "alive() to notice the dead master")
    started = time.monotonic()
    with pytest.raises(LoadError, match="master"):
        runner.stop(timeout=15)
    assert time.monotonic() - started < 15
    assert not _locust_processes()


_ORPHAN_SCRIPT = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from harness.load import LoadRunner
runner = LoadRunner(journeys=Path(sys.argv[2]), host=sys.argv[3], users=2, spawn_rate=20.0, workers=1,
                    think_time=(0.1, 0.2), stages=[], run_dir=Path(sys.argv[4]), on_second=lambda r: None)
runner.start(timeout=60)
Path(sys.argv[4], "pids.json").write_text(json.dumps(runner.process_ids()))
time.sleep(120)
"""


def test_locust_dies_with_the_harness_process(shop: TinyShop, tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[2])
    harness = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, root, str(JOURNEYS), shop.url, str(tmp_path)])
    try:
        _wait_for(lambda: (tmp_path / "pids.json").exists() or harness.poll() is not None, 60, "load started")
        pids = json.loads((tmp_path / "pids.json").read_text())
    finally:
        harness.kill()
        harness.wait()
    assert len(pids) == 2

    def gone() -> bool:
        return not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)

    _wait_for(gone, 15, "the orphaned Locust processes to die")


def test_bad_journeys_fail_start_cleanly(make_runner, tmp_path: Path) -> None:
    empty = tmp_path / "empty_journeys.py"
    empty.write_text('"""No users here."""\n')
    runner = make_runner(journeys=empty)
    with pytest.raises(LoadError):
        runner.start(timeout=30)
    assert not _locust_processes()


def test_merger_releases_each_second_once_when_all_workers_passed_it() -> None:
    a, b = WorkerBuckets(), WorkerBuckets()
    merger = SecondMerger()
    merger.begin(100)
    a.add("home", 12.0, False, 100.2, users=1)
    b.add("home", 30.0, True, 100.7, users=2)
    a.add("product", 5.0, False, 101.1, users=1)
    merger.add("a", a.snapshot(101.5, users=1))
    assert merger.release(["a", "b"]) == [], "b has not reported yet"
    merger.add("b", b.snapshot(101.6, users=2))
    first = merger.release(["a", "b"])
    assert [r["t"] for r in first] == [100]
    assert (first[0]["requests"], first[0]["failures"], first[0]["users"]) == (2, 1, 3)
    assert first[0]["steps"]["home"]["failures"] == 1
    assert merger.release(["a", "b"]) == []
    b.add("search", 8.0, False, 103.2, users=2)
    merger.add("a", a.snapshot(104.0, users=1))
    merger.add("b", b.snapshot(104.0, users=2))
    rest = merger.release(["a", "b"])
    assert [r["t"] for r in rest] == [101, 102, 103]
    assert [r["requests"] for r in rest] == [1, 0, 1]
    assert [r["users"] for r in rest] == [3, 3, 3], "seconds without requests still carry users"
    assert [r["t"] for r in merger.drain()] == [104]


def test_merger_folds_late_requests_into_the_next_second() -> None:
    worker = WorkerBuckets()
    merger = SecondMerger()
    merger.begin(10)
    merger.add("w", WorkerBuckets().snapshot(12.5, users=1))
    assert [r["t"] for r in merger.release(["w"])] == [10, 11]
    worker.add("home", 3.0, False, 11.9, users=1)
    merger.add("late", worker.snapshot(12.0, users=1))
    drained = merger.drain()
    assert merger.late_requests == 1
    assert sum(r["requests"] for r in drained) == 1
    assert drained[0]["t"] == 12
