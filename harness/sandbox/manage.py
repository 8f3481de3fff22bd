"""`harness sandbox up|down|status`: start the daemon in the background, stop it, ask it how it is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from harness.errors import SandboxError

from .core.files import open_private, write_private

DEFAULT_DIR = Path(".sandbox")
#: Records whether the sandbox created its folder ("created": kept 0700) or was given one the user made
#: ("given": its mode is never touched).
ORIGIN_FILE = ".origin"
#: Files only a sandbox writes: a folder holding one but no ORIGIN_FILE was created by an earlier sandbox.
SANDBOX_FILES = ("endpoints.json", "daemon.log", "daemon.pid")


def _pid(directory: Path) -> int | None:
    try:
        pid = int((directory / "daemon.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _origin(directory: Path) -> str:
    marker = directory / ORIGIN_FILE
    if marker.exists():
        return marker.read_text().strip()
    made_by_sandbox = any((directory / name).exists() for name in SANDBOX_FILES)
    return "created" if made_by_sandbox else "given"


def prepare_dir(directory: Path) -> None:
    """Make the sandbox folder ready: created 0700 when missing, tightened to 0700 when an earlier
    sandbox created it, left as it is when the user made it (its files are 0600 either way)."""
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        origin = "created"
    else:
        origin = _origin(directory)
    if origin == "created":
        directory.chmod(0o700)
    if not (directory / ORIGIN_FILE).exists():
        write_private(directory / ORIGIN_FILE, origin + "\n")


def endpoints(directory: Path = DEFAULT_DIR) -> dict[str, Any]:
    """The running sandbox's endpoints.json."""
    path = directory / "endpoints.json"
    if not path.exists():
        raise SandboxError(f"no sandbox is running ({path} is missing); run `harness sandbox up`")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def is_up(directory: Path = DEFAULT_DIR) -> bool:
    return _pid(directory) is not None and (directory / "ready").exists()


def up(directory: Path = DEFAULT_DIR, config: Path | None = None, timeout: float = 120) -> dict[str, Any]:
    """Start the daemon detached and return its endpoints once everything is ready."""
    prepare_dir(directory)
    if is_up(directory):
        return endpoints(directory)
    if _pid(directory) is not None:
        down(directory)
    for stale in ("ready", "endpoints.json"):
        (directory / stale).unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "harness.sandbox.daemon", "--dir", str(directory)]
    if config:
        cmd += ["--config", str(config)]
    with open(open_private(directory / "daemon.log"), "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (directory / "ready").exists() and (directory / "endpoints.json").exists():
            return endpoints(directory)
        if proc.poll() is not None:
            raise SandboxError(f"sandbox daemon exited with {proc.returncode}:\n{_tail(directory)}")
        time.sleep(0.1)
    _kill_group(proc.pid)
    raise SandboxError(f"sandbox not ready after {timeout:.0f}s:\n{_tail(directory)}")


def _tail(directory: Path, lines: int = 30) -> str:
    try:
        return "\n".join((directory / "daemon.log").read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no daemon.log)"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def down(directory: Path = DEFAULT_DIR, timeout: float = 30) -> bool:
    """Stop the daemon and every process it started. Returns False when nothing was running."""
    pid = _pid(directory)
    if pid is None:
        for stale in ("ready", "endpoints.json", "daemon.pid"):
            (directory / stale).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid(directory) is not None:
        time.sleep(0.1)
    _kill_group(pid)  # anything the daemon left in its session
    for stale in ("ready", "endpoints.json", "daemon.pid"):
        (directory / stale).unlink(missing_ok=True)
    return True


def status(directory: Path = DEFAULT_DIR) -> dict[str, Any]:
    """Each component's health, from the daemon's admin endpoint."""
    eps = endpoints(directory)
    try:
        resp = httpx.get(f"{eps['admin']}/status", timeout=5)
    except httpx.HTTPError as exc:
        raise SandboxError(f"sandbox admin endpoint unreachable: {exc}") from exc
    data: dict[str, Any] = resp.json()
    return data
