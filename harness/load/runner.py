"""The harness side of the load: starts Locust in its own processes and streams per-second records.

Locust never runs in the harness process (it monkey-patches on import): :class:`LoadRunner` starts one
headless master and N workers (``python -m harness.load.locustproc``), reads the master's JSON lines
on a pipe in a reader thread, and hands each finished second to ``on_second``, in order, once.

    runner = LoadRunner(journeys=..., host=..., users=50, spawn_rate=10, workers=None,
                        think_time=(1, 3), stages=[(60, 200, 50)], run_dir=..., on_second=timeline.add)
    runner.start()          # workers (local and remote) connected, spawning began
    ...
    totals = runner.stop()  # every second delivered, no process left
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, Refused
from harness.load.procs import ProcessGroup, child_env

log = logging.getLogger(__name__)


class LoadError(HarnessError):
    """The load generator failed to start, died, or did not stop cleanly."""


class WorkersMissing(LoadError, Refused):
    """Fewer Locust workers than asked connected within the bound: the run is refused (nothing injected)."""


@dataclass(frozen=True)
class RemoteWorkers:
    """Where the master listens, and for how many workers started elsewhere (``harness load-worker``)."""

    count: int = 0
    """Remote workers to wait for before the load starts."""
    bind: str = "127.0.0.1"
    """Listening address of the master (``0.0.0.0`` for other machines or pods)."""
    port: int = 0
    """Listening port (and the next one); 0 = any free port."""
    wait: float = 60.0
    """How long to wait for them (seconds)."""


@dataclass(frozen=True)
class LoadTotals:
    """What a load run added up to, by the harness and by Locust itself."""

    requests: int
    """Sum of ``requests`` over every per-second record delivered to ``on_second``."""
    failures: int
    """Sum of ``failures`` over every per-second record delivered."""
    locust_requests: int
    """Locust's own ``env.stats.total.num_requests`` in the master at the end."""
    locust_failures: int
    """Locust's own ``env.stats.total.num_failures`` in the master at the end."""
    per_step: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Locust's (requests, failures) per request name (journey step)."""


@dataclass(frozen=True)
class LoadTimeouts:
    """Bounds on the Locust processes (seconds)."""

    max_seconds: float = 3600.0
    """Hard wall-clock life of every process; the master stops the load by itself at this point."""
    flush: float = 5.0
    """How long the master waits at stop for each worker's last report."""
    kill_grace: float = 3.0
    """Between SIGTERM and SIGKILL of a process that did not exit."""
    report_interval: float = 0.5
    """How often each worker sends its buckets (and Locust's stats) to the master."""


class LoadRunner:
    """Locust master + workers in subprocesses, feeding one record per second to ``on_second``."""

    def __init__(self, *, journeys: Path, host: str, users: int, spawn_rate: float,
                 workers: int | None, think_time: tuple[float, float],
                 stages: list[tuple[float, int, float | None]] | list[tuple[float, int, float | None, float | None]],
                 run_dir: Path, on_second: Callable[[dict[str, Any]], None],
                 timeouts: LoadTimeouts | None = None, target_rps: float | None = None,
                 remote: RemoteWorkers | None = None,
                 on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        if users < 0 or spawn_rate <= 0:
            raise ValueError("users must be >= 0 and spawn_rate > 0")
        self.remote = remote or RemoteWorkers()
        self.target_rps = target_rps
        self.on_event = on_event
        """Called (from the reader thread) with each ``worker_lost`` / ``worker_joined`` message."""
        self.lost: list[str] = []
        self.journeys = Path(journeys).resolve()
        self.host = host
        self.users = users
        self.spawn_rate = spawn_rate
        local = workers if workers is not None else (os.cpu_count() or 1)
        self.workers = max(0 if self.remote.count else 1, local)
        self.think_time = think_time
        self.stages = list(stages)
        self.run_dir = Path(run_dir)
        self.on_second = on_second
        self.timeouts = timeouts or LoadTimeouts()
        self._lock = threading.Lock()
        self._control: queue.Queue[dict[str, Any]] = queue.Queue()
        self._group: ProcessGroup | None = None
        self._master: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._sums = [0, 0]
        self._result: LoadTotals | None = None
        self._started = False

    # -- public ---------------------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        """Start master and workers; return once every worker is connected and spawning began."""
        with self._lock:
            if self._started:
                raise LoadError("load already started")
            self._started = True
            waits = timeout + (self.remote.wait + 5.0 if self.remote.count else 0.0)
            deadline = time.monotonic() + waits
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._group = ProcessGroup()
            try:
                self._start_master(timeout)
                port = self._await("listening", deadline)["port"]
                for index in range(1, self.workers + 1):
                    self._start_worker(index, int(port))
                self._await("ready", deadline)
            except BaseException:
                self._teardown()
                raise

    def set_users(self, users: int, spawn_rate: float | None = None) -> None:
        """Change the number of users now (as a stage would)."""
        self._command({"cmd": "users", "users": users, "spawn_rate": spawn_rate or self.spawn_rate})

    def alive(self) -> bool:
        """True while the master and every worker are running."""
        group = self._group
        if group is None or self._result is not None:
            return False
        procs = group.processes()
        return bool(procs) and all(p.poll() is None for p in procs)

    def lost_workers(self) -> list[str]:
        """Ids of the workers (local or remote) that disconnected or went missing during the load."""
        return list(self.lost)

    def process_ids(self) -> list[int]:
        """Pids of the Locust processes started (master first)."""
        return [p.pid for p in self._group.processes()] if self._group else []

    def stop(self, timeout: float = 30) -> LoadTotals:
        """Stop the users, deliver every remaining second, end every process; Locust's totals.

        Raises :class:`LoadError` (after cleaning up) when the master died or never reported totals.
        """
        with self._lock:
            if self._result is not None:
                return self._result
            if self._group is None:
                raise LoadError("load was never started")
            deadline = time.monotonic() + max(1.0, timeout - self.timeouts.kill_grace)
            totals: dict[str, Any] | None = None
            try:
                self._command({"cmd": "stop"})
                totals = self._await("totals", deadline)
            except LoadError as exc:
                error: LoadError | None = exc
            else:
                error = None
            finally:
                self._teardown(wait_master=max(0.0, deadline - time.monotonic()))
            if error is not None or totals is None:
                raise error or LoadError("no totals from the locust master")
            self._result = self._totals(totals)
            return self._result

    def __enter__(self) -> LoadRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop (and clean up) if started; an error from stop() does not mask the block's own."""
        if self._group is not None and self._result is None:
            try:
                self.stop()
            except LoadError:
                if exc[0] is None:
                    raise

    # -- processes ------------------------------------------------------------------------------------

    def _argv(self, *args: str) -> list[str]:
        return [sys.executable, "-P", "-m", "harness.load.locustproc", *args]  # -P: see harness.__main__

    def _start_master(self, timeout: float) -> None:
        assert self._group is not None
        config = {
            "journeys": str(self.journeys), "host": self.host, "users": self.users,
            "spawn_rate": self.spawn_rate, "workers": self.workers, "stages": self.stages,
            "max_seconds": self.timeouts.max_seconds, "start_timeout": timeout,
            "flush_timeout": self.timeouts.flush, "target_rps": self.target_rps,
            "think": list(self.think_time), "remote_workers": self.remote.count, "bind": self.remote.bind,
            "port": self.remote.port, "remote_wait": self.remote.wait,
        }
        read_fd, write_fd = os.pipe()
        try:
            self._master = self._group.spawn(
                self._argv("master", "--config", json.dumps(config), "--out-fd", str(write_fd)),
                log=self.run_dir / "locust-master.log", env=child_env({}),
                pass_fds=(write_fd,), stdin=subprocess.PIPE)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._reader = threading.Thread(target=self._read, args=(read_fd,), name="load-reader", daemon=True)
        self._reader.start()

    def _start_worker(self, index: int, port: int) -> None:
        assert self._group is not None
        env = child_env({"HARNESS_THINK_MIN": str(self.think_time[0]),
                         "HARNESS_THINK_MAX": str(self.think_time[1])})
        argv = self._argv("worker", "--journeys", str(self.journeys), "--host", self.host,
                          "--master-port", str(port), "--max-seconds", str(self.timeouts.max_seconds),
                          "--report-interval", str(self.timeouts.report_interval))
        self._group.spawn(argv, log=self.run_dir / f"locust-worker-{index}.log", env=env,
                          stdin=subprocess.DEVNULL)

    def _command(self, command: dict[str, Any]) -> None:
        master = self._master
        if master is None or master.stdin is None or master.poll() is not None:
            return
        try:
            master.stdin.write((json.dumps(command) + "\n").encode())
            master.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def _teardown(self, wait_master: float = 0.0) -> None:
        """Let the master exit by itself for up to ``wait_master`` s, then end every process."""
        master, group = self._master, self._group
        if master is not None:
            try:
                master.wait(timeout=wait_master)
            except subprocess.TimeoutExpired:
                pass
        if group is not None:
            group.close(grace=self.timeouts.kill_grace)
        if master is not None and master.stdin is not None:
            try:
                master.stdin.close()
            except OSError:
                pass
        if self._reader is not None:
            self._reader.join(timeout=5)

    # -- the master's lines ---------------------------------------------------------------------------

    def _read(self, fd: int) -> None:
        """Reader thread: deliver records, queue control messages; EOF when the master is gone."""
        with os.fdopen(fd, "rb") as pipe:
            for raw in pipe:
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("unreadable line from locust master: %r", raw[:200])
                    continue
                if message.get("type") == "second":
                    self._deliver(message["record"])
                elif message.get("type") in ("worker_lost", "worker_joined"):
                    self._worker_changed(message)
                else:
                    self._control.put(message)
        self._control.put({"type": "eof"})

    def _worker_changed(self, message: dict[str, Any]) -> None:
        if message["type"] == "worker_lost":
            self.lost.append(str(message.get("worker")))
        log.warning("locust %s: %s (%s live)", message["type"], message.get("worker"), message.get("live"))
        if self.on_event is not None:
            try:
                self.on_event(message)
            except Exception:
                log.exception("on_event failed for %r", message)

    def _deliver(self, record: dict[str, Any]) -> None:
        self._sums[0] += int(record.get("requests", 0))
        self._sums[1] += int(record.get("failures", 0))
        try:
            self.on_second(record)
        except Exception:
            log.exception("on_second failed for t=%s", record.get("t"))

    def _await(self, kind: str, deadline: float) -> dict[str, Any]:
        """The next control message of type ``kind``; LoadError on error, EOF or the deadline."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LoadError(f"timed out waiting for the locust master ({kind}); see {self._log_hint()}")
            try:
                message = self._control.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if message.get("type") == kind:
                return message
            if message.get("type") == "error":
                error = WorkersMissing if message.get("missing_workers") else LoadError
                raise error(f"locust master: {message.get('message')}; see {self._log_hint()}")
            if message.get("type") == "eof":
                self._control.put(message)  # stays visible to later waits
                rc = self._master.poll() if self._master else None
                raise LoadError(f"locust master exited (code {rc}) before {kind}; see {self._log_hint()}")

    def _log_hint(self) -> str:
        return str(self.run_dir / "locust-master.log")

    def _totals(self, message: dict[str, Any]) -> LoadTotals:
        per_step = {str(k): (int(v[0]), int(v[1])) for k, v in (message.get("per_step") or {}).items()}
        return LoadTotals(requests=self._sums[0], failures=self._sums[1],
                          locust_requests=int(message["locust_requests"]),
                          locust_failures=int(message["locust_failures"]), per_step=per_step)
