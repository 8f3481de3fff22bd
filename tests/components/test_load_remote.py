"""Load beyond one machine and load profiles, with Locust itself on loopback: remote workers started as
`harness load-worker` processes, spike stages, a requests-per-second target the generator cannot meet."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.errors import Refused
from harness.load import LoadError, LoadRunner, LoadTimeouts, RemoteWorkers, WorkersMissing
from harness.measure.generator import SHORTFALL_TEXT, generator_flags, generator_summary
from harness.measure.timeline import TimelineWriter, read_timeline
from harness.report.summary import render_summary

try:
    from tests.fixtures.tinyshop import TinyShop
except ImportError:  # tests/ is on sys.path rather than the project root
    from fixtures.tinyshop import TinyShop  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[2]
JOURNEYS = REPO / "probes" / "journeys" / "storefront.py"


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _free_port_pair() -> int:
    """A port P with P and P+1 free (the Locust master binds both)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port >= 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no free port pair")


class Sink:
    """Thread-safe list for on_second / on_event."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, item: dict[str, Any]) -> None:
        with self._lock:
            self.items.append(item)

    def copy(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.items)


@pytest.fixture
def shop() -> Iterator[TinyShop]:
    with TinyShop() as s:
        yield s


@pytest.fixture
def runners() -> Iterator[list[LoadRunner]]:
    made: list[LoadRunner] = []
    yield made
    for runner in made:
        try:
            runner.stop(timeout=20)
        except LoadError:
            pass


def _load_worker(port: int, log: Path) -> subprocess.Popen[bytes]:
    """`harness load-worker` as an operator would start it, not by the runner."""
    argv = [sys.executable, "-m", "harness", "load-worker", "--master", f"127.0.0.1:{port}",
            "--journeys", str(JOURNEYS), "--max-seconds", "90", "--master-timeout", "20"]
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[int], list[subprocess.Popen[bytes]]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(port: int) -> list[subprocess.Popen[bytes]]:
        procs = [_load_worker(port, tmp_path / f"remote-{i}.log") for i in (1, 2)]
        started.extend(procs)
        return procs

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _runner(shop: TinyShop, tmp_path: Path, **overrides: Any) -> LoadRunner:
    kwargs: dict[str, Any] = {
        "journeys": JOURNEYS, "host": shop.url, "users": 6, "spawn_rate": 50.0, "workers": 1,
        "think_time": (0.05, 0.2), "stages": [], "run_dir": tmp_path / "run", "on_second": Sink(),
        "timeouts": LoadTimeouts(max_seconds=90, flush=5),
    }
    kwargs.update(overrides)
    return LoadRunner(**kwargs)


def test_two_remote_workers_feed_the_records_and_a_killed_one_is_reported(
        shop: TinyShop, tmp_path: Path, runners: list[LoadRunner], workers: Callable[[int], list[Any]]) -> None:
    port = _free_port_pair()
    remote = workers(port)  # started first, separately: they wait for the master
    records, events = Sink(), Sink()
    runner = _runner(shop, tmp_path, workers=0, on_second=records, on_event=events,
                     remote=RemoteWorkers(count=2, bind="127.0.0.1", port=port, wait=40))
    runners.append(runner)
    runner.start(timeout=30)
    _wait_for(lambda: sum(1 for r in records.copy() if r.get("users") == 6 and r.get("requests")) >= 3, 40,
              "three full seconds from both workers")
    full = [r for r in records.copy() if r.get("users") == 6]
    assert all(r["workers"] == 2 for r in full), "both remote workers were live"
    # users are split 3 + 3: a record with 6 users holds the buckets of both workers
    assert all(r["target_users"] == 6 and r.get("cpu") is not None for r in full)

    os.kill(remote[0].pid, signal.SIGKILL)  # kill -9: no goodbye to the master
    _wait_for(lambda: any(e["type"] == "worker_lost" for e in events.copy()), 20, "the lost worker reported")
    assert runner.lost_workers() and len(runner.lost_workers()) == 1
    _wait_for(lambda: records.copy()[-1].get("workers") == 1, 10, "records with one live worker")
    totals = runner.stop()

    ts = [r["t"] for r in records.copy()]
    assert ts == list(range(ts[0], ts[0] + len(ts))), "one record per second, in order, no gaps"
    assert totals.requests == sum(r["requests"] for r in records.copy()) > 0
    assert totals.requests == totals.locust_requests, "the timeline's totals are Locust's own"
    assert totals.failures == totals.locust_failures

    journal = [{"type": f"load.{e['type']}", "worker": e["worker"], "live": e["live"]} for e in events.copy()]
    writer = TimelineWriter(tmp_path / "timeline.jsonl", start=ts[0])
    for record in records.copy():
        writer.add_load(record)
    writer.close()
    generator = generator_summary(read_timeline(tmp_path / "timeline.jsonl"), journal)
    assert generator["workers"]["lost"] == [events.copy()[0]["worker"]]
    summary = render_summary({"name": "remote", "status": "passed", "exit_code": 0, "generator": generator})
    assert "1 load worker(s) lost" in summary and "## Load generator" in summary


def test_missing_remote_workers_refuse_the_run_at_the_bound(shop: TinyShop, tmp_path: Path,
                                                            runners: list[LoadRunner]) -> None:
    runner = _runner(shop, tmp_path, workers=0,
                     remote=RemoteWorkers(count=1, bind="127.0.0.1", port=_free_port_pair(), wait=2))
    runners.append(runner)
    started = time.monotonic()
    with pytest.raises(WorkersMissing) as caught:
        runner.start(timeout=5)
    assert isinstance(caught.value, Refused), "nothing was injected yet: the run is refused (exit 2)"
    assert "0 of 1 Locust workers" in str(caught.value) and "harness load-worker" in str(caught.value)
    assert time.monotonic() - started < 15


def test_spike_stage_ramps_up_within_the_stage_and_holds(shop: TinyShop, tmp_path: Path,
                                                         runners: list[LoadRunner]) -> None:
    from harness.spec.models import LoadSpec

    spec = LoadSpec(users=1, spawn_rate=10, stages=[{"at": "2s", "ramp_to": 8, "in": "2s", "hold": "4s"}])
    records = Sink()
    runner = _runner(shop, tmp_path, users=1, on_second=records,
                     stages=[(c.at, c.users, c.spawn_rate, c.target_rps) for c in spec.schedule()])
    runners.append(runner)
    runner.start(timeout=30)
    _wait_for(lambda: len(records.copy()) >= 12, 30, "twelve seconds of load")
    runner.stop()
    users = [r["users"] for r in records.copy()]
    targets = [r.get("target_users") for r in records.copy()]
    peak = users.index(8)
    assert peak <= 5, f"8 users reached within the ramp (2 s after the stage at 2 s): {users}"
    assert users[peak:peak + 3] == [8, 8, 8], f"the spike holds: {users}"
    assert targets[peak] == 8 and targets[-1] == 1 and users[-1] == 1, f"then back to 1: {users} {targets}"


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        time.sleep(0.05)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


def test_a_generator_capped_below_its_target_is_flagged(tmp_path: Path, runners: list[LoadRunner]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        records = Sink()
        host = f"http://127.0.0.1:{server.server_address[1]}"
        # one user against a 50 ms site manages ~20 req/s at best: 300 req/s cannot be offered
        runner = LoadRunner(journeys=JOURNEYS, host=host, users=1, spawn_rate=10, workers=1, think_time=(0, 0),
                            stages=[], run_dir=tmp_path / "run", on_second=records, target_rps=300.0,
                            timeouts=LoadTimeouts(max_seconds=60, flush=5))
        runners.append(runner)
        runner.start(timeout=30)
        _wait_for(lambda: len(records.copy()) >= 8, 30, "eight seconds of load")
        runner.stop()
    finally:
        server.shutdown()
    writer = TimelineWriter(tmp_path / "timeline.jsonl", start=records.copy()[0]["t"])
    for record in records.copy():
        writer.add_load(record)
    writer.close()
    seconds = list(read_timeline(tmp_path / "timeline.jsonl"))
    loaded = [s.load for s in seconds if s.load is not None and s.load.target_rps]
    assert loaded and all(load.target_rps == 300.0 for load in loaded), "offered load is in the timeline"
    assert max(load.requests for load in loaded) < 100, "achieved stays far below"
    flags = generator_flags(seconds)
    assert [f.kind for f in flags] == ["shortfall"] and flags[0].message == SHORTFALL_TEXT
