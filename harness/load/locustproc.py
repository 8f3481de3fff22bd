"""Locust master and worker processes: ``python -m harness.load.locustproc master|worker ...``.

The only module of the harness that imports Locust (it monkey-patches with gevent on import), so it
only ever runs in processes started by :class:`harness.load.runner.LoadRunner`.

* The **worker** runs the journeys' users, buckets every request by the wall-clock second it
  completed (:class:`~harness.load.buckets.WorkerBuckets`) and piggybacks the buckets on Locust's own
  stats report. Locust's numbers and ours travel in the same message, so they always add up alike.
* The **master** (headless) merges the buckets (:class:`~harness.load.buckets.SecondMerger`) and
  writes one JSON line per finished second to ``--out-fd``; it takes commands as JSON lines on stdin:
  ``{"cmd": "users", "users": n, "spawn_rate": r}`` and ``{"cmd": "stop"}`` (EOF also stops).

Master output lines: ``{"type": "listening", "port"}``, ``{"type": "ready", "workers"}``,
``{"type": "second", "record"}``, ``{"type": "totals", ...}``, ``{"type": "error", "message"}``,
``{"type": "worker_lost", "worker", "state", "live"}`` and ``{"type": "worker_joined", "worker", "live"}``.

Each record also carries the generator's side of the second (:mod:`harness.load.health`):
``target_users`` and ``target_rps`` (offered), ``cpu`` (the busiest worker's CPU %, from each worker's
own psutil reading sent with its buckets) and ``workers`` (live workers). Remote workers
(``harness load-worker``) are the same worker role, so their records are made exactly alike.
"""

from __future__ import annotations

import locust  # first: it monkey-patches the standard library (gevent)

# isort: split
import argparse
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from typing import IO, Any

import gevent
import psutil
from gevent.event import Event
from gevent.fileobject import FileObjectPosix
from gevent.queue import Queue
from locust import User
from locust import runners as locust_runners
from locust.env import Environment
from locust.util.load_locustfile import load_locustfile

from harness.load.buckets import SecondMerger, WorkerBuckets
from harness.load.health import Offered, WorkerWatch
from harness.load.pace import Pace, install
from harness.load.procs import die_with_parent

log = logging.getLogger("harness.load")
_GRACE = 30.0  # seconds past --max-seconds before SIGALRM ends a stuck process
_EMIT_EVERY = 0.25


def load_user_classes(journeys: str) -> list[type[User]]:
    """The runnable User classes of a journeys file."""
    classes, _shapes = load_locustfile(os.path.abspath(journeys))
    if not classes:
        raise SystemExit(f"no Locust User class in {journeys}")
    return list(classes.values())


class Master:
    """A headless Locust master that turns worker buckets into per-second records."""

    def __init__(self, cfg: dict[str, Any], out: IO[str]) -> None:
        self.cfg = cfg
        self.out = out
        self.merger = SecondMerger()
        self.known: set[str] = set()
        self.flushed: set[str] = set()
        self.flush_token: str | None = None
        self.stopping = False
        self.done = Event()
        self.commands: Queue[tuple[int, float, float | None]] = Queue()
        self.offered = Offered()
        self.watch = WorkerWatch()
        self.env = Environment(user_classes=load_user_classes(cfg["journeys"]), host=cfg["host"])
        self.runner = self.env.create_master_runner(cfg.get("bind") or "127.0.0.1", int(cfg.get("port") or 0))
        self.env.events.worker_report.add_listener(self.on_worker_report)
        self.env.events.worker_connect.add_listener(self.on_connect)

    def on_connect(self, client_id: str, **_: Any) -> None:
        """A worker (local or remote) said hello: it learns the current pacing right away."""
        self.known.add(client_id)
        gevent.spawn_later(0.2, self._send_pace, client_id)

    def _send_pace(self, client_id: str | None = None) -> None:
        data = {"per_user": self.offered.per_user(), "think": list(self.cfg.get("think") or [])}
        workers = [client_id] if client_id else [c.id for c in self.runner.clients.all]
        for worker in workers:
            self.runner.send_message("harness_pace", data, client_id=worker)

    def send(self, kind: str, **fields: Any) -> None:
        self.out.write(json.dumps({"type": kind, **fields}, separators=(",", ":")) + "\n")
        self.out.flush()

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        snapshot = data.get("harness")
        if not snapshot:
            return
        self.known.add(client_id)
        self.watch.cpu(client_id, snapshot.get("cpu"))
        self.merger.add(client_id, snapshot)
        if self.flush_token is not None and snapshot.get("flush") == self.flush_token:
            self.flushed.add(client_id)

    def live_workers(self) -> list[str]:
        clients = self.runner.clients
        return [c.id for c in clients.ready + clients.spawning + clients.running]

    def run(self) -> int:
        """Wait for the workers, start the users, serve until stopped; the process exit code."""
        self.send("listening", port=self.runner.server.port)
        problem = self._wait_for_workers()
        if problem:
            self.send("error", message=problem, missing_workers=True)
            return 2
        self.merger.begin(int(time.time()))
        self.watch.begin(self.live_workers())
        greenlets = [gevent.spawn(self._drive), gevent.spawn(self._emit), gevent.spawn(self._control)]
        rate = float(self.cfg["spawn_rate"])
        self.commands.put((int(self.cfg["users"]), rate, self.cfg.get("target_rps")))
        for stage in self.cfg.get("stages", []):
            at, users, stage_rate, rps = (list(stage) + [None])[:4]
            gevent.spawn_later(float(at), self.commands.put, (int(users), float(stage_rate or rate), rps))
        self.send("ready", workers=self.runner.worker_count)
        self.done.wait(timeout=float(self.cfg["max_seconds"]))
        stop_second = int(time.time())
        self.stopping = True
        gevent.killall(greenlets[:2])
        self._shutdown(stop_second)
        return 0

    def _wait_for_workers(self) -> str | None:
        """None once every local and remote worker is connected; what is missing at the bound."""
        local, remote = int(self.cfg["workers"]), int(self.cfg.get("remote_workers") or 0)
        wait = max(float(self.cfg["start_timeout"]), float(self.cfg.get("remote_wait") or 0) if remote else 0.0)
        deadline = time.monotonic() + wait
        while self.runner.worker_count < local + remote:
            if time.monotonic() > deadline:
                where = f"{self.cfg.get('bind') or '127.0.0.1'}:{self.runner.server.port}"
                return (f"only {self.runner.worker_count} of {local + remote} Locust workers ({local} local, "
                        f"{remote} remote) connected within {wait:g}s to the master on {where}"
                        + (f"; start the remote ones with `harness load-worker --master HOST:{self.runner.server.port}`"
                           if remote else ""))
            gevent.sleep(0.05)
        return None

    def _drive(self) -> None:
        """Apply user-count changes one at a time (a Locust dispatch must finish before the next)."""
        while True:
            users, rate, rps = self.commands.get()
            log.info("setting %d users at %.1f/s (target %s req/s)", users, rate, rps)
            self.offered.set(users, rps)
            self._send_pace()
            self.runner.start(users, rate)

    def _emit(self) -> None:
        while not self.stopping:
            live = self.live_workers()
            for kind, fields in self.watch.changes(live):
                self.send(kind, **fields)
            self.watch.sample(time.time(), live, self.offered,
                              ramping=self.runner.state == locust_runners.STATE_SPAWNING or not self.commands.empty())
            for record in self.merger.release(live):
                self.send("second", record=self.watch.annotate(record))
            gevent.sleep(_EMIT_EVERY)

    def _control(self) -> None:
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "users": lambda c: self.commands.put((int(c["users"]), float(c.get("spawn_rate") or self.cfg["spawn_rate"]),
                                                   c.get("target_rps", self.offered.rps))),
            "stop": lambda c: self.done.set(),
        }
        for line in FileObjectPosix(sys.stdin.fileno(), "rb", closefd=False):
            try:
                command = json.loads(line)
                handlers[command["cmd"]](command)
            except (ValueError, KeyError, TypeError):
                log.exception("bad command %r", line)
        self.done.set()

    def _shutdown(self, stop_second: int) -> None:
        """Stop the users, collect every worker's last buckets, emit the rest, report the totals."""
        self.runner.stop()
        self._flush_workers()
        for record in self.merger.drain(until=stop_second - 1):
            self.send("second", record=self.watch.annotate(record))
        stats = self.env.stats
        per_step: dict[str, list[int]] = {}
        for (name, _method), entry in stats.entries.items():
            step = per_step.setdefault(name, [0, 0])
            step[0] += entry.num_requests
            step[1] += entry.num_failures
        self.send("totals", locust_requests=stats.total.num_requests, locust_failures=stats.total.num_failures,
                  per_step=per_step, late_requests=self.merger.late_requests)
        self.runner.quit()

    def _flush_workers(self) -> None:
        self.flush_token = uuid.uuid4().hex
        for worker in self.known:
            self.runner.send_message("harness_flush", {"token": self.flush_token}, client_id=worker)
        deadline = time.monotonic() + float(self.cfg["flush_timeout"])
        while time.monotonic() < deadline:
            missing = {c.id for c in self.runner.clients.all if c.state == locust_runners.STATE_MISSING}
            if self.known <= self.flushed | missing:
                return
            gevent.sleep(0.05)
        log.warning("no final report from %s", sorted(self.known - self.flushed))


def run_master(args: argparse.Namespace) -> int:
    """The master process: config from ``--config`` (JSON), records to ``--out-fd``."""
    cfg = json.loads(args.config)
    signal.alarm(int(float(cfg["max_seconds"]) + _GRACE))
    with os.fdopen(args.out_fd, "w", buffering=1) as out:
        try:
            return Master(cfg, out).run()
        except Exception as exc:
            log.exception("locust master failed")
            out.write(json.dumps({"type": "error", "message": f"{type(exc).__name__}: {exc}"}) + "\n")
            return 1


def run_worker(args: argparse.Namespace) -> int:
    """A worker process: run the journeys' users, report per-second buckets with Locust's stats."""
    signal.alarm(int(args.max_seconds + _GRACE))
    locust_runners.WORKER_REPORT_INTERVAL = args.report_interval
    locust_runners.MASTER_HEARTBEAT_TIMEOUT = args.master_timeout
    classes = load_user_classes(args.journeys)
    pace = Pace()
    install(classes, pace)
    env = Environment(user_classes=classes, host=args.host)
    buckets = WorkerBuckets()
    flush: dict[str, str | None] = {"token": None}
    process = psutil.Process()
    process.cpu_percent()  # the first reading is meaningless; later ones cover the time since the last

    def users() -> int:
        return env.runner.user_count if env.runner is not None else 0

    def on_request(name: str, response_time: float, exception: BaseException | None = None, **_: Any) -> None:
        buckets.add(name, response_time, exception is not None, time.time(), users())

    def on_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        data["harness"] = buckets.snapshot(time.time(), users(), flush["token"])
        data["harness"]["cpu"] = process.cpu_percent()

    env.events.request.add_listener(on_request)
    env.events.report_to_master.add_listener(on_report)
    runner = env.create_worker_runner(args.master_host, args.master_port)
    runner.register_message("harness_pace", lambda environment, msg, **_: pace.update(msg.data, args.remote))

    def on_flush(environment: Environment, msg: Any, **_: Any) -> None:
        flush["token"] = msg.data["token"]
        runner._send_stats()  # an immediate report carrying the token: nothing is left behind

    runner.register_message("harness_flush", on_flush)
    runner.greenlet.join()
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command line of the two roles."""
    parser = argparse.ArgumentParser(prog="python -m harness.load.locustproc")
    roles = parser.add_subparsers(dest="role", required=True)
    master = roles.add_parser("master")
    master.add_argument("--config", required=True, help="JSON: journeys, host, users, spawn_rate, workers, "
                        "stages, max_seconds, start_timeout, flush_timeout")
    master.add_argument("--out-fd", type=int, required=True, help="file descriptor for the JSON lines")
    worker = roles.add_parser("worker")
    worker.add_argument("--journeys", required=True)
    worker.add_argument("--host", default=None, help="base URL; a remote worker gets it from the master")
    worker.add_argument("--master-host", default="127.0.0.1")
    worker.add_argument("--master-port", type=int, required=True)
    worker.add_argument("--remote", action="store_true", help="started by `harness load-worker`, not the runner")
    worker.add_argument("--max-seconds", type=float, required=True, help="hard wall-clock limit")
    worker.add_argument("--report-interval", type=float, default=0.5)
    worker.add_argument("--master-timeout", type=float, default=15.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of both roles."""
    argv = sys.argv[1:] if argv is None else argv
    if "--remote" not in argv:
        die_with_parent()
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {args.role}[%(process)d] %(levelname)s %(name)s: %(message)s")
    log.info("locust %s %s starting", locust.__version__, args.role)
    roles: dict[str, Callable[[argparse.Namespace], int]] = {"master": run_master, "worker": run_worker}
    return roles[args.role](args)


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    os._exit(code)
