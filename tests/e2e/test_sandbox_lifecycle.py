"""`harness sandbox up` / `down`: ready with every component, then nothing left behind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import psutil

SMALL = """
zones: [b]
nodes_per_zone: 1
prometheus: false
services:
  - {name: storefront, replicas: 1, path_prefix: /}
  - {name: catalog, replicas: 1, path_prefix: /api/catalog}
"""


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=180)


def test_up_status_down_leaves_no_process_or_port(tmp_path):
    cfg = tmp_path / "sandbox.yaml"
    cfg.write_text(SMALL)
    d = tmp_path / "sbx"
    up = _harness("sandbox", "up", "--dir", str(d), "--config", str(cfg))
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        eps = json.loads((d / "endpoints.json").read_text())
        status = _harness("sandbox", "status", "--dir", str(d))
        assert status.returncode == 0, status.stdout
        assert "controller" in status.stdout and "FAIL" not in status.stdout
        daemon = psutil.Process(int(eps["pid"]))
        family = [daemon.pid] + [p.pid for p in daemon.children(recursive=True)]
        assert len(family) >= 4  # postgres, partner, two pods at least
        ports = [int(v.rsplit(":", 1)[1].split("/")[0]) for k, v in eps.items()
                 if k in ("kubernetes", "compute", "ingress", "toxiproxy", "admin")]
    finally:
        down = _harness("sandbox", "down", "--dir", str(d))
    assert down.returncode == 0, down.stderr
    alive = [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert alive == [], [psutil.Process(p).cmdline() for p in alive]
    assert [p for p in ports if _listening(p)] == []
    assert not (d / "endpoints.json").exists()
    assert os.listdir(d)  # logs and data stay for inspection


def test_config_prints_documented_defaults():
    out = _harness("sandbox", "config")
    assert out.returncode == 0
    assert "node_monitor_grace" in out.stdout and "europe-west1" in out.stdout
