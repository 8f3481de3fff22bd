"""Deployment -> ReplicaSet -> Pod reconciliation, their statuses, and garbage collection."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import defaultdict
from typing import Any

from ..core.context import Context
from ..core.store import AlreadyExists, NotFound, Obj, now_iso
from .cache import Cache
from .util import (
    controller_uid,
    is_active,
    is_ready,
    is_terminating,
    ns_name,
    owner_ref,
    pod_fields,
    set_condition,
)

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


def template_hash(template: Obj) -> str:
    """A stable 10-character pod-template-hash, in Kubernetes' safe alphabet."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    n, out = int.from_bytes(digest[:8], "big"), []
    for _ in range(10):
        n, r = divmod(n, len(_ALPHABET))
        out.append(_ALPHABET[r])
    return "".join(out)


def delete_pod(ctx: Context, pod: Obj, reason: str) -> None:
    """Delete a pod as the API does: an unscheduled pod at once, a scheduled one gracefully
    (deletionTimestamp + deletionGracePeriodSeconds; its kubelet finishes the job)."""
    namespace, name = ns_name(pod)
    if not (pod.get("spec") or {}).get("nodeName"):
        try:
            ctx.store.delete("pods", namespace, name)
        except NotFound:
            return
        ctx.truth.record("pod.deleted", **pod_fields(pod), reason=reason)
        return
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)

    def mark(obj: Obj) -> None:
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = now_iso()
            meta["deletionGracePeriodSeconds"] = grace

    try:
        ctx.store.mutate("pods", namespace, name, mark)
    except NotFound:
        return


def _deletion_order(pods: list[Obj]) -> list[Obj]:
    """Pods in the order a scale-down deletes them: unscheduled, then not ready, then newest."""
    newest = sorted(pods, key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]),
                    reverse=True)
    return sorted(newest, key=lambda p: (bool((p.get("spec") or {}).get("nodeName")), is_ready(p)))


def write_status(ctx: Context, plural: str, obj: Obj, status: dict[str, Any]) -> None:
    """Replace the object's status when it differs."""
    if obj.get("status") == status:
        return
    namespace, name = ns_name(obj)

    def put(o: Obj) -> None:
        o["status"] = status

    try:
        ctx.store.mutate(plural, namespace, name, put)
    except NotFound:
        pass


class Workloads:
    """Keeps Deployments, ReplicaSets and their Pods at the declared replica counts."""

    def __init__(self, ctx: Context, cache: Cache) -> None:
        self.ctx = ctx
        self.cache = cache

    def reconcile(self) -> None:
        """One pass over every deployment, replica set and pod."""
        rs_by_owner: dict[str, list[Obj]] = defaultdict(list)
        for rs in self.cache.all("replicasets"):
            rs_by_owner[controller_uid(rs) or ""].append(rs)
        deployments = self.cache.all("deployments")
        for d in deployments:
            self._deployment(d, rs_by_owner[d["metadata"]["uid"]])
        pods_by_owner: dict[str, list[Obj]] = defaultdict(list)
        for pod in self.cache.all("pods"):
            pods_by_owner[controller_uid(pod) or ""].append(pod)
        live = {d["metadata"]["uid"] for d in deployments}
        rs_uids = set()
        for rs in self.cache.all("replicasets"):
            owner = controller_uid(rs)
            if owner and owner not in live:
                self._drop(rs)
                continue
            rs_uids.add(rs["metadata"]["uid"])
            self._replicaset(rs, pods_by_owner[rs["metadata"]["uid"]])
        self._collect_pods(pods_by_owner, rs_uids)
        for d in deployments:
            self._deployment_status(d)

    def _drop(self, rs: Obj) -> None:
        try:
            self.ctx.store.delete("replicasets", *ns_name(rs))
        except NotFound:
            pass

    def _collect_pods(self, pods_by_owner: dict[str, list[Obj]], rs_uids: set[str]) -> None:
        """Orphans of deleted ReplicaSets are deleted; terminating unscheduled pods go at once."""
        for owner, pods in pods_by_owner.items():
            for pod in pods:
                orphan = owner and owner not in rs_uids and _owner_kind(pod) == "ReplicaSet"
                unbound_terminating = is_terminating(pod) and not (pod.get("spec") or {}).get("nodeName")
                if (orphan and not is_terminating(pod)) or unbound_terminating:
                    delete_pod(self.ctx, pod, "garbage-collected" if orphan else "deleted")

    # -- deployments ---------------------------------------------------------------------------------
    def _deployment(self, d: Obj, rses: list[Obj]) -> None:
        spec = d.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        h = template_hash(spec.get("template") or {})
        current = next((r for r in rses if r["metadata"].get("labels", {}).get(HASH_LABEL) == h), None)
        if current is None:
            current = self._create_rs(d, h, rses)
        self._scale(current, desired)
        new_available = int((current.get("status") or {}).get("availableReplicas", 0))
        budget = max(0, desired - new_available)
        olds = [r for r in rses if r is not current and r["metadata"]["uid"] != current["metadata"]["uid"]]
        olds.sort(key=lambda r: int(r["metadata"].get("annotations", {}).get(REVISION, "0")), reverse=True)
        for old in olds:
            keep = min(int((old.get("spec") or {}).get("replicas", 0)), budget)
            budget -= keep
            self._scale(old, keep)

    def _create_rs(self, d: Obj, h: str, rses: list[Obj]) -> Obj:
        meta, spec = d["metadata"], d.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), HASH_LABEL: h}
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: h}
        revision = 1 + max((int(r["metadata"].get("annotations", {}).get(REVISION, "0")) for r in rses), default=0)
        rs = {
            "metadata": {
                "name": f"{meta['name']}-{h}", "namespace": meta.get("namespace"),
                "labels": dict(tmeta["labels"]),
                "annotations": {REVISION: str(revision),
                                "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1))},
                "ownerReferences": [owner_ref(d)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
            "status": {"replicas": 0, "observedGeneration": 1},
        }
        created = self.ctx.store.create("replicasets", rs, meta.get("namespace"))
        return self.cache.get("replicasets", *ns_name(created)) or created

    def _scale(self, rs: Obj, replicas: int) -> None:
        if int((rs.get("spec") or {}).get("replicas", 0)) == replicas:
            return

        def put(o: Obj) -> None:
            o["spec"]["replicas"] = replicas

        self.ctx.store.mutate("replicasets", *ns_name(rs), put)

    def _deployment_status(self, d: Obj) -> None:
        uid, desired = d["metadata"]["uid"], int((d.get("spec") or {}).get("replicas", 1))
        h = template_hash((d.get("spec") or {}).get("template") or {})
        rses = [r for r in self.cache.all("replicasets") if controller_uid(r) == uid]
        sums: dict[str, int] = defaultdict(int)
        for r in rses:
            for k in ("replicas", "readyReplicas", "availableReplicas"):
                sums[k] += int((r.get("status") or {}).get(k, 0))
        new = next((r for r in rses if r["metadata"]["labels"].get(HASH_LABEL) == h), None)
        updated = int((new.get("status") or {}).get("replicas", 0)) if new else 0
        status = copy.deepcopy(d.get("status") or {})
        status.update(sums, updatedReplicas=updated, observedGeneration=d["metadata"].get("generation", 1),
                      unavailableReplicas=max(0, desired - sums["availableReplicas"]))
        for k in ("readyReplicas", "availableReplicas", "unavailableReplicas"):
            if not status.get(k):
                status.pop(k, None)
        holder = {"status": status}
        max_unavailable = desired // 4
        if sums["availableReplicas"] >= desired - max_unavailable:
            set_condition(holder, "Available", "True", "MinimumReplicasAvailable",
                          "Deployment has minimum availability.", ("lastUpdateTime",))
        else:
            set_condition(holder, "Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.", ("lastUpdateTime",))
        rs_name = new["metadata"]["name"] if new else d["metadata"]["name"]
        done = updated == desired and sums["availableReplicas"] >= desired
        set_condition(holder, "Progressing", "True", "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
                      f'ReplicaSet "{rs_name}" ' + ("has successfully progressed." if done else "is progressing."),
                      ("lastUpdateTime",))
        write_status(self.ctx, "deployments", d, status)

    # -- replica sets --------------------------------------------------------------------------------
    def _replicaset(self, rs: Obj, pods: list[Obj]) -> None:
        desired = int((rs.get("spec") or {}).get("replicas", 0))
        active = [p for p in pods if is_active(p)]
        for _ in range(desired - len(active)):
            self._create_pod(rs)
        if len(active) > desired:
            for pod in _deletion_order(active)[: len(active) - desired]:
                delete_pod(self.ctx, pod, "scale-down")
        ready = sum(1 for p in active if is_ready(p))
        status = {"replicas": len(active), "fullyLabeledReplicas": len(active),
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        if ready:
            status.update(readyReplicas=ready, availableReplicas=ready)
        write_status(self.ctx, "replicasets", rs, status)

    def _create_pod(self, rs: Obj) -> None:
        meta = rs["metadata"]
        template = (rs.get("spec") or {}).get("template") or {}
        tmeta = template.get("metadata") or {}
        pod = {
            "metadata": {
                "generateName": f"{meta['name']}-", "namespace": meta.get("namespace"),
                "labels": dict(tmeta.get("labels") or {}),
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [owner_ref(rs)],
            },
            "spec": copy.deepcopy(template.get("spec") or {}),
            "status": {"phase": "Pending", "qosClass": "Burstable"},
        }
        for attempt in range(5):  # a generated name may collide, as with the real API
            try:
                created = self.ctx.store.create("pods", pod, meta.get("namespace"))
                break
            except AlreadyExists:
                if attempt == 4:
                    raise
        self.ctx.truth.record("pod.created", **pod_fields(created))


def _owner_kind(obj: Obj) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            kind = ref.get("kind")
            return kind if isinstance(kind, str) else None
    return None
