"""Zone-loss preflight: predict, before anything is touched, what losing one zone does to the workload.

Pure functions over plain Kubernetes JSON dicts (nodes, pods, deployments, PDBs), so they are tested
on hand-built objects and used unchanged by the zone faults' ``plan()``:

- **capacity**: can the other zones' schedulable, Ready nodes take the pods that will move
  (allocatable minus what is already requested, placed largest-first on the emptiest node)?
- **PDBs**: which budgets allow fewer disruptions than the zone holds, and how long a drain may stall;
- **spread**: which deployments have all, or a majority of, their ready replicas in the zone;
- **counts**: nodes, VMs and pods hit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from harness.selectors import match_labels_selector

Obj = dict[str, Any]
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
_MEM_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9,
              "T": 10**12}


# -- quantities and object helpers -------------------------------------------------------------------
def cpu_millis(quantity: str | int | float | None) -> int:
    """A CPU quantity ("500m", "2", 0.5) in millicores."""
    if quantity is None or quantity == "":
        return 0
    text = str(quantity)
    if text.endswith("m"):
        return int(float(text[:-1]))
    return int(round(float(text) * 1000))


def memory_bytes(quantity: str | int | float | None) -> int:
    """A memory quantity ("256Mi", "8Gi", "1000000") in bytes."""
    if quantity is None or quantity == "":
        return 0
    text = str(quantity)
    for unit in sorted(_MEM_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * _MEM_UNITS[unit])
    return int(float(text))


def node_zone(node: Obj) -> str | None:
    """The node's zone label."""
    labels = node["metadata"].get("labels") or {}
    return next((labels[k] for k in ZONE_LABELS if k in labels), None)


def node_ready(node: Obj) -> bool:
    """The node's Ready condition is True."""
    conds = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def pod_ready(pod: Obj) -> bool:
    """Ready and not terminating."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def pod_active(pod: Obj) -> bool:
    """Bound to a node and not finished (it holds resources there)."""
    phase = (pod.get("status") or {}).get("phase")
    return bool(pod["spec"].get("nodeName")) and phase not in ("Succeeded", "Failed")


def pod_owner_kind(pod: Obj) -> str | None:
    """Kind of the pod's controller (ReplicaSet, DaemonSet, ...), or None when unmanaged."""
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind"))
    return None


def pod_requests(pod: Obj) -> tuple[int, int]:
    """Summed (cpu millicores, memory bytes) requests of the pod's containers."""
    cpu = mem = 0
    for c in pod["spec"].get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += cpu_millis(req.get("cpu"))
        mem += memory_bytes(req.get("memory"))
    return cpu, mem


def pod_key(pod: Obj) -> str:
    """``namespace/name``."""
    return f"{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"


# -- results -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Capacity:
    """Whether the remaining zones can schedule the pods that move."""

    ok: bool
    moving: int
    cpu_needed_m: int
    cpu_free_m: int
    memory_needed: int
    memory_free: int
    unplaced: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PdbBlock:
    """A budget that allows fewer evictions than the zone holds pods of it."""

    name: str
    in_zone: int
    allowed: int
    rounds: int | None  # None: it never allows them (the drain stalls until its deadline)


@dataclass(frozen=True)
class Spread:
    """Ready replicas of one deployment, in the zone and in all."""

    deployment: str
    ready_in_zone: int
    ready_total: int
    desired: int

    @property
    def all_in_zone(self) -> bool:
        return self.ready_total > 0 and self.ready_in_zone == self.ready_total

    @property
    def majority_in_zone(self) -> bool:
        return self.ready_in_zone * 2 > self.ready_total


@dataclass
class ZoneImpact:
    """Everything the preflight predicts for losing ``zone``."""

    zone: str
    nodes: list[str]
    pods: list[str]
    vms: list[str]
    capacity: Capacity | None
    pdb_blocks: list[PdbBlock]
    spread: list[Spread]
    unmanaged: list[str]

    @property
    def lose_all(self) -> list[str]:
        """Deployments with every ready replica in the zone."""
        return [s.deployment for s in self.spread if s.all_in_zone]

    @property
    def lose_majority(self) -> list[str]:
        """Deployments with most (not all) of their ready replicas in the zone."""
        return [s.deployment for s in self.spread if s.majority_in_zone and not s.all_in_zone]

    def blast(self) -> dict[str, Any]:
        """Counts for the plan's ``blast``."""
        return {"zone": self.zone, "nodes": len(self.nodes), "vms": len(self.vms), "pods": len(self.pods),
                "capacity_ok": None if self.capacity is None else self.capacity.ok,
                "lose_all": self.lose_all, "lose_majority": self.lose_majority}

    def notes(self, eviction_deadline: float | None = None, pod_start: float = 10.0) -> list[str]:
        """The prediction said plainly, one line each."""
        out = [f"zone {self.zone}: {len(self.nodes)} node(s), {len(self.vms)} VM(s), {len(self.pods)} pod(s) hit"]
        if self.capacity is not None:
            out.append(_capacity_note(self.capacity))
        out += [_pdb_note(b, eviction_deadline, pod_start) for b in self.pdb_blocks]
        if self.lose_all:
            out.append("WARNING: all ready replicas in the zone (lost until rescheduled): " + ", ".join(self.lose_all))
        if self.lose_majority:
            out.append("warning: most ready replicas in the zone: " + ", ".join(self.lose_majority))
        if self.unmanaged:
            out.append("warning: pods without a controller are deleted, not moved: " + ", ".join(self.unmanaged))
        return out

    def capacity_refusal(self) -> str | None:
        """Why the capacity check fails, or None when it passes (or was not made)."""
        c = self.capacity
        if c is None or c.ok:
            return None
        return (f"capacity preflight: the zones left cannot schedule {len(c.unplaced)} of the {c.moving} pods "
                f"that would move out of {self.zone} ({', '.join(c.unplaced[:10])}); "
                "safety.require_capacity is true")


def _capacity_note(c: Capacity) -> str:
    head = "capacity OK" if c.ok else f"WARNING capacity: {len(c.unplaced)} pod(s) would stay Pending"
    return (f"{head}: {c.moving} pod(s) move, needing {c.cpu_needed_m}m CPU / {c.memory_needed // 2**20}Mi "
            f"of {c.cpu_free_m}m / {c.memory_free // 2**20}Mi free elsewhere"
            + (f" (unplaceable: {', '.join(c.unplaced[:10])})" if c.unplaced else ""))


def _pdb_note(b: PdbBlock, deadline: float | None, pod_start: float) -> str:
    if b.rounds is None:
        limit = f"until the eviction deadline ({deadline:g}s)" if deadline else "indefinitely"
        return (f"PDB {b.name}: {b.in_zone} pod(s) in the zone, 0 disruptions allowed; "
                f"the drain stalls {limit} and those pods are not evicted")
    return (f"PDB {b.name}: {b.in_zone} pod(s) in the zone, {b.allowed} disruption(s) allowed at a time; "
            f"the drain may stall ~{b.rounds} round(s) of a replacement start (~{b.rounds * pod_start:g}s)")


# -- the prediction ----------------------------------------------------------------------------------
def _placement(moving: list[Obj], targets: list[Obj], pods: list[Obj]) -> Capacity:
    free: dict[str, list[int]] = {}
    for node in targets:
        alloc = node.get("status", {}).get("allocatable") or {}
        free[node["metadata"]["name"]] = [cpu_millis(alloc.get("cpu")), memory_bytes(alloc.get("memory")),
                                          int(alloc.get("pods", 110))]
    for pod in pods:
        slot = free.get(pod["spec"].get("nodeName", ""))
        if slot is not None and pod_active(pod):
            cpu, mem = pod_requests(pod)
            slot[0], slot[1], slot[2] = slot[0] - cpu, slot[1] - mem, slot[2] - 1
    cpu_free = sum(max(0, s[0]) for s in free.values())
    mem_free = sum(max(0, s[1]) for s in free.values())
    unplaced: list[str] = []
    need_cpu = need_mem = 0
    for pod in sorted(moving, key=pod_requests, reverse=True):
        cpu, mem = pod_requests(pod)
        need_cpu, need_mem = need_cpu + cpu, need_mem + mem
        fits = [s for s in free.values() if s[0] >= cpu and s[1] >= mem and s[2] >= 1]
        if not fits:
            unplaced.append(pod_key(pod))
            continue
        best = max(fits, key=lambda s: (s[0], s[1]))
        best[0], best[1], best[2] = best[0] - cpu, best[1] - mem, best[2] - 1
    return Capacity(not unplaced, len(moving), need_cpu, cpu_free, need_mem, mem_free, unplaced)


def _pdb_allowed(pdb: Obj, matched: list[Obj]) -> int:
    status = pdb.get("status") or {}
    if "disruptionsAllowed" in status:
        return int(status["disruptionsAllowed"])
    healthy, expected = sum(1 for p in matched if pod_ready(p)), len(matched)
    spec = pdb.get("spec") or {}
    if spec.get("minAvailable") is not None:
        return max(0, healthy - _int_or_percent(spec["minAvailable"], expected))
    if spec.get("maxUnavailable") is not None:
        return max(0, _int_or_percent(spec["maxUnavailable"], expected) - (expected - healthy))
    return expected


def _int_or_percent(value: int | str, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(float(value[:-1]) / 100.0 * total)
    return int(value)


def _pdb_blocks(pdbs: list[Obj], pods: list[Obj], zone_pods: set[str]) -> list[PdbBlock]:
    out = []
    for pdb in pdbs:
        ns = pdb["metadata"].get("namespace")
        match = match_labels_selector((pdb.get("spec") or {}).get("selector"))
        matched = [p for p in pods if p["metadata"].get("namespace") == ns and pod_active(p)
                   and match(p["metadata"].get("labels") or {})]
        in_zone = sum(1 for p in matched if pod_key(p) in zone_pods)
        allowed = _pdb_allowed(pdb, matched)
        if in_zone <= allowed:
            continue
        rounds = _rounds(pdb.get("spec") or {}, in_zone, allowed, len(matched))
        out.append(PdbBlock(f"{ns}/{pdb['metadata']['name']}", in_zone, allowed, rounds))
    return out


def _rounds(spec: Obj, in_zone: int, allowed: int, expected: int) -> int | None:
    """Eviction rounds, each waiting for a replacement to become ready; None when the budget never
    allows a disruption (minAvailable >= every pod, or maxUnavailable 0)."""
    if allowed > 0:
        return math.ceil((in_zone - allowed) / allowed)
    if spec.get("minAvailable") is not None and _int_or_percent(spec["minAvailable"], expected) >= expected:
        return None
    if spec.get("maxUnavailable") is not None and _int_or_percent(spec["maxUnavailable"], expected) == 0:
        return None
    return in_zone


def _spread(deployments: list[Obj], pods: list[Obj], zone_nodes: set[str]) -> list[Spread]:
    out = []
    for dep in deployments:
        ns = dep["metadata"].get("namespace")
        match = match_labels_selector(dep["spec"].get("selector"))
        ready = [p for p in pods if p["metadata"].get("namespace") == ns and pod_ready(p)
                 and match(p["metadata"].get("labels") or {})]
        in_zone = sum(1 for p in ready if p["spec"].get("nodeName") in zone_nodes)
        out.append(Spread(f"{ns}/{dep['metadata']['name']}", in_zone, len(ready), int(dep["spec"].get("replicas", 0))))
    return out


def predict_zone_loss(zone: str, nodes: list[Obj], pods: list[Obj], deployments: list[Obj], pdbs: list[Obj],
                      namespaces: list[str], vms: list[str] | None = None, pods_move: bool = True) -> ZoneImpact:
    """Predict losing ``zone``. ``pods`` are every pod of the cluster (for free capacity); only those in
    ``namespaces`` move. ``pods_move`` is False when the zone's pods stay put (a network outage)."""
    zone_nodes = {n["metadata"]["name"] for n in nodes if node_zone(n) == zone}
    hit = [p for p in pods if p["spec"].get("nodeName") in zone_nodes and pod_active(p)
           and p["metadata"].get("namespace") in namespaces and pod_owner_kind(p) != "DaemonSet"
           and not p["metadata"].get("deletionTimestamp")]
    moving = [p for p in hit if pod_owner_kind(p) is not None]
    targets = [n for n in nodes if n["metadata"]["name"] not in zone_nodes and node_ready(n)
               and not n["spec"].get("unschedulable")]
    ns_set = set(namespaces)
    return ZoneImpact(
        zone=zone,
        nodes=sorted(zone_nodes),
        pods=sorted(pod_key(p) for p in hit),
        vms=sorted(vms if vms is not None else zone_nodes),
        capacity=_placement(moving, targets, pods) if pods_move else None,
        pdb_blocks=_pdb_blocks([b for b in pdbs if b["metadata"].get("namespace") in ns_set], pods,
                               {pod_key(p) for p in hit}) if pods_move else [],
        spread=_spread([d for d in deployments if d["metadata"].get("namespace") in ns_set], pods, zone_nodes),
        unmanaged=sorted(pod_key(p) for p in hit if pod_owner_kind(p) is None),
    )
