"""kubectl 1.32, run as a subprocess against the sandbox's Kubernetes API server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.sandbox.config import SandboxConfig
from harness.sandbox.core.context import Context, new_context
from harness.sandbox.kube.kubeconfig import write_kubeconfig
from harness.sandbox.kube.testing import LoopThread, install_fake_kubelet, seed_cluster, serve_kubeapi

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")

NS = "shop"
NODE_B0 = "gke-shop-default-pool-b-0"
NODE_B1 = "gke-shop-default-pool-b-1"

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


async def _async(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Context, LoopThread, Kubectl]]:
    ctx = new_context(SandboxConfig(), tmp_path / "sbx")
    seed_cluster(ctx)
    with LoopThread() as lt, serve_kubeapi(ctx, lt) as api:
        lt.run(_async(install_fake_kubelet, ctx.store))
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(kubeconfig, api.url, api.token, api.tls.ca_pem)
        env = dict(os.environ, HOME=str(tmp_path), KUBECONFIG=str(kubeconfig))

        def kubectl(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            cmd = ["kubectl", "--cache-dir", str(tmp_path / "cache"), *args]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=90, input=stdin)
            if check and done.returncode != 0:
                raise AssertionError(f"{' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
            return done

        yield ctx, lt, kubectl


def _node(ctx: Context, lt: LoopThread, name: str) -> dict[str, Any]:
    return dict(lt.call(ctx.store.get, "nodes", None, name))


def test_get_nodes_wide(cluster: tuple[Context, LoopThread, Kubectl]) -> None:
    _, _, kubectl = cluster
    lines = kubectl("get", "nodes", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP",
                                "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    assert len(lines) == 7 and lines[1].split()[:2] == [NODE_B0, "Ready"]
    assert "10.132.0.2" in lines[1]
    narrow = kubectl("get", "nodes", "-l", "topology.kubernetes.io/zone=europe-west1-c").stdout.splitlines()
    assert narrow[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"] and len(narrow) == 3


def test_get_pods_json_and_not_found(cluster: tuple[Context, LoopThread, Kubectl]) -> None:
    _, _, kubectl = cluster
    doc = json.loads(kubectl("get", "pods", "-n", NS, "-o", "json").stdout)
    assert doc["kind"] == "List" and len(doc["items"]) == 6
    assert doc["items"][0]["metadata"]["labels"] == {"app": "checkout"}
    wide = kubectl("get", "pods", "-A", "-o", "wide", "--field-selector", f"spec.nodeName={NODE_B0}").stdout
    assert "checkout-7d9f-000" in wide and "fluentbit-000" in wide and "checkout-7d9f-001" not in wide
    missing = kubectl("get", "pod", "nope", "-n", NS, check=False)
    assert missing.returncode == 1 and 'Error from server (NotFound): pods "nope" not found' in missing.stderr


def test_cordon_and_uncordon(cluster: tuple[Context, LoopThread, Kubectl]) -> None:
    ctx, lt, kubectl = cluster
    assert "cordoned" in kubectl("cordon", NODE_B0).stdout
    assert _node(ctx, lt, NODE_B0)["spec"]["unschedulable"] is True
    assert "Ready,SchedulingDisabled" in kubectl("get", "node", NODE_B0).stdout
    assert "uncordoned" in kubectl("uncordon", NODE_B0).stdout
    assert not _node(ctx, lt, NODE_B0)["spec"].get("unschedulable")


def test_drain_evicts_and_waits(cluster: tuple[Context, LoopThread, Kubectl]) -> None:
    ctx, lt, kubectl = cluster
    done = kubectl("drain", NODE_B1, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=20s")
    assert "evicting pod shop/checkout-7d9f-001" in done.stdout and "drained" in done.stdout
    assert "ignoring DaemonSet-managed Pods: kube-system/fluentbit-001" in done.stderr
    assert _node(ctx, lt, NODE_B1)["spec"]["unschedulable"] is True
    left = lt.call(ctx.store.list, "pods", None, None, f"spec.nodeName={NODE_B1}")
    assert [p["metadata"]["name"] for p in left] == ["fluentbit-001"]
    pdb = lt.call(ctx.store.get, "poddisruptionbudgets", NS, "checkout-pdb")
    assert pdb["status"]["disruptionsAllowed"] == 0


def test_drain_blocked_by_budget_times_out(cluster: tuple[Context, LoopThread, Kubectl]) -> None:
    ctx, lt, kubectl = cluster
    lt.call(ctx.store.mutate, "poddisruptionbudgets", NS, "checkout-pdb",
            lambda o: o["status"].update(disruptionsAllowed=0))
    done = kubectl("drain", NODE_B0, "--ignore-daemonsets", "--timeout=3s", check=False)
    assert done.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget" in done.stderr
    assert lt.call(ctx.store.exists, "pods", NS, "checkout-7d9f-000")


def test_delete_pod_waits_for_the_kubelet(cluster: tuple[Context, LoopThread, Kubectl]) -> None:
    ctx, lt, kubectl = cluster
    assert 'pod "checkout-7d9f-002" deleted' in kubectl("delete", "pod", "-n", NS, "checkout-7d9f-002").stdout
    assert not lt.call(ctx.store.exists, "pods", NS, "checkout-7d9f-002")


def test_scale_deployment(cluster: tuple[Context, LoopThread, Kubectl]) -> None:
    ctx, lt, kubectl = cluster
    assert "scaled" in kubectl("scale", "deployment", "-n", NS, "checkout", "--replicas=9").stdout
    assert lt.call(ctx.store.get, "deployments", NS, "checkout")["spec"]["replicas"] == 9
    assert kubectl("get", "deploy", "-n", NS, "checkout", "-o", "jsonpath={.spec.replicas}").stdout == "9"


def test_create_and_get_events(cluster: tuple[Context, LoopThread, Kubectl]) -> None:
    ctx, lt, kubectl = cluster
    uid = lt.call(ctx.store.get, "pods", NS, "checkout-7d9f-000")["metadata"]["uid"]
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "checkout-killed", "namespace": NS},
             "involvedObject": {"kind": "Pod", "name": "checkout-7d9f-000", "namespace": NS, "uid": uid},
             "reason": "Killing", "message": "Stopping container checkout", "type": "Normal", "count": 1,
             "source": {"component": "kubelet"}}
    assert "created" in kubectl("create", "-f", "-", stdin=json.dumps(event)).stdout
    lines = kubectl("get", "events", "-n", NS).stdout.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "pod/checkout-7d9f-000" in lines[1] and "Stopping container checkout" in lines[1]
    assert "Stopping container checkout" in kubectl("describe", "pod", "-n", NS, "checkout-7d9f-000").stdout


def test_apply_and_delete_deployment(cluster: tuple[Context, LoopThread, Kubectl]) -> None:
    ctx, lt, kubectl = cluster
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template}}
    assert "created" in kubectl("apply", "-f", "-", stdin=json.dumps(deploy)).stdout
    deploy["spec"]["replicas"] = 4
    assert "configured" in kubectl("apply", "-f", "-", stdin=json.dumps(deploy)).stdout
    assert lt.call(ctx.store.get, "deployments", NS, "web")["spec"]["replicas"] == 4
    assert "deleted" in kubectl("delete", "deployment", "-n", NS, "web").stdout
    assert not lt.call(ctx.store.exists, "deployments", NS, "web")
