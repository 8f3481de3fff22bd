"""Child processes that cannot outlive the harness.

``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child exits, not the process. So every
Locust process is started from one :class:`ProcessGroup` thread that lives until the group is closed
(after its children are dead), and each child arms the signal itself first thing
(:func:`die_with_parent`), then checks its parent is still the one that started it.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

PARENT_PID_ENV = "HARNESS_LOAD_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child: get SIGKILL when the parent dies; exit now if it already has (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    expected = os.environ.get(PARENT_PID_ENV)
    if expected and os.getppid() != int(expected):
        os._exit(70)


def project_root() -> Path:
    """The folder holding the ``harness`` package (put on the children's PYTHONPATH)."""
    return Path(__file__).resolve().parents[2]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a Locust child: ours, plus PYTHONPATH, the parent pid and ``extra``."""
    env = dict(os.environ)
    paths = [str(project_root()), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env[PARENT_PID_ENV] = str(os.getpid())
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class ProcessGroup:
    """Processes started from one long-lived thread; :meth:`close` leaves none behind."""

    def __init__(self, name: str = "load-spawner") -> None:
        self._requests: queue.Queue[tuple[Future[subprocess.Popen[bytes]], dict[str, Any]] | None] = (
            queue.Queue()
        )
        self._procs: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def spawn(self, argv: list[str], *, log: Path, env: dict[str, str], **popen: Any) -> subprocess.Popen[bytes]:
        """Start ``argv`` (stdout and stderr appended to ``log``) from the group's thread."""
        fut: Future[subprocess.Popen[bytes]] = Future()
        with log.open("ab") as out:
            kwargs = {"args": argv, "stdout": out, "stderr": subprocess.STDOUT, "env": env,
                      "start_new_session": True, **popen}
            self._requests.put((fut, kwargs))
            proc = fut.result(timeout=30)
        with self._lock:
            self._procs.append(proc)
        return proc

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """Every process started so far (dead or alive)."""
        with self._lock:
            return list(self._procs)

    def terminate(self, grace: float = 3.0) -> None:
        """SIGTERM every live process, SIGKILL what is left after ``grace`` seconds, reap them all."""
        procs = self.processes()
        for proc in procs:
            _signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - unkillable (D state)
                pass

    def close(self, grace: float = 3.0) -> None:
        """Terminate every process, then end the spawning thread."""
        self.terminate(grace)
        self._requests.put(None)
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while (req := self._requests.get()) is not None:
            fut, kwargs = req
            try:
                fut.set_result(subprocess.Popen(**kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
