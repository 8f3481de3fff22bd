"""The GKE examples of targets.yaml are valid targets, and each fits where it runs from."""

from __future__ import annotations

import re
from pathlib import Path

from harness.clients.connect import resolve_connection
from harness.spec.targets import GkeTarget, resolve_target
from harness.spec.yamldoc import parse_yaml

ROOT = Path(__file__).resolve().parents[2]


def _uncommented_example(tmp_path: Path) -> Path:
    """experiments/targets.yaml with its commented `gke-staging` block uncommented, as a user would."""
    lines = (ROOT / "experiments" / "targets.yaml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "# gke-staging:")
    block = []
    for line in lines[start:]:
        if not line.startswith("  #"):
            break
        block.append("  " + line[4:] if line.startswith("  # ") else "")
    out = tmp_path / "targets.yaml"
    out.write_text("\n".join(["targets:", *block]) + "\n")
    return out


def _load(path: Path, name: str, environ: dict[str, str]) -> GkeTarget:
    doc, problems = parse_yaml("target: x\n", "experiment.yaml")
    assert doc is not None and not problems
    target, problems = resolve_target(name, path, doc, environ, set())
    assert not problems, [str(p) for p in problems]
    assert isinstance(target, GkeTarget)
    return target


def test_the_outside_example_is_a_valid_target_reachable_from_a_runner(tmp_path: Path) -> None:
    env = {"KUBECONFIG": "/home/ci/.kube/config", "STAGING_PG_PASSWORD": "pw"}
    target = _load(_uncommented_example(tmp_path), "gke-staging", env)
    conn = resolve_connection(target)
    assert conn.network == "shop-vpc" and conn.kubeconfig == "/home/ci/.kube/config"
    urls = [conn.site_url, conn.prometheus_url or "", conn.toxiproxy_url or "", conn.postgres_dsn or ""]
    assert not any(".svc" in u for u in urls), urls  # cluster-internal names do not resolve outside the cluster
    assert conn.site_url.startswith("https://")
    host = re.search(r"@([^:/]+)", conn.postgres_dsn or "")
    assert host is not None and host.group(1) in conn.postgres_allowed_hosts


def test_the_in_cluster_target_uses_service_addresses_and_names_its_network() -> None:
    target = _load(ROOT / "deploy" / "targets.yaml", "in-cluster", {"PG_PASSWORD": "pw"})
    assert target.kubeconfig is None and target.network == "shop-vpc"
    assert ".svc" in str(target.prometheus_url)
