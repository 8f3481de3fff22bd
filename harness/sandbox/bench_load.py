"""`make bench`, the load generator: requests/s the harness drives ÷ requests/s of plain
``locust --headless``, same journeys (probes/journeys/storefront.py, no think time), same users, same
duration, against the same static target: Debian's nginx, started here on a loopback port with a tiny
config (index.html for ``/``, a static 200 for every other path and method the journeys use). Both
sides are measured alike: the requests nginx served (its stub_status counter) and the CPU the Locust
processes spent in the same window, after a warm-up.

1 process: the harness's master + 1 worker vs plain standalone Locust; 2 processes: master + 2 workers
vs ``locust --processes 2`` (also a master + 2 workers). nginx, Locust and the harness share the
machine's cores, and so does whatever else runs: each side runs twice, in the order plain, harness,
harness, plain, so that a drift in the machine's load weighs on both alike; the figure uses the sums.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from harness.load.runner import LoadRunner

from .bench_table import Row

JOURNEYS = Path(__file__).resolve().parents[2] / "probes" / "journeys" / "storefront.py"
USERS, SECONDS, WARMUP = 40, 12.0, 3.0
NGINX_CONF = """worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  keepalive_requests 100000;
  server {{
    listen 127.0.0.1:{port};
    root {root}/www;
    location = / {{ try_files /index.html =404; }}
    location = /nginx_status {{ stub_status; }}
    location / {{ default_type application/json; return 200 '{{"ok": true}}'; }}
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_nginx(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """nginx serving the static target from ``root``; returns the process and its URL."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx-light; `make bench` does it as root)")
    port = _free_port()
    (root / "www").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "www" / "index.html").write_text("<html><body><h1>shop</h1></body></html>\n")
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port))
    proc = subprocess.Popen([nginx, "-c", str(root / "nginx.conf"), "-p", str(root)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"nginx did not listen: {(root / 'error.log').read_text()[-300:]}")


@dataclass
class Window:
    """What one side did in the measured window: requests nginx served, CPU seconds of the load
    generator's processes (every Locust process; the harness's own process is idle while it waits)."""

    requests: int
    cpu: float

    def __add__(self, other: Window) -> Window:
        return Window(self.requests + other.requests, self.cpu + other.cpu)


def _served(host: str) -> int:
    """Requests nginx has handled so far (stub_status)."""
    return int(httpx.get(f"{host}/nginx_status", timeout=5).text.split("\n")[2].split()[2])


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _window(host: str, pids: Callable[[], list[int]]) -> Window:
    """Wait out the warm-up, then count what nginx served and what the load processes spent."""
    time.sleep(WARMUP)
    req0, cpu0 = _served(host), _cpu(pids())
    time.sleep(SECONDS)
    req1, cpu1 = _served(host), _cpu(pids())
    return Window(req1 - req0 - 1, cpu1 - cpu0)  # minus the first status request


def plain_locust(host: str, processes: int, folder: Path) -> Window:
    """``locust --headless`` (``--processes N`` for more than one) measured over the window."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "locust", "-f", str(JOURNEYS), "--headless", "-u", str(USERS), "-r", str(USERS),
           "-t", f"{WARMUP + SECONDS + 2:g}s", "--host", host, "--only-summary", "--loglevel", "ERROR"]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    env = {**os.environ, "HARNESS_THINK_MIN": "0", "HARNESS_THINK_MAX": "0"}
    proc = subprocess.Popen(cmd, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return _window(host, lambda: [proc.pid])
    finally:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def harness_load(host: str, workers: int, folder: Path) -> Window:
    """The harness's LoadRunner (master + ``workers`` worker processes) measured over the window."""
    runner = LoadRunner(journeys=JOURNEYS, host=host, users=USERS, spawn_rate=USERS, workers=workers,
                        think_time=(0.0, 0.0), stages=[], run_dir=folder / f"harness{workers}", on_second=lambda _: None)
    runner.start()  # returns once every worker is connected and spawning began, as Locust's -t clock starts
    try:
        return _window(host, runner.process_ids)
    finally:
        runner.stop()


def bench_load() -> list[Row]:
    """Per process count: requests/s harness ÷ plain Locust, and CPU per request, harness ÷ plain."""
    rows = []
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        nginx, host = start_nginx(root / "nginx")
        try:
            for n in (1, 2):
                first = plain_locust(host, n, root / "p1")
                ours = harness_load(host, n, root / "h1") + harness_load(host, n, root / "h2")
                plain = first + plain_locust(host, n, root / "p2")
                what = f"{n} process{'es' if n > 1 else ''}"
                how = (f"nginx, {USERS} users, no think time, requests nginx served in {SECONDS:g} s after a "
                       f"{WARMUP:g} s warm-up, 2 runs each side, ABBA order")
                per_ours, per_plain = ours.cpu / ours.requests * 1e6, plain.cpu / plain.requests * 1e6
                rows.append(Row(f"load, {what}: harness req/s ÷ locust --headless req/s",
                                ours.requests / plain.requests if plain.requests else None, "×",
                                ">= 0.95× (issue 15: 0.97×)",
                                f"harness {ours.requests / (2 * SECONDS):.0f} req/s, plain Locust "
                                f"{plain.requests / (2 * SECONDS):.0f} req/s ({how})"))
                rows.append(Row(f"load, {what}: CPU per request, harness ÷ locust --headless",
                                per_ours / per_plain if per_plain else None, "×", "<= 1.05×",
                                f"harness {per_ours:.0f} µs, plain Locust {per_plain:.0f} µs of Locust processes' "
                                "CPU per request: the cost of the per-second records; steadier than req/s when "
                                "nginx and the generator share 2 cores"))
        finally:
            nginx.terminate()
            nginx.wait(10)
    return rows
