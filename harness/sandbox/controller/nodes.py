"""The node lifecycle controller: Ready -> Unknown after a silent grace period (with unreachable taints),
eviction of the pods of a node that stays unreachable, and Ready again when its kubelet is back."""

from __future__ import annotations

import time

from ..core.context import Context
from ..core.store import NotFound, Obj, now_iso
from .bootstrap import node_conditions
from .cache import Cache, EventRecorder
from .util import condition, is_terminating, pod_fields
from .workloads import delete_pod

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
_LIFECYCLE_TAINTS = (UNREACHABLE, NOT_READY)


def _has_lifecycle_taint(node: Obj) -> bool:
    return any(t.get("key") in _LIFECYCLE_TAINTS for t in (node.get("spec") or {}).get("taints") or [])


def _zone(node: Obj) -> str:
    return str((node["metadata"].get("labels") or {}).get("topology.kubernetes.io/zone", ""))


class NodeLifecycle:
    """Watches kubelet heartbeats (``heartbeats``: node -> monotonic time of the last one)."""

    def __init__(self, ctx: Context, cache: Cache, events: EventRecorder, heartbeats: dict[str, float]) -> None:
        self.ctx = ctx
        self.cache = cache
        self.events = events
        self.heartbeats = heartbeats
        self._unknown_since: dict[str, float] = {}

    def reconcile(self, pods_by_node: dict[str, list[Obj]]) -> None:
        """One pass over every node."""
        now = time.monotonic()
        t = self.ctx.config.timings
        names = set()
        for node in self.cache.all("nodes"):
            name = node["metadata"]["name"]
            names.add(name)
            last = self.heartbeats.setdefault(name, now)
            ready = condition(node, "Ready") or {}
            if now - last <= t.node_monitor_grace:
                self._unknown_since.pop(name, None)
                if ready.get("status") != "True" or _has_lifecycle_taint(node):
                    self._mark_ready(node)
                continue
            since = self._unknown_since.setdefault(name, now)
            if ready.get("status") != "Unknown":
                self._mark_unknown(node, pods_by_node.get(name, []))
            if now - since >= t.pod_eviction_timeout:
                self._evict(pods_by_node.get(name, []))
        for gone in [n for n in self._unknown_since if n not in names]:
            del self._unknown_since[gone]

    def _mark_ready(self, node: Obj) -> None:
        def ready(o: Obj) -> None:
            o.setdefault("status", {})["conditions"] = node_conditions(True, now_iso())
            spec = o.setdefault("spec", {})
            taints = [x for x in spec.get("taints") or [] if x.get("key") not in _LIFECYCLE_TAINTS]
            if taints:
                spec["taints"] = taints
            else:
                spec.pop("taints", None)

        name = node["metadata"]["name"]
        try:
            updated = self.ctx.store.mutate("nodes", None, name, ready)
        except NotFound:
            return
        self.ctx.truth.record("node.ready", node=name, zone=_zone(node))
        self.events.record(updated, "NodeReady", f"Node {name} status is now: NodeReady",
                           component="kubelet", host=name)

    def _mark_unknown(self, node: Obj, pods: list[Obj]) -> None:
        ts = now_iso()

        def unknown(o: Obj) -> None:
            for c in (o.get("status") or {}).get("conditions") or []:
                if c.get("status") != "Unknown":
                    c.update(status="Unknown", reason="NodeStatusUnknown",
                             message="Kubelet stopped posting node status.", lastTransitionTime=ts)
            spec = o.setdefault("spec", {})
            taints = [x for x in spec.get("taints") or [] if x.get("key") not in _LIFECYCLE_TAINTS]
            taints += [{"key": UNREACHABLE, "effect": e, "timeAdded": ts} for e in ("NoSchedule", "NoExecute")]
            spec["taints"] = taints

        name = node["metadata"]["name"]
        try:
            updated = self.ctx.store.mutate("nodes", None, name, unknown)
        except NotFound:
            return
        self.ctx.truth.record("node.notready", node=name, zone=_zone(node))
        self.events.record(updated, "NodeNotReady", f"Node {name} status is now: NodeNotReady",
                           "Normal", component="node-controller")
        for pod in pods:
            self.events.record(pod, "NodeNotReady", "Node is not ready", "Warning", component="node-controller")

    def _evict(self, pods: list[Obj]) -> None:
        for pod in pods:
            if is_terminating(pod):
                continue
            delete_pod(self.ctx, pod, "evicted")
            self.ctx.truth.record("pod.evicted", **pod_fields(pod), reason="node-unreachable")
            self.events.record(pod, "TaintManagerEviction", "Marking for deletion Pod "
                               f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}",
                               component="taint-eviction-controller")
