"""The sandbox's Kubernetes API server, exercised through the official Python client and raw HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from harness.sandbox.config import SandboxConfig
from harness.sandbox.core import apifaults
from harness.sandbox.core.context import Context, new_context
from harness.sandbox.kube.apiserver import KubeApi
from harness.sandbox.kube.kubeconfig import write_kubeconfig
from harness.sandbox.kube.patch import json_patch, merge_patch, strategic_merge_patch
from harness.sandbox.kube.printers import human_duration
from harness.sandbox.kube.request import resolve
from harness.sandbox.kube.scale import selector_string
from harness.sandbox.kube.status import ApiError
from harness.sandbox.kube.testing import (
    LoopThread,
    http_options,
    install_fake_kubelet,
    pod_object,
    seed_cluster,
    serve_kubeapi,
)

NS = "shop"
ZONE_B = "europe-west1-b"
NODE_B0 = "gke-shop-default-pool-b-0"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class Sandbox(SimpleNamespace):
    ctx: Context
    lt: LoopThread
    api: KubeApi
    http: httpx.Client
    core: client.CoreV1Api
    apps: client.AppsV1Api
    policy: client.PolicyV1Api
    coordination: client.CoordinationV1Api
    kubelet: Callable[[str, str, dict[str, Any]], None]


@pytest.fixture
def sbx(tmp_path: Path) -> Iterator[Sandbox]:
    ctx = new_context(SandboxConfig(), tmp_path / "sbx")
    seed_cluster(ctx)
    with LoopThread() as lt, serve_kubeapi(ctx, lt) as api:
        kubelet = lt.run(_async(install_fake_kubelet, ctx.store))
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(kubeconfig, api.url, api.token, api.tls.ca_pem)
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        with api_client, httpx.Client(**http_options(api), timeout=10) as http:
            yield Sandbox(ctx=ctx, lt=lt, api=api, http=http, core=client.CoreV1Api(api_client),
                          apps=client.AppsV1Api(api_client), policy=client.PolicyV1Api(api_client),
                          coordination=client.CoordinationV1Api(api_client), kubelet=kubelet)


async def _async(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def _wait_for(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.05)


def _status(exc: ApiException) -> dict[str, Any]:
    return dict(json.loads(exc.body))


def _eviction(name: str) -> client.V1Eviction:
    return client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=NS))


# -- discovery, reads ---------------------------------------------------------------------------------
def test_discovery_documents(sbx: Sandbox) -> None:
    assert sbx.http.get("/version").json()["minor"] == "32"
    core = sbx.http.get("/api/v1").json()
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods/eviction"]["group"] == "policy" and by_name["pods/eviction"]["kind"] == "Eviction"
    assert by_name["pods"]["shortNames"] == ["po"] and "watch" in by_name["pods"]["verbs"]
    assert "nodes/status" in by_name and not by_name["nodes"]["namespaced"]
    apps = {r["name"]: r for r in sbx.http.get("/apis/apps/v1").json()["resources"]}
    assert apps["deployments/scale"]["kind"] == "Scale" and apps["deployments/scale"]["group"] == "autoscaling"
    groups = {g["name"] for g in sbx.http.get("/apis").json()["groups"]}
    assert groups == {"apps", "policy", "coordination.k8s.io", "batch", "rbac.authorization.k8s.io", "authorization.k8s.io"}
    assert sbx.http.get("/healthz").text == "ok"
    assert sbx.http.get("/openapi/v3").json()["kind"] == "Status"


def test_list_nodes_by_zone_label(sbx: Sandbox) -> None:
    nodes = sbx.core.list_node(label_selector=f"topology.kubernetes.io/zone={ZONE_B}").items
    assert [n.metadata.name for n in nodes] == [NODE_B0, "gke-shop-default-pool-b-1"]
    assert len(sbx.core.list_node().items) == 6
    assert sbx.core.list_node(label_selector="topology.kubernetes.io/zone in (nowhere)").items == []


def test_list_pods_by_label_and_node(sbx: Sandbox) -> None:
    pods = sbx.core.list_namespaced_pod(NS, label_selector="app=checkout")
    assert len(pods.items) == 6 and int(pods.metadata.resource_version) > 0
    on_node = sbx.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE_B0}").items
    assert sorted(p.metadata.name for p in on_node) == ["checkout-7d9f-000", "fluentbit-000"]
    both = sbx.core.list_namespaced_pod(NS, field_selector=f"spec.nodeName={NODE_B0},status.phase=Running")
    assert [p.metadata.name for p in both.items] == ["checkout-7d9f-000"]


def test_bad_selectors_answer_400(sbx: Sandbox) -> None:
    with pytest.raises(ApiException) as err:
        sbx.core.list_namespaced_pod(NS, field_selector="spec.colour=blue")
    assert err.value.status == 400 and "field label not supported" in _status(err.value)["message"]
    with pytest.raises(ApiException) as err:
        sbx.core.list_namespaced_pod(NS, label_selector="app in (x")
    assert err.value.status == 400


# -- writes ---------------------------------------------------------------------------------------------
def test_patch_node_unschedulable_and_status(sbx: Sandbox) -> None:
    sbx.core.patch_node(NODE_B0, {"spec": {"unschedulable": True}})
    assert sbx.core.read_node(NODE_B0).spec.unschedulable is True
    sbx.core.patch_node(NODE_B0, {"status": {"conditions": []}})  # ignored on the main resource
    assert sbx.core.read_node(NODE_B0).status.conditions[0].status == "True"
    cond = {"type": "Ready", "status": "False", "reason": "NodeStatusUnknown"}
    sbx.core.patch_node_status(NODE_B0, {"status": {"conditions": [cond]}})
    node = sbx.core.read_node_status(NODE_B0)
    assert node.status.conditions[0].status == "False" and node.spec.unschedulable is True
    row = sbx.http.get(f"/api/v1/nodes/{NODE_B0}", headers={"Accept": TABLE}).json()["rows"][0]
    assert row["cells"][1] == "NotReady,SchedulingDisabled"


def test_json_and_merge_patches_and_conflicts(sbx: Sandbox) -> None:
    ops = [{"op": "add", "path": "/metadata/labels/tier", "value": "web"}]
    pod = sbx.core.patch_namespaced_pod("checkout-7d9f-000", NS, ops)
    assert pod.metadata.labels == {"app": "checkout", "tier": "web"}
    r = sbx.http.patch(f"/api/v1/namespaces/{NS}/pods/checkout-7d9f-000",
                       content=json.dumps({"metadata": {"labels": {"tier": None}}}),
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"app": "checkout"}
    stale = {"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}}
    r = sbx.http.patch(f"/api/v1/namespaces/{NS}/pods/checkout-7d9f-000", content=json.dumps(stale),
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    r = sbx.http.patch(f"/api/v1/namespaces/{NS}/pods/checkout-7d9f-000", content="{}",
                       headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 422 and "fieldManager: Required value" in r.json()["message"]  # apply needs a manager
    r = sbx.http.patch(f"/api/v1/namespaces/{NS}/pods/checkout-7d9f-000", content="{}",
                       headers={"Content-Type": "application/x-unknown-patch"})
    assert r.status_code == 415 and r.json()["kind"] == "Status"


def test_create_get_replace_delete(sbx: Sandbox) -> None:
    body = {"metadata": {"generateName": "web-"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
    pod = sbx.core.create_namespaced_pod(NS, body)
    assert pod.metadata.name.startswith("web-") and pod.status.phase == "Pending"
    assert pod.spec.termination_grace_period_seconds == 5  # the sandbox's compressed default
    with pytest.raises(ApiException) as err:
        sbx.core.create_namespaced_pod(NS, {"metadata": {"name": pod.metadata.name}, "spec": body["spec"]})
    assert err.value.status == 409 and _status(err.value)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as err:
        sbx.core.create_namespaced_pod(NS, {"metadata": {"name": "Bad_Name"}, "spec": body["spec"]})
    assert err.value.status == 422 and _status(err.value)["reason"] == "Invalid"
    pod.metadata.labels = {"app": "web"}
    replaced = sbx.core.replace_namespaced_pod(pod.metadata.name, NS, pod)
    assert replaced.metadata.labels == {"app": "web"}
    sbx.core.delete_namespaced_pod(pod.metadata.name, NS)  # no node: removed at once
    with pytest.raises(ApiException) as err:
        sbx.core.read_namespaced_pod(pod.metadata.name, NS)
    assert err.value.status == 404


def test_leases_take_turns_on_resource_version(sbx: Sandbox) -> None:
    lease = {"metadata": {"name": "harness"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
                                                     "renewTime": "2026-12-07T12:00:00.000000Z"}}
    made = sbx.coordination.create_namespaced_lease("default", lease)
    assert made.spec.holder_identity == "a" and made.spec.renew_time.year == 2026
    with pytest.raises(ApiException) as err:
        sbx.coordination.create_namespaced_lease("default", lease)
    assert err.value.status == 409 and _status(err.value)["reason"] == "AlreadyExists"
    made.spec.holder_identity = "b"
    taken = sbx.coordination.replace_namespaced_lease("harness", "default", made)
    assert taken.metadata.resource_version != made.metadata.resource_version
    made.spec.holder_identity = "c"  # written against the version "b" replaced: refused
    with pytest.raises(ApiException) as err:
        sbx.coordination.replace_namespaced_lease("harness", "default", made)
    assert err.value.status == 409 and _status(err.value)["reason"] == "Conflict"
    assert sbx.coordination.read_namespaced_lease("harness", "default").spec.holder_identity == "b"


def test_not_found_status_shape(sbx: Sandbox) -> None:
    with pytest.raises(ApiException) as err:
        sbx.apps.read_namespaced_deployment("nope", NS)
    status = _status(err.value)
    assert err.value.status == 404
    assert status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": 'deployments.apps "nope" not found', "reason": "NotFound", "code": 404,
                      "details": {"name": "nope", "group": "apps", "kind": "deployments"}}
    for method, path, code in [("GET", "/api/v1/widgets", 404), ("GET", "/nothing/here", 404),
                               ("POST", "/api/v1/namespaces/shop/pods/x", 405), ("PUT", "/api", 405),
                               ("GET", "/api/v1/namespaces/shop/nodes", 404)]:
        r = sbx.http.request(method, path, content="{}")
        assert r.status_code == code and r.json()["kind"] == "Status", (method, path)


def test_graceful_pod_deletion(sbx: Sandbox) -> None:
    pod = sbx.core.delete_namespaced_pod("checkout-7d9f-001", NS)
    assert pod.metadata.deletion_timestamp is not None and pod.metadata.deletion_grace_period_seconds == 5
    _wait_for(lambda: not sbx.lt.call(sbx.ctx.store.exists, "pods", NS, "checkout-7d9f-001"))
    sbx.lt.call(sbx.ctx.store.listeners.remove, sbx.kubelet)  # no kubelet: the pod stays terminating
    pod = sbx.core.delete_namespaced_pod("checkout-7d9f-002", NS, grace_period_seconds=20)
    assert pod.metadata.deletion_grace_period_seconds == 20
    assert sbx.lt.call(sbx.ctx.store.exists, "pods", NS, "checkout-7d9f-002")
    sbx.core.delete_namespaced_pod("checkout-7d9f-002", NS, body=client.V1DeleteOptions(grace_period_seconds=0))
    assert not sbx.lt.call(sbx.ctx.store.exists, "pods", NS, "checkout-7d9f-002")
    status = sbx.apps.delete_namespaced_deployment("checkout", NS)
    assert status["status"] == "Success" and status["details"]["name"] == "checkout"


# -- eviction and scale ----------------------------------------------------------------------------------
def test_eviction_honours_the_budget(sbx: Sandbox) -> None:
    resp = sbx.core.create_namespaced_pod_eviction("checkout-7d9f-000", NS, _eviction("checkout-7d9f-000"))
    assert resp is not None
    pdb = sbx.policy.read_namespaced_pod_disruption_budget("checkout-pdb", NS)
    assert pdb.status.disruptions_allowed == 0 and "checkout-7d9f-000" in pdb.status.disrupted_pods
    with pytest.raises(ApiException) as err:
        sbx.core.create_namespaced_pod_eviction("checkout-7d9f-003", NS, _eviction("checkout-7d9f-003"))
    status = _status(err.value)
    assert err.value.status == 429 and status["reason"] == "TooManyRequests"
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [{"reason": "DisruptionBudget",
                                            "message": "The disruption budget checkout-pdb needs 5 healthy pods "
                                                       "and has 6 currently"}]
    assert sbx.core.read_namespaced_pod("checkout-7d9f-003", NS).metadata.deletion_timestamp is None
    _wait_for(lambda: not sbx.lt.call(sbx.ctx.store.exists, "pods", NS, "checkout-7d9f-000"))


def test_eviction_returns_201_status(sbx: Sandbox) -> None:
    r = sbx.http.post(f"/api/v1/namespaces/{NS}/pods/fluentbit-000/eviction", json={})
    assert r.status_code == 404  # wrong namespace
    r = sbx.http.post("/api/v1/namespaces/kube-system/pods/fluentbit-000/eviction",
                      json={"apiVersion": "policy/v1", "kind": "Eviction",
                            "metadata": {"name": "fluentbit-000", "namespace": "kube-system"}})
    assert r.status_code == 201 and r.json()["status"] == "Success"


def test_unready_pod_may_be_evicted_while_budget_is_met(sbx: Sandbox) -> None:
    sbx.lt.call(sbx.ctx.store.create, "pods", pod_object("checkout-sick", NS, "checkout", NODE_B0, None, ready=False))
    sbx.lt.call(sbx.ctx.store.mutate, "poddisruptionbudgets", NS, "checkout-pdb",
                lambda o: o["status"].update(disruptionsAllowed=0))
    sbx.core.create_namespaced_pod_eviction("checkout-sick", NS, _eviction("checkout-sick"))
    assert sbx.policy.read_namespaced_pod_disruption_budget("checkout-pdb", NS).status.disruptions_allowed == 0


def test_scale_subresource(sbx: Sandbox) -> None:
    scale = sbx.apps.read_namespaced_deployment_scale("checkout", NS)
    assert scale.spec.replicas == 6 and scale.status.selector == "app=checkout"
    scale = sbx.apps.patch_namespaced_deployment_scale("checkout", NS, {"spec": {"replicas": 9}})
    assert scale.spec.replicas == 9 and sbx.apps.read_namespaced_deployment("checkout", NS).spec.replicas == 9
    scale.spec.replicas = 2
    assert sbx.apps.replace_namespaced_deployment_scale("checkout", NS, scale).spec.replicas == 2
    r = sbx.http.patch(f"/apis/apps/v1/namespaces/{NS}/deployments/checkout/scale",
                       content=json.dumps({"spec": {"replicas": -1}}),
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422
    assert sbx.apps.patch_namespaced_replica_set_scale("checkout-7d9f", NS, {"spec": {"replicas": 3}}).spec.replicas == 3


# -- events and watches ----------------------------------------------------------------------------------
def _event(name: str, reason: str = "Killing") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS}, "reason": reason, "message": f"{reason} it",
            "type": "Normal", "count": 1, "involvedObject": {"kind": "Pod", "name": "checkout-7d9f-000",
                                                             "namespace": NS}}


def test_create_list_and_replay_events(sbx: Sandbox) -> None:
    rv = sbx.core.list_namespaced_event(NS).metadata.resource_version
    for i in range(3):
        sbx.core.create_namespaced_event(NS, _event(f"ev-{i}", "Killing" if i < 2 else "Evicted"))
    events = sbx.core.list_namespaced_event(NS, field_selector="reason=Killing").items
    assert [e.metadata.name for e in events] == ["ev-0", "ev-1"]
    seen = []
    w = watch.Watch()
    for ev in w.stream(sbx.core.list_namespaced_event, NS, resource_version=rv, timeout_seconds=5):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    assert seen == [("ADDED", "ev-0"), ("ADDED", "ev-1"), ("ADDED", "ev-2")]


def test_live_watch_of_pods(sbx: Sandbox) -> None:
    seen: list[tuple[str, str]] = []

    def consume() -> None:
        w = watch.Watch()
        for ev in w.stream(sbx.core.list_namespaced_pod, NS, label_selector="app=checkout", timeout_seconds=15):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    _wait_for(lambda: sbx.api.health()["watches"] == 1 and len(seen) == 6)
    sbx.core.delete_namespaced_pod("checkout-7d9f-004", NS)
    t.join(timeout=20)
    assert not t.is_alive()
    assert seen[:6] == [("ADDED", f"checkout-7d9f-{i:03d}") for i in range(6)]
    assert seen[6:] == [("MODIFIED", "checkout-7d9f-004"), ("DELETED", "checkout-7d9f-004")]
    _wait_for(lambda: sbx.api.health()["watches"] == 0)


def test_watch_timeout_and_expired_version(sbx: Sandbox) -> None:
    started = time.monotonic()
    r = sbx.http.get("/api/v1/nodes", params={"watch": "1", "timeoutSeconds": "1", "resourceVersion": "999999"})
    assert r.status_code == 200 and r.text == "" and time.monotonic() - started < 8
    r = sbx.http.get("/api/v1/nodes", params={"watch": "true", "resourceVersion": "5"})
    event = json.loads(r.text.splitlines()[0])
    assert event["type"] == "ERROR" and event["object"]["code"] == 410


# -- tables, faults, health ------------------------------------------------------------------------------
def test_tables(sbx: Sandbox) -> None:
    t = sbx.http.get("/api/v1/nodes", headers={"Accept": TABLE}, params={"includeObject": "Object"}).json()
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    cols = [(c["name"], c["priority"]) for c in t["columnDefinitions"]]
    assert cols[:5] == [("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0)]
    assert ("Internal-IP", 1) in cols and t["rows"][0]["cells"][1] == "Ready"
    assert t["rows"][0]["object"]["kind"] == "Node"
    pods = sbx.http.get(f"/api/v1/namespaces/{NS}/pods", headers={"Accept": TABLE}).json()
    assert pods["rows"][0]["cells"][:3] == ["checkout-7d9f-000", "1/1", "Running"]
    assert pods["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    pdb = sbx.http.get(f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets", headers={"Accept": TABLE}).json()
    assert pdb["rows"][0]["cells"][:4] == ["checkout-pdb", "5", "N/A", 1]
    generic = sbx.http.get(f"/apis/apps/v1/namespaces/{NS}/statefulsets", headers={"Accept": TABLE}).json()
    assert [c["name"] for c in generic["columnDefinitions"]] == ["Name", "Age"]


def test_api_faults(sbx: Sandbox) -> None:
    spec = {"rate": 1.0, "codes": [429], "delay_ms": 0, "seed": 1}
    assert sbx.http.put("/sandbox/api-faults", json=spec).json() == spec
    assert sbx.http.get("/sandbox/api-faults").json() == spec
    r = sbx.http.get("/api/v1/nodes")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1" and r.json()["reason"] == "TooManyRequests"
    assert sbx.http.get("/version").status_code == 200
    sbx.http.put("/sandbox/api-faults", json=dict(spec, codes=[500]))  # urllib3 itself retries 429/503
    with pytest.raises(ApiException) as err:
        sbx.core.list_node()
    assert err.value.status == 500 and _status(err.value)["reason"] == "InternalError"
    assert sbx.api.health()["faults_injected"] == 2
    assert sbx.http.put("/sandbox/api-faults", json={"rate": 7}).status_code == 400
    assert sbx.http.delete("/sandbox/api-faults").status_code == 200
    assert sbx.http.get("/api/v1/nodes").status_code == 200
    health = sbx.api.health()
    assert health["ok"] and health["url"] == sbx.api.url and health["requests"] >= 7


def test_fault_decisions_are_seeded() -> None:
    def draws() -> list[int | None]:
        ctx = SimpleNamespace(api_faults=None)
        apifaults.configure(ctx, {"rate": 0.5, "codes": [500, 503], "seed": 7})
        return [apifaults.maybe_fault(ctx) for _ in range(50)]

    first = draws()
    assert first == draws() and None in first and 500 in first and 503 in first
    assert apifaults.maybe_fault(SimpleNamespace(api_faults=None)) is None


# -- pure helpers ------------------------------------------------------------------------------------------
def test_patch_functions() -> None:
    doc = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    assert merge_patch(doc, {"a": {"b": None, "e": 3}, "d": "y"}) == {"a": {"c": [1, 2], "e": 3}, "d": "y"}
    assert doc == {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    ops = [{"op": "add", "path": "/a/c/-", "value": 3}, {"op": "remove", "path": "/a/c/0"},
           {"op": "move", "from": "/d", "path": "/f"}, {"op": "copy", "from": "/f", "path": "/g"},
           {"op": "test", "path": "/g", "value": "x"}, {"op": "replace", "path": "/a/b", "value": 2}]
    assert json_patch(doc, ops) == {"a": {"b": 2, "c": [2, 3]}, "f": "x", "g": "x"}
    with pytest.raises(ApiError):
        json_patch(doc, [{"op": "test", "path": "/d", "value": "nope"}])
    with pytest.raises(ApiError):
        json_patch(doc, [{"op": "remove", "path": "/zzz"}])
    smp = {"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "a", "image": "b"}]}}
    assert strategic_merge_patch({"spec": {"x": 1}}, smp) == {"spec": {"x": 1, "containers": [{"name": "a", "image": "b"}]}}


def test_request_resolution_and_helpers() -> None:
    info = resolve("POST", "/api/v1/namespaces/shop/pods/p-1/eviction", None)
    assert (info.plural, info.namespace, info.name, info.subresource, info.verb) == ("pods", "shop", "p-1",
                                                                                      "eviction", "create")
    info = resolve("GET", "/api/v1/namespaces/shop", None)
    assert (info.plural, info.namespace, info.name, info.verb) == ("namespaces", None, "shop", "get")
    info = resolve("GET", "/apis/apps/v1/deployments", "true")
    assert (info.plural, info.namespace, info.verb) == ("deployments", None, "watch")
    with pytest.raises(ApiError):
        resolve("GET", "/apis/apps/v1/pods", None)
    assert [human_duration(s) for s in (5, 150, 1500, 5 * 3600 + 120, 30 * 3600, 3 * 86400 + 7200, 40 * 86400)] == [
        "5s", "2m30s", "25m", "5h2m", "30h", "3d2h", "40d"]
    sel = {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}
    assert selector_string(sel) == "app=x,tier in (a)"
