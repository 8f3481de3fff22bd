"""deploy/, the kustomize base for in-cluster runs, with the real kubectl: it renders, and the sandbox's
API server accepts it with ``kubectl apply --dry-run=server`` (validated, answered, nothing stored).
The sandbox's request log shows what kubectl asked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.sandbox.core.store import RESOURCES
from harness.sandbox.kube.requestlog import read_requests
from tests.components.test_kubeapi import Sandbox, sbx  # noqa: F401 - the in-process API server fixture

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _kubectl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=60)


def _rendered() -> list[dict[str, Any]]:
    proc = _kubectl("kustomize", str(DEPLOY))
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def test_kustomize_renders_the_base() -> None:
    docs = _rendered()
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "CronJob", "Deployment", "Namespace", "Role",
                     "RoleBinding", "Service", "ServiceAccount"]
    job = next(d for d in docs if d["kind"] == "CronJob")
    assert job["spec"]["schedule"] == "0 9 * * 2" and job["spec"]["timeZone"] == "Europe/Paris"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "shop-resilience-harness" and pod["securityContext"]["runAsNonRoot"]
    container = pod["containers"][0]
    assert container["image"].endswith("/shop-resilience-harness:0.1.0")
    assert all("valueFrom" in e and "value" not in e for e in container["env"])  # references, never values
    assert {e["name"] for e in container["env"]} >= {"SLACK_WEBHOOK_URL", "GRAFANA_URL", "GRAFANA_API_TOKEN"}
    config = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    assert "checkout-pod-kill.yaml" in config["harness-experiments"]["data"]
    assert {"targets.yaml", "freeze.yaml"} <= set(config["harness-experiments"]["data"])  # no game day in a sale
    assert "weekly-staging.yaml" in config["harness-gamedays"]["data"]
    assert not [d for d in docs if d["kind"] == "Secret"]


def test_load_workers_point_at_the_master_service_of_the_game_day_pods() -> None:
    docs = _rendered()
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "harness-master")
    job = next(d for d in docs if d["kind"] == "CronJob")
    game_day_labels = job["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= game_day_labels.items(), "the master runs in the game day's pod"
    assert [p["port"] for p in service["spec"]["ports"]] == [5557, 5558]
    workers = next(d for d in docs if d["kind"] == "Deployment")
    pod = workers["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"][:3] == ["load-worker", "--master", "harness-master:5557"]
    assert container["image"].endswith("/shop-resilience-harness:0.1.0")
    assert container["resources"]["requests"]["cpu"] == container["resources"]["limits"]["cpu"] == "1"
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert workers["spec"]["replicas"] == 0, "scaled up for a game day, never idle load"


def test_server_dry_run_is_accepted_and_stores_nothing(sbx: Sandbox, tmp_path: Path) -> None:  # noqa: F811
    store = sbx.ctx.store
    before = {plural: len(sbx.lt.call(store.list, plural)) for plural in RESOURCES}
    proc = _kubectl("apply", "--dry-run=server", "-k", str(DEPLOY), "--kubeconfig", str(tmp_path / "kubeconfig"))
    assert proc.returncode == 0, proc.stderr
    kinds = len(_rendered())
    assert proc.stdout.count("(server dry run)") == kinds, proc.stdout
    assert "cronjob.batch/gameday-weekly-staging created (server dry run)" in proc.stdout
    assert "clusterrole.rbac.authorization.k8s.io/shop-resilience-harness created (server dry run)" in proc.stdout
    assert "deployment.apps/harness-load-worker created (server dry run)" in proc.stdout
    assert "service/harness-master created (server dry run)" in proc.stdout
    after = {plural: len(sbx.lt.call(store.list, plural)) for plural in RESOURCES}
    assert after == before
    writes = [r for r in read_requests(sbx.ctx.dir / "requests.jsonl") if r["verb"] in ("create", "patch", "update")]
    assert len(writes) == kinds and all(r["code"] == 201 and r["agent"].startswith("kubectl") for r in writes)


def test_server_side_apply_dry_run_too_and_a_real_apply_creates_then_updates(sbx: Sandbox,  # noqa: F811
                                                                             tmp_path: Path) -> None:
    kubeconfig = str(tmp_path / "kubeconfig")
    store = sbx.ctx.store
    before = {plural: len(sbx.lt.call(store.list, plural)) for plural in RESOURCES}
    proc = _kubectl("apply", "--server-side", "--dry-run=server", "-k", str(DEPLOY), "--kubeconfig", kubeconfig)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("serverside-applied (server dry run)") == len(_rendered()), proc.stdout
    assert {plural: len(sbx.lt.call(store.list, plural)) for plural in RESOURCES} == before
    account = DEPLOY / "serviceaccount.yaml"
    for _ in range(2):  # created, then applied again onto itself
        proc = _kubectl("apply", "--server-side", "-f", str(DEPLOY / "namespace.yaml"), "-f", str(account),
                        "--kubeconfig", kubeconfig)
        assert proc.returncode == 0, proc.stderr
        assert "serviceaccount/shop-resilience-harness serverside-applied" in proc.stdout
    stored = sbx.lt.call(store.get, "serviceaccounts", "shop-resilience", "shop-resilience-harness")
    assert stored["metadata"]["labels"]["app.kubernetes.io/name"] == "shop-resilience-harness"
