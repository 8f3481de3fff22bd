"""The whole sandbox, through the official clients and kubectl, against its ground truth."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time

import httpx
import pytest
from google.cloud import compute_v1
from kubernetes import client, config

from harness.sandbox.compute.api import compute_client_options

ZONE_LABEL = "topology.kubernetes.io/zone"


@pytest.fixture(scope="module")
def core(sandbox):
    api = config.new_client_from_config(config_file=sandbox.kubeconfig)
    yield client.CoreV1Api(api)
    api.close()


def _wait(predicate, timeout=60, every=0.3, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def test_endpoints_file_has_every_contract_key(sandbox):
    eps = json.loads((sandbox.dir / "endpoints.json").read_text())
    for key in ("kubernetes", "compute", "ingress", "toxiproxy", "postgres", "prometheus", "project", "region", "zones"):
        assert key in eps, key
    assert eps["postgres"].startswith("postgresql://")
    assert eps["zones"] == ["europe-west1-b", "europe-west1-c", "europe-west1-d"]


def test_the_official_client_reads_the_server_version(sandbox):
    # kubernetes.client.VersionApi asks for /version/ (trailing slash), which the real API answers
    assert sandbox.kube().server_version() == sandbox.kube_request("GET", "/version").json()["gitVersion"]


def test_official_clients_list_by_zone_selector_and_node(sandbox, core):
    nodes = core.list_node(label_selector=f"{ZONE_LABEL}=europe-west1-c").items
    assert len(nodes) == 2 and all(n.metadata.labels[ZONE_LABEL] == "europe-west1-c" for n in nodes)
    pods = core.list_namespaced_pod("shop", label_selector="app=checkout").items
    assert len(pods) == 3
    node = pods[0].spec.node_name
    on_node = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    assert pods[0].metadata.name in {p.metadata.name for p in on_node}
    assert all(p.spec.node_name == node for p in on_node)
    instances = compute_v1.InstancesClient(**compute_client_options(sandbox.endpoints["compute"]))
    vms = list(instances.list(project=sandbox.endpoints["project"], zone="europe-west1-d"))
    assert sorted(v.name for v in vms) == sorted(n.metadata.name for n in core.list_node(
        label_selector=f"{ZONE_LABEL}=europe-west1-d").items)


def test_deleting_a_pod_under_load_costs_requests_and_is_replaced_in_time(sandbox, core):
    url = sandbox.endpoints["ingress"] + "/api/catalog/products/7"
    stop = threading.Event()
    results: list[tuple[float, int, float]] = []

    def shopper() -> None:
        with httpx.Client(timeout=5) as http:
            for _ in range(2000):  # bounded in count and by the stop event
                if stop.is_set():
                    return
                t0 = time.monotonic()
                try:
                    status = http.get(url).status_code
                except httpx.HTTPError:
                    status = 0
                results.append((t0, status, time.monotonic() - t0))

    threads = [threading.Thread(target=shopper) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    victim = core.list_namespaced_pod("shop", label_selector="app=catalog").items[0].metadata.name
    killed_at = time.time()
    core.delete_namespaced_pod(victim, "shop", grace_period_seconds=0)
    time.sleep(4)
    stop.set()
    for t in threads:
        t.join(10)
    after = [r for r in results if r[0] >= time.monotonic() - 4.5]
    assert any(status != 200 or took > 0.5 for _, status, took in after) or len(after) < len(results) / 3
    truth = sandbox.truth()
    assert any(e["event"] == "pod.killed" and e.get("pod") == victim for e in truth)
    replacement = _wait(lambda: [e for e in sandbox.truth() if e["event"] == "pod.ready"
                                 and e.get("pod", "").startswith("catalog") and e["ts"] > killed_at],
                        timeout=30, what="replacement ready")
    assert replacement[0]["ts"] - killed_at < 15


def test_eviction_honours_pdbs_and_cordon_keeps_pods_off(sandbox, core):
    pods = core.list_namespaced_pod("shop", label_selector="app=checkout").items
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pods[0].metadata.name, namespace="shop"))
    core.create_namespaced_pod_eviction(pods[0].metadata.name, "shop", body)  # minAvailable 2 of 3: allowed
    with pytest.raises(client.ApiException) as exc:
        body2 = client.V1Eviction(metadata=client.V1ObjectMeta(name=pods[1].metadata.name, namespace="shop"))
        core.create_namespaced_pod_eviction(pods[1].metadata.name, "shop", body2)
    assert exc.value.status == 429
    sandbox.wait_deployments_ready()
    node = pods[1].spec.node_name
    core.patch_node(node, {"spec": {"unschedulable": True}})
    try:
        victims = core.list_namespaced_pod("shop", field_selector=f"spec.nodeName={node}").items
        for p in victims:
            core.delete_namespaced_pod(p.metadata.name, "shop")
        sandbox.wait_deployments_ready()
        _wait(lambda: core.list_namespaced_pod("shop", field_selector=f"spec.nodeName={node}").items == [],
              timeout=30, what="the cordoned node to empty")  # terminating pods finish their grace period
    finally:
        core.patch_node(node, {"spec": {"unschedulable": False}})


def _node_ready(core, name):
    conds = {c.type: c.status for c in core.read_node(name).status.conditions}
    return conds.get("Ready") == "True"


def test_stopping_a_zone_through_compute_moves_pods_and_start_brings_nodes_back(sandbox, core):
    eps = sandbox.endpoints
    opts = compute_client_options(eps["compute"])
    instances = compute_v1.InstancesClient(**opts)
    ops = compute_v1.ZoneOperationsClient(**opts)
    zone = "europe-west1-b"
    names = [v.name for v in instances.list(project=eps["project"], zone=zone)]
    migs = compute_v1.InstanceGroupManagersClient(**opts)
    mig = "gke-shop-default-pool-b-grp"

    def repair(action: str) -> None:  # the zone's MIG would recreate VMs stopped behind its back
        body = compute_v1.InstanceGroupManager(
            instance_lifecycle_policy=compute_v1.InstanceGroupManagerInstanceLifecyclePolicy(
                default_action_on_failure=action))
        op = migs.patch_unary(project=eps["project"], zone=zone, instance_group_manager=mig,
                              instance_group_manager_resource=body)
        ops.wait(project=eps["project"], zone=zone, operation=op.name, timeout=30)

    repair("DO_NOTHING")
    try:
        for name in names:
            op = instances.stop_unary(project=eps["project"], zone=zone, instance=name)
            ops.wait(project=eps["project"], zone=zone, operation=op.name, timeout=30)
        _wait(lambda: all(not _node_ready(core, n) for n in names), what="nodes NotReady")

        def moved() -> bool:
            pods = core.list_namespaced_pod("shop").items
            live = [p for p in pods if p.metadata.deletion_timestamp is None]
            return len(live) >= 12 and all(p.spec.node_name not in names for p in live)

        _wait(moved, timeout=60, what="pods rescheduled out of the zone")
        sandbox.wait_deployments_ready()
    finally:
        for name in names:
            op = instances.start_unary(project=eps["project"], zone=zone, instance=name)
            ops.wait(project=eps["project"], zone=zone, operation=op.name, timeout=30)
        repair("REPAIR")
    _wait(lambda: all(_node_ready(core, n) for n in names), what="nodes Ready again")
    truth = [e["event"] for e in sandbox.truth()]
    assert "vm.stopped" in truth and "node.notready" in truth and "vm.started" in truth


def test_latency_toxic_on_postgres_slows_checkout(sandbox):
    eps = sandbox.endpoints
    site = eps["ingress"]
    with httpx.Client(timeout=20) as http:
        http.post(f"{site}/api/cart/toxic-test/items", json={"product_id": 5, "qty": 1}).raise_for_status()

        def checkout_seconds() -> float:
            times = []
            for _ in range(3):
                t0 = time.monotonic()
                assert http.post(f"{site}/api/checkout", json={"cart_id": "toxic-test"}).status_code == 200
                times.append(time.monotonic() - t0)
            return sorted(times)[1]

        before = checkout_seconds()
        http.post(f"{eps['toxiproxy']}/proxies/postgres/toxics",
                  json={"name": "slow-db", "type": "latency", "stream": "downstream",
                        "attributes": {"latency": 300, "jitter": 0}}).raise_for_status()
        try:
            during = checkout_seconds()
        finally:
            http.delete(f"{eps['toxiproxy']}/proxies/postgres/toxics/slow-db")
    assert during - before >= 0.3, (before, during)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")
def test_kubectl_gets_cordons_drains_and_uncordons(sandbox, core):
    kc = ["kubectl", "--kubeconfig", sandbox.kubeconfig]
    sandbox.wait_deployments_ready()

    def run(*args: str) -> str:
        proc = subprocess.run([*kc, *args], capture_output=True, text=True, timeout=90)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "Ready" in run("get", "nodes", "-o", "wide")
    pods = json.loads(run("get", "pods", "-n", "shop", "-o", "json"))["items"]
    node = next(p["spec"]["nodeName"] for p in pods if p["metadata"]["labels"]["app"] == "catalog")
    try:
        assert "cordoned" in run("cordon", node)
        out = run("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s")
        assert "drained" in out
        assert core.list_namespaced_pod("shop", field_selector=f"spec.nodeName={node}").items == []
    finally:
        run("uncordon", node)
    assert core.read_node(node).spec.unschedulable in (None, False)
    sandbox.wait_deployments_ready()
