"""Helpers to run the API server alone, for tests: a loop in a background thread, a seeded three-zone
cluster (objects complete enough for the official client's validation) and a stand-in kubelet that
removes pods once they are marked for deletion.

    with LoopThread() as lt, serve_kubeapi(ctx, lt) as api, httpx.Client(**http_options(api)) as http:
        lt.call(ctx.store.create, "pods", pod)     # store access always goes through the loop
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..core.context import Context
from ..core.store import NotFound, Store, now_iso
from .apiserver import KubeApi

T = TypeVar("T")
Obj = dict[str, Any]


class LoopThread:
    """An asyncio loop running in a daemon thread; run coroutines and plain calls on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kubeapi-loop", daemon=True)

    def __enter__(self) -> LoopThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a plain function on the loop (e.g. a store operation) and wait for its result."""

        async def _call() -> T:
            return fn(*args, **kwargs)

        return self.run(_call())


@contextmanager
def serve_kubeapi(ctx: Context, lt: LoopThread) -> Iterator[KubeApi]:
    """Start ``KubeApi`` on the thread's loop; stop it on exit."""
    api = KubeApi()
    lt.run(api.start(ctx))
    try:
        yield api
    finally:
        lt.run(api.stop())


def http_options(api: KubeApi) -> dict[str, Any]:
    """``httpx.Client`` keyword arguments that reach ``api`` as kubectl does: its URL, its bearer
    token, trusting its CA."""
    return {"base_url": api.url, "headers": {"Authorization": f"Bearer {api.token}"},
            "verify": api.tls.client_context()}


def install_fake_kubelet(store: Store, delay: float = 0.05) -> Callable[[str, str, Obj], None]:
    """A store listener standing in for the kubelet: pods that get a deletionTimestamp are removed
    ``delay`` seconds later. Call on the loop thread; returns the listener (to remove it)."""
    loop = asyncio.get_running_loop()

    def remove(namespace: str, name: str, uid: str) -> None:
        try:
            if store.get("pods", namespace, name)["metadata"].get("uid") == uid:
                store.delete("pods", namespace, name)
        except NotFound:
            pass

    def listener(kind: str, plural: str, obj: Obj) -> None:
        meta = obj["metadata"]
        if plural == "pods" and kind == "MODIFIED" and meta.get("deletionTimestamp"):
            loop.call_later(delay, remove, meta["namespace"], meta["name"], meta["uid"])

    store.listeners.append(listener)
    return listener


# -- a seeded cluster --------------------------------------------------------------------------------
def node_object(ctx: Context, name: str) -> Obj:
    """A GKE-like Ready node for the VM ``name``, with zone labels and full nodeInfo."""
    vm = ctx.vms[name]
    info = {"architecture": "amd64", "bootID": f"boot-{vm.id}", "containerRuntimeVersion": "containerd://1.7.24",
            "kernelVersion": "6.1.112+", "kubeProxyVersion": "v1.32.4-gke.100", "kubeletVersion": "v1.32.4-gke.100",
            "machineID": f"machine-{vm.id}", "operatingSystem": "linux",
            "osImage": "Container-Optimized OS from Google", "systemUUID": f"uuid-{vm.id}"}
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "topology.kubernetes.io/zone": vm.zone, "topology.kubernetes.io/region": ctx.config.region,
              "cloud.google.com/gke-nodepool": "default-pool", "node.kubernetes.io/instance-type": vm.machine_type}
    capacity = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"providerID": f"gce://{ctx.config.project}/{vm.zone}/{name}"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status", "lastHeartbeatTime": now_iso(),
                            "lastTransitionTime": now_iso()}],
            "addresses": [{"type": "InternalIP", "address": vm.network_ip}, {"type": "Hostname", "address": name}],
            "nodeInfo": info, "capacity": capacity, "allocatable": capacity,
        },
    }


def pod_object(name: str, namespace: str, app: str, node: str | None, owner: Obj | None, ip: str = "",
               ready: bool = True) -> Obj:
    """A Running pod of ``app`` on ``node`` owned by ``owner`` (a ReplicaSet/DaemonSet object)."""
    meta: Obj = {"name": name, "namespace": namespace, "labels": {"app": app}}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner["kind"], "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    status = "True" if ready else "False"
    return {
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": app, "image": f"shop/{app}:1.0"}],
                 "terminationGracePeriodSeconds": 5},
        "status": {"phase": "Running" if node else "Pending", "podIP": ip, "startTime": now_iso(),
                   "conditions": [{"type": "Ready", "status": status}],
                   "containerStatuses": [{"name": app, "ready": ready, "restartCount": 0, "image": f"shop/{app}:1.0",
                                          "imageID": f"shop/{app}@sha256:0", "started": True,
                                          "state": {"running": {"startedAt": now_iso()}}}]},
    }


def _workload(kind: str, name: str, namespace: str, app: str, replicas: int) -> Obj:
    template = {"metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": app, "image": f"shop/{app}:1.0"}]}}
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}}, "template": template},
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                       "updatedReplicas": replicas}}


def pdb_object(name: str, namespace: str, app: str, allowed: int, healthy: int, desired: int) -> Obj:
    """A PodDisruptionBudget with its status already computed."""
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"minAvailable": desired, "selector": {"matchLabels": {"app": app}}},
            "status": {"disruptionsAllowed": allowed, "currentHealthy": healthy, "desiredHealthy": desired,
                       "expectedPods": healthy, "observedGeneration": 1}}


def seed_cluster(ctx: Context, namespace: str = "shop", app: str = "checkout", pods_per_node: int = 1) -> None:
    """Namespaces, one Ready node per VM, a deployment + replicaset of ``app`` with pods spread over the
    nodes, a PDB allowing one disruption, and a logging DaemonSet with one pod per node.
    Call before the API server starts (or on its loop)."""
    store = ctx.store
    for ns in ("default", "kube-system", namespace):
        store.create("namespaces", {"metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]},
                                    "status": {"phase": "Active"}})
    nodes = list(ctx.vms)
    for name in nodes:
        store.create("nodes", node_object(ctx, name))
    replicas = len(nodes) * pods_per_node
    store.create("deployments", _workload("Deployment", app, namespace, app, replicas))
    rs = store.create("replicasets", _workload("ReplicaSet", f"{app}-7d9f", namespace, app, replicas))
    ds = store.create("daemonsets", _workload("DaemonSet", "fluentbit", "kube-system", "fluentbit", len(nodes)))
    for i, node in enumerate(nodes * pods_per_node):
        store.create("pods", pod_object(f"{app}-7d9f-{i:03d}", namespace, app, node, rs, f"127.100.0.{i + 2}"))
    for i, node in enumerate(nodes):
        store.create("pods", pod_object(f"fluentbit-{i:03d}", "kube-system", "fluentbit", node, ds))
    store.create("poddisruptionbudgets", pdb_object(f"{app}-pdb", namespace, app, 1, replicas, replicas - 1))
