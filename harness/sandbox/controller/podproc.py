"""Starting and stopping the real processes behind sandbox pods.

A pod's command comes from a pluggable ``PodCommand`` (``default_pod_command`` runs the shop module).
Every process gets ``PR_SET_PDEATHSIG=SIGKILL`` so it dies with the daemon, and writes its output to
``<sandbox dir>/pods/<pod>.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.aio import wait_timeout

PodCommand = Callable[[dict[str, Any], str, int], list[str]]

_PR_SET_PDEATHSIG = 1


def shop_command(settings: Path) -> PodCommand:
    """The production pod command: ``python -m harness.sandbox.shop.server`` for the pod's app label."""

    def command(pod: dict[str, Any], ip: str, port: int) -> list[str]:
        meta = pod["metadata"]
        app = (meta.get("labels") or {}).get("app", meta["name"])
        return [
            sys.executable, "-m", "harness.sandbox.shop.server", "--service", app, "--host", ip,
            "--port", str(port), "--settings", str(settings), "--pod", meta["name"],
        ]

    return command


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the thread that forked it (the daemon's loop) exits."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class PodProcess:
    """One running container process."""

    def __init__(self, proc: asyncio.subprocess.Process, pod: str) -> None:
        self.proc = proc
        self.pod = pod

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    async def wait(self) -> int:
        """Wait for the process to exit; its return code."""
        return await self.proc.wait()

    def signal(self, sig: int) -> None:
        """Send a signal, ignoring a process that is already gone."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL now."""
        self.signal(signal.SIGKILL)

    async def terminate(self, grace: float) -> str:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL. The signal that ended it."""
        if not self.running:
            return "none"
        self.signal(signal.SIGTERM)
        try:
            await wait_timeout(asyncio.shield(self.proc.wait()), max(grace, 0.0))
            return "SIGTERM"
        except TimeoutError:
            self.kill()
            await self.proc.wait()
            return "SIGKILL"


async def start_process(command: list[str], pod: str, log_dir: Path) -> PodProcess:
    """Start a pod's process, its output appended to ``log_dir/<pod>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_dir / f"{pod}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            preexec_fn=_die_with_parent,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        os.close(fd)
    return PodProcess(proc, pod)
