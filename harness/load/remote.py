"""``harness load-worker``: a Locust worker started by hand (or by a Deployment), not by the runner.

The process becomes (``os.execv``) the same worker role the runner starts locally
(``python -m harness.load.locustproc worker --remote``), so it buckets requests and reports them
exactly alike; it learns the target host, the think time and the pacing from the master. It exits when
the master quits (Locust sends ``quit``) or after ``max_seconds``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.load.procs import PARENT_PID_ENV, child_env

DEFAULT_JOURNEYS = Path("probes/journeys/storefront.py")


def parse_master(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); ValueError with a hint otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--master wants HOST:PORT (e.g. harness-master:5557), got {text!r}")
    return host.strip("[]"), int(port)


def worker_argv(master: str, journeys: Path, max_seconds: float, master_timeout: float) -> list[str]:
    """The command line of a remote worker process."""
    host, port = parse_master(master)
    return [sys.executable, "-P", "-m", "harness.load.locustproc", "worker", "--remote",
            "--journeys", str(journeys.resolve()), "--master-host", host, "--master-port", str(port),
            "--max-seconds", str(max_seconds), "--master-timeout", str(master_timeout)]


def exec_worker(master: str, journeys: Path, max_seconds: float = 86400.0, master_timeout: float = 60.0) -> None:
    """Replace this process by a remote Locust worker (never returns)."""
    if not journeys.is_file():
        raise FileNotFoundError(f"journeys file {journeys} not found")
    argv = worker_argv(master, journeys, max_seconds, master_timeout)
    env = child_env({})
    env.pop(PARENT_PID_ENV, None)  # nobody to die with: it lives until the master quits
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)
