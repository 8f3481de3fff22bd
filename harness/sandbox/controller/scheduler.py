"""The scheduler: binds Pending pods to Ready, untainted, uncordoned nodes with room, spreading each app
across zones, then across nodes."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..core.context import Context
from ..core.store import NotFound, Obj
from .cache import Cache, EventRecorder
from .util import (
    app_of,
    cpu_millis,
    is_active,
    is_finished,
    node_is_ready,
    ns_name,
    parse_quantity,
    pod_fields,
    pod_requests,
    set_condition,
)

ZONE_LABEL = "topology.kubernetes.io/zone"
_BLOCKING = ("NoSchedule", "NoExecute")


@dataclass
class NodeState:
    """What the scheduler knows about one node during a pass."""

    node: Obj
    name: str
    zone: str
    cpu_free: int
    mem_free: int
    pods_free: int
    apps: Counter[str] = field(default_factory=Counter)
    pods: int = 0
    static_reason: str | None = None  # why no pod (without tolerations) can go here

    def take(self, cpu: int, mem: int, app: str) -> None:
        """Account for one more pod bound here."""
        self.cpu_free -= cpu
        self.mem_free -= mem
        self.pods_free -= 1
        self.pods += 1
        self.apps[app] += 1


def _tolerated(taint: dict[str, Any], tolerations: list[dict[str, Any]]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _taint_reason(node: Obj, tolerations: list[dict[str, Any]]) -> str | None:
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in _BLOCKING and not _tolerated(taint, tolerations):
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    return None


def _static_reason(node: Obj, tolerations: list[dict[str, Any]]) -> str | None:
    """Why a pod with these tolerations cannot go to this node, resources aside."""
    if (node.get("spec") or {}).get("unschedulable"):
        return "node(s) were unschedulable"
    reason = _taint_reason(node, tolerations)
    if reason:
        return reason
    if not node_is_ready(node):
        return "node(s) were not ready"
    return None


class Scheduler:
    """One pass binds every schedulable Pending pod; the others get FailedScheduling once."""

    def __init__(self, ctx: Context, cache: Cache, events: EventRecorder) -> None:
        self.ctx = ctx
        self.cache = cache
        self.events = events
        self._failed: dict[str, str] = {}  # pod uid -> last FailedScheduling message
        self._requests: dict[str, tuple[int, int]] = {}  # pod uid -> (cpu, memory); pod specs are immutable

    def _pod_requests(self, pod: Obj) -> tuple[int, int]:
        uid = pod["metadata"]["uid"]
        need = self._requests.get(uid)
        if need is None:
            need = self._requests[uid] = pod_requests(pod)
        return need

    def _node_states(self) -> tuple[dict[str, NodeState], list[Obj]]:
        states: dict[str, NodeState] = {}
        for node in self.cache.all("nodes"):
            alloc = (node.get("status") or {}).get("allocatable") or {}
            name = node["metadata"]["name"]
            states[name] = NodeState(
                node=node, name=name, zone=(node["metadata"].get("labels") or {}).get(ZONE_LABEL, ""),
                cpu_free=cpu_millis(alloc.get("cpu", 0)), mem_free=int(parse_quantity(alloc.get("memory", 0))),
                pods_free=int(alloc.get("pods", 110)), static_reason=_static_reason(node, []),
            )
        pending, uids = [], set()
        for pod in self.cache.all("pods"):
            uids.add(pod["metadata"]["uid"])
            bound = (pod.get("spec") or {}).get("nodeName")
            if bound and not is_finished(pod) and bound in states:
                states[bound].take(*self._pod_requests(pod), app_of(pod))
            elif not bound and is_active(pod):
                pending.append(pod)
        pending.sort(key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
        if len(self._requests) > 2 * len(uids) + 100:
            self._requests = {u: r for u, r in self._requests.items() if u in uids}
        return states, pending

    def reconcile(self) -> None:
        """Schedule every Pending pod that fits somewhere."""
        states, pending = self._node_states()
        by_zone: dict[str, list[NodeState]] = defaultdict(list)
        zone_apps: dict[str, Counter[str]] = defaultdict(Counter)
        for st in states.values():
            by_zone[st.zone].append(st)
            zone_apps[st.zone].update(st.apps)
        for pod in pending:
            try:
                self._schedule(pod, states, by_zone, zone_apps)
            except NotFound:
                continue
        waiting = {p["metadata"]["uid"] for p in pending}
        for uid in [u for u in self._failed if u not in waiting]:
            del self._failed[uid]

    def _feasible(self, st: NodeState, pod: Obj, need: tuple[int, int], tolerations: list[Any]) -> list[str]:
        """Reasons ``pod`` cannot go to ``st`` (empty: it fits)."""
        static = _static_reason(st.node, tolerations) if tolerations else st.static_reason
        if static:
            return [static]
        selector = (pod.get("spec") or {}).get("nodeSelector") or {}
        labels = st.node["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            return ["node(s) didn't match Pod's node affinity/selector"]
        reasons = []
        if st.pods_free < 1:
            reasons.append("Too many pods")
        if need[0] > st.cpu_free:
            reasons.append("Insufficient cpu")
        if need[1] > st.mem_free:
            reasons.append("Insufficient memory")
        return reasons

    def _schedule(self, pod: Obj, states: dict[str, NodeState], by_zone: dict[str, list[NodeState]],
                  zone_apps: dict[str, Counter[str]]) -> None:
        app, need = app_of(pod), self._pod_requests(pod)
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        for zone in sorted(by_zone, key=lambda z: (zone_apps[z][app], z)):
            fits = [st for st in by_zone[zone] if not self._feasible(st, pod, need, tolerations)]
            if fits:
                best = min(fits, key=lambda st: (st.apps[app], st.pods, st.name))
                self._bind(pod, best)
                best.take(*need, app)
                zone_apps[zone][app] += 1
                return
        self._unschedulable(pod, states, need, tolerations)

    def _bind(self, pod: Obj, st: NodeState) -> None:
        def bind(o: Obj) -> None:
            o["spec"]["nodeName"] = st.name
            set_condition(o, "PodScheduled", "True", stamps=("lastProbeTime",))

        namespace, name = ns_name(pod)
        bound = self.ctx.store.mutate("pods", namespace, name, bind)
        self._failed.pop(pod["metadata"]["uid"], None)
        self.events.record(bound, "Scheduled", f"Successfully assigned {namespace}/{name} to {st.name}")
        self.ctx.truth.record("pod.scheduled", **pod_fields(bound), zone=st.zone)

    def _unschedulable(self, pod: Obj, states: dict[str, NodeState], need: tuple[int, int],
                       tolerations: list[Any]) -> None:
        counts: Counter[str] = Counter()
        for st in states.values():
            counts.update(self._feasible(st, pod, need, tolerations))
        detail = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
        message = f"0/{len(states)} nodes are available: {detail or 'no nodes available'}."
        uid = pod["metadata"]["uid"]
        if self._failed.get(uid) == message:
            return
        first = uid not in self._failed
        self._failed[uid] = message

        def mark(o: Obj) -> None:
            set_condition(o, "PodScheduled", "False", "Unschedulable", message, stamps=("lastProbeTime",))

        updated = self.ctx.store.mutate("pods", *ns_name(pod), mark)
        self.events.record(updated, "FailedScheduling", message, "Warning")
        if first:
            self.ctx.truth.record("pod.unschedulable", **pod_fields(updated), message=message)
