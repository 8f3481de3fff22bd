"""`make bench`, the load generator: requests/s the harness drives ÷ requests/s of plain
``locust --headless``, same journeys (probes/journeys/storefront.py, no think time), same users, same
duration, against the same static target: Debian's nginx, started here on a loopback port with a tiny
config (index.html for ``/``, a static 200 for every other path and method the journeys use).

1 process: the harness's master + 1 worker vs plain standalone Locust; 2 processes: master + 2 workers
vs ``locust --processes 2`` (also a master + 2 workers). nginx, Locust and the harness share the
machine's cores, and so does whatever else runs: each side runs twice, in the order plain, harness,
harness, plain, so that a drift in the machine's load weighs on both alike; the figure uses the sums.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.load.runner import LoadRunner

from .bench_table import Row

JOURNEYS = Path(__file__).resolve().parents[2] / "probes" / "journeys" / "storefront.py"
USERS, SECONDS = 40, 15
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


def plain_locust(host: str, processes: int, folder: Path) -> float:
    """Requests/s of ``locust --headless`` over SECONDS."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / f"plain{processes}"
    cmd = [sys.executable, "-m", "locust", "-f", str(JOURNEYS), "--headless", "-u", str(USERS), "-r", str(USERS),
           "-t", f"{SECONDS}s", "--host", host, "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR"]
    if processes > 1:
        cmd += ["--processes", str(processes)]
    env = {**os.environ, "HARNESS_THINK_MIN": "0", "HARNESS_THINK_MAX": "0"}
    subprocess.run(cmd, capture_output=True, timeout=SECONDS + 60, check=False, env=env, cwd=folder)
    with open(f"{prefix}_stats.csv", newline="") as fh:
        total = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    return int(total["Request Count"]) / SECONDS


def harness_load(host: str, workers: int, folder: Path) -> float:
    """Requests/s the harness's LoadRunner drives over SECONDS (Locust's own count)."""
    seconds: list[int] = []
    runner = LoadRunner(journeys=JOURNEYS, host=host, users=USERS, spawn_rate=USERS, workers=workers,
                        think_time=(0.0, 0.0), stages=[], run_dir=folder / f"harness{workers}",
                        on_second=lambda rec: seconds.append(int(rec.get("requests", 0))))
    runner.start()
    time.sleep(SECONDS)
    totals = runner.stop()
    return totals.locust_requests / SECONDS


def bench_load() -> list[Row]:
    """One row per process count: harness ÷ plain Locust."""
    rows = []
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        nginx, host = start_nginx(root / "nginx")
        try:
            for n in (1, 2):
                first = plain_locust(host, n, root / "p1")
                ours = (harness_load(host, n, root / "h1") + harness_load(host, n, root / "h2")) / 2
                plain = (first + plain_locust(host, n, root / "p2")) / 2
                rows.append(Row(f"load, {n} process{'es' if n > 1 else ''}: harness req/s ÷ locust --headless req/s",
                                ours / plain if plain else None, "×", ">= 0.95× (issue 15: 0.97×)",
                                f"harness {ours:.0f} req/s, plain Locust {plain:.0f} req/s (nginx, {USERS} users, "
                                f"no think time, 2 × {SECONDS} s each side, ABBA order)"))
        finally:
            nginx.terminate()
            nginx.wait(10)
    return rows
