"""Zone faults: ``zone-drain`` (Kubernetes: cordon a zone's nodes and evict their pods) and
``zone-outage`` (Compute Engine: stop the zone's VMs, or cut their network with deny firewall rules).

Both plan with the zone-loss preflight (harness.faults.preflight), journal an undo record before every change
(undo records are replayed by model, see zones_support.UNDO_PHASES) and measure recovery from the
Kubernetes API while they hold and after they are reverted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Any

from harness.errors import ClientError, PermanentClientError
from harness.events import Event
from harness.faults.preflight import ZoneImpact, predict_zone_loss
from harness.retry import retry_transient
from harness.spec.access import Access, GcpRule, KubeRule, Scope
from harness.spec.registry import FAULTS

from .base import Fault, FaultEnv, FaultPlan
from .ports import Vm
from .undo import DeleteFirewall, Journaled, RestoreMigRepair, StartInstance, Uncordon, Untag
from .zones_compute import REPAIR_OFF, RuleNetwork, ZoneMig, describe_repair, repairs, rule_network, zone_migs
from .zones_params import ZoneDrainParams, ZoneOutageParams
from .zones_support import (
    RecoveryWatch,
    call,
    cluster_state,
    compute_name,
    evictable,
    set_tags_rmw,
    undo_records,
    zone_nodes,
    zone_vms,
)

Obj = dict[str, Any]
STOPPED_STATES = {"STOPPING", "TERMINATED", "STOPPED", "SUSPENDING", "SUSPENDED"}

ZONE_READS = (
    KubeRule("", ("nodes", "pods"), ("list",), Scope.CLUSTER),  # the zone's nodes, every pod on them
    KubeRule("", ("pods",), ("list",)),
    KubeRule("apps", ("deployments",), ("list",)),
    KubeRule("policy", ("poddisruptionbudgets",), ("list",)),
)
"""What both zone faults read: the zone-loss preflight and the recovery watch."""


class ZoneFault(Fault):
    """Shared planning, recovery watch and revert of the zone faults."""

    pods_move = True

    def __init__(self, fault_id: str, params: Any, env: FaultEnv) -> None:
        super().__init__(fault_id, params, env)
        self.watch: RecoveryWatch | None = None

    async def _impact(self, vms: list[str] | None = None) -> ZoneImpact:
        p = self.params
        nodes, pods, deployments, pdbs = await cluster_state(self.env, p.namespaces())
        return predict_zone_loss(p.zone, nodes, pods, deployments, pdbs, p.namespaces(), vms, self.pods_move)

    def _plan_from(self, impact: ZoneImpact, targets: list[str], head: str) -> FaultPlan:
        deadline = getattr(self.params, "eviction_deadline", None)
        plan = FaultPlan(targets=targets, notes=[head, *impact.notes(deadline)], blast=impact.blast())
        self.measurements["predicted"] = impact.blast()
        if not impact.nodes:
            plan.empty(f"{self.kind}: no Kubernetes node is labelled with zone {self.params.zone}", self.allow_empty)
        elif self.env.require_capacity and impact.capacity_refusal():
            plan.refuse = impact.capacity_refusal()
        return plan

    def _start_watch(self) -> None:
        self.watch = RecoveryWatch(self.env, self.params.namespaces(), self.id, self.kind)
        self.watch.start()

    async def _stop_activity(self) -> None:
        """Stop whatever this fault still runs in the background (before its undo)."""

    async def revert(self) -> None:
        await self._stop_activity()
        try:
            await type(self).undo(self._undo, self.env)
        finally:
            if self.watch is not None:
                self.watch.reverted(self.params.watch_after_revert)
                self.measurements.update(self.watch.measurements())

    @classmethod
    async def undo(cls, records: Sequence[Journaled], env: FaultEnv) -> None:
        await undo_records(records, env)


@FAULTS.register
class ZoneDrain(ZoneFault):
    """Cordon every node of the zone, then evict their pods through the Eviction API, honouring PDBs."""

    kind = "zone-drain"
    Params = ZoneDrainParams
    access = Access(kube=(*ZONE_READS, KubeRule("", ("nodes",), ("patch",), Scope.CLUSTER),
                          KubeRule("", ("pods/eviction",), ("create",))))

    def __init__(self, fault_id: str, params: Any, env: FaultEnv) -> None:
        super().__init__(fault_id, params, env)
        self.cordoned: list[str] = []
        self.already_cordoned: list[str] = []
        self.evicted: list[str] = []
        self.not_evicted: dict[str, str] = {}
        self._drain: asyncio.Task[None] | None = None

    async def plan(self) -> FaultPlan:
        p = self.params
        impact = await self._impact()
        head = (f"cordons {len(impact.nodes)} node(s) of {p.zone} and evicts their pods, {p.parallelism} node(s) "
                f"at a time, retrying refused evictions for up to {p.eviction_deadline:g}s")
        plan = self._plan_from(impact, [f"node/{n}" for n in impact.nodes], head)
        if impact.nodes and not impact.pods:
            plan.empty(await self._nothing_to_evict(impact.nodes), self.allow_empty)
        return plan

    async def _nothing_to_evict(self, nodes: list[str]) -> str:
        """Why the drain would evict nothing, naming cordoned nodes (what an interrupted drain leaves)."""
        p = self.params
        live = await zone_nodes(self.env, p.zone)
        cordoned = sorted(n["metadata"]["name"] for n in live if n["spec"].get("unschedulable"))
        reason = (f"{self.kind}: no pod to evict on the {len(nodes)} node(s) of {p.zone} "
                  f"(namespaces: {', '.join(p.namespaces())})")
        if cordoned:
            reason += (f"; {len(cordoned)} of them already cordoned ({', '.join(cordoned)}): an earlier drain may "
                       "not have been reverted (`harness rollback` its run, or uncordon them)")
        return reason

    async def inject(self) -> None:
        nodes = await zone_nodes(self.env, self.params.zone)
        self._start_watch()
        for node in nodes:
            name = node["metadata"]["name"]
            if node["spec"].get("unschedulable"):
                self.already_cordoned.append(name)
                continue
            self.record_undo(Uncordon(node=name))
            await call(self.env, f"cordon {name}", self.env.need_kube().set_unschedulable, name, True)
            self.cordoned.append(name)
        self.targets += [f"node/{n['metadata']['name']}" for n in nodes]
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="cordoned", nodes=self.cordoned,
                        already_cordoned=self.already_cordoned)
        self._drain = asyncio.create_task(self._drain_nodes([n["metadata"]["name"] for n in nodes]))

    async def _drain_nodes(self, nodes: list[str]) -> None:
        gate = asyncio.Semaphore(self.params.parallelism)

        async def one(node: str) -> None:
            async with gate:
                await self._drain_node(node)

        await asyncio.gather(*(one(n) for n in nodes))
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="drained", evicted=len(self.evicted),
                        not_evicted=self.not_evicted)

    async def _drain_node(self, node: str) -> None:
        pods = await call(self.env, f"list pods on {node}", self.env.need_kube().list_pods, None, None,
                          f"spec.nodeName={node}")
        victims = [p for p in pods if evictable(p, self.params.namespaces())]
        await asyncio.gather(*(self._evict(p["metadata"]["namespace"], p["metadata"]["name"]) for p in victims))

    async def _evict(self, namespace: str, name: str) -> None:
        key = f"{namespace}/{name}"
        self.not_evicted[key] = "eviction in progress"

        kube = self.env.need_kube()

        async def once() -> bool:
            return bool(await asyncio.to_thread(kube.evict_pod, namespace, name))

        try:
            await retry_transient(once, deadline=self.params.eviction_deadline, what=f"evict pod {key}",
                                  on_retry=self.env.on_retry)
        except ClientError as exc:
            self.not_evicted[key] = str(exc)
            return
        del self.not_evicted[key]
        self.evicted.append(key)

    async def hold(self, until: float) -> None:
        if self._drain is not None:
            # asyncio.wait, not wait_for: on 3.11 wait_for can swallow a cancellation that races with
            # the inner task finishing, and then a Ctrl-C would not end the hold.
            await asyncio.wait({self._drain}, timeout=max(0.0, until - time.time()))
            if not self._drain.done():
                await self._stop_activity()
        self._note()
        await asyncio.sleep(max(0.0, until - time.time()))

    async def _stop_activity(self) -> None:
        task, self._drain = self._drain, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            for key, why in self.not_evicted.items():
                if why == "eviction in progress":
                    self.not_evicted[key] = "still refused when the fault ended"
        self._note()

    def _note(self) -> None:
        self.measurements.update(cordoned=self.cordoned, already_cordoned=self.already_cordoned,
                                 evicted=len(self.evicted), not_evicted=dict(self.not_evicted))


@FAULTS.register
class ZoneOutage(ZoneFault):
    """Take the zone's VMs away through Compute Engine: ``stop-instances`` or ``network``."""

    kind = "zone-outage"
    Params = ZoneOutageParams
    access = Access(kube=ZONE_READS, gcp=(
        GcpRule(("compute.instances.list", "compute.instances.get", "compute.zoneOperations.get")),
        GcpRule(("compute.instances.stop", "compute.instances.start", "compute.instanceGroupManagers.list",
                 "compute.instanceGroupManagers.get", "compute.instanceGroupManagers.update"), mode="stop-instances"),
        GcpRule(("compute.instances.setTags",), mode="network"),
        GcpRule(("compute.firewalls.create", "compute.firewalls.delete", "compute.networks.updatePolicy",
                 "compute.globalOperations.get"), mode="network", network_project=True),
    ), other=("GCP IAM of mode: network is needed in the host project on a Shared VPC",))

    def __init__(self, fault_id: str, params: Any, env: FaultEnv) -> None:
        super().__init__(fault_id, params, env)
        self.pods_move = params.mode == "stop-instances"
        self.stopped: list[str] = []
        self.restopped: list[str] = []
        self.tag = compute_name(f"chaos-{fault_id}-{uuid.uuid4().hex[:6]}")
        self.rules: list[str] = []
        self.migs: list[ZoneMig] = []
        self.network = RuleNetwork()
        self._reverting = False

    async def plan(self) -> FaultPlan:
        p = self.params
        if self.env.compute is None:
            return FaultPlan([], refuse=f"{self.kind}: this target has no Compute Engine client")
        vms = await zone_vms(self.env, p)
        impact = await self._impact([vm.name for vm in vms])
        head = {"stop-instances": f"stops {len(vms)} VM(s) of {p.zone} (matched by {p.match}) and keeps them "
                                  "stopped",
                "network": f"tags {len(vms)} VM(s) of {p.zone} (matched by {p.match}) and denies their "
                           f"{p.direction} traffic with firewall rules"}[p.mode]
        plan = self._plan_from(impact, [f"vm/{p.zone}/{vm.name}" for vm in vms], head)
        if not vms:
            plan.empty(f"{self.kind}: no VM of {p.zone} matches (match: {p.match})", self.allow_empty)
        elif p.mode == "stop-instances" and all(vm.status in STOPPED_STATES for vm in vms):
            plan.empty(f"{self.kind}: every matched VM of {p.zone} is already stopped "
                       f"({', '.join(f'{vm.name} {vm.status}' for vm in vms)})", self.allow_empty)
        elif p.mode == "stop-instances":
            for mig in await zone_migs(self.env, p.zone, [vm.name for vm in vms], p.operation_deadline):
                plan.targets.append(f"mig/{p.zone}/{mig.name}")
                plan.notes.append(
                    f"managed instance group {mig.name} ({len(mig.members)} of the VMs; {describe_repair(mig.settings)}): "
                    + ("repair switched off (defaultActionOnFailure DO_NOTHING) while the zone is down, its settings "
                       "written back after the VMs are started" if repairs(mig.settings) else "repair already off"))
        else:
            where = rule_network(self.env, vms)
            if where.refusal:
                plan.refuse = where.refusal
            else:
                plan.notes.append(f"firewall rules on network {where.path or 'default (the API default)'}"
                                  + (f" of host project {where.project}" if where.project
                                     and where.project != self.env.project else ""))
        return plan

    async def inject(self) -> None:
        vms = await zone_vms(self.env, self.params)
        self._start_watch()
        await {"stop-instances": self._inject_stop, "network": self._inject_network}[self.params.mode](vms)

    # -- stop-instances ----------------------------------------------------------------------------
    async def _stop(self, name: str) -> None:
        p = self.params
        if name not in self.stopped:
            self.record_undo(StartInstance(zone=p.zone, instance=name, deadline=p.operation_deadline))
            self.stopped.append(name)
            self.targets.append(f"vm/{p.zone}/{name}")
        await call(self.env, f"stop {name}", self.env.need_compute().stop, p.zone, name, p.operation_deadline,
                   deadline=p.operation_deadline)

    async def _repair_off(self, vms: list[Vm]) -> None:
        """Journal each of the zone's MIGs' repair settings, then switch its repair off."""
        p = self.params
        self.migs = await zone_migs(self.env, p.zone, [vm.name for vm in vms], p.operation_deadline)
        for mig in self.migs:
            self.record_undo(RestoreMigRepair(zone=p.zone, mig=mig.name, settings=mig.settings,
                                              deadline=p.operation_deadline))
            self.targets.append(f"mig/{p.zone}/{mig.name}")
            if repairs(mig.settings):
                await call(self.env, f"switch repair off on {mig.name}", self.env.need_compute().patch_mig, p.zone,
                           mig.name, REPAIR_OFF, p.operation_deadline, deadline=p.operation_deadline)
        if self.migs:
            self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="mig-repair-off",
                            migs={m.name: m.settings for m in self.migs})
        self.measurements["migs"] = {m.name: m.settings for m in self.migs}

    async def _inject_stop(self, vms: list[Vm]) -> None:
        await self._repair_off(vms)
        await asyncio.gather(*(self._stop(vm.name) for vm in vms))
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="stopped", instances=self.stopped)
        self.measurements["stopped"] = list(self.stopped)

    async def _restop_once(self) -> None:
        p = self.params
        current = await call(self.env, f"list instances in {p.zone}", self.env.need_compute().list_instances, p.zone)
        back = [vm.name for vm in current if vm.name in self.stopped and vm.status not in STOPPED_STATES]
        for name in back:
            if self._reverting:
                return
            self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="restopped", instance=name)
            self.restopped.append(name)
            await self._stop(name)
        self.measurements["restopped"] = list(self.restopped)

    async def hold(self, until: float) -> None:
        if self.params.mode != "stop-instances":
            return await super().hold(until)
        while not self._reverting and time.time() < until:
            await asyncio.sleep(max(0.0, min(self.params.recheck_every, until - time.time())))
            if time.time() >= until:
                break
            try:
                await self._restop_once()
            except ClientError as exc:
                self.env.record(Event.FAULT_WARNING, id=self.id, kind=self.kind, error=f"re-stop check failed: {exc}")

    # -- network -----------------------------------------------------------------------------------
    async def _inject_network(self, vms: list[Vm]) -> None:
        p = self.params
        self.network = rule_network(self.env, vms)
        if self.network.refusal:
            raise PermanentClientError(self.network.refusal)
        for vm in vms:
            self.record_undo(Untag(zone=p.zone, instance=vm.name, tag=self.tag, deadline=p.operation_deadline))
            await set_tags_rmw(self.env, p.zone, vm.name, lambda tags: [*tags, self.tag] if self.tag not in tags
                               else tags, p.operation_deadline)
            self.targets.append(f"vm/{p.zone}/{vm.name}")
        directions = ["INGRESS", "EGRESS"] if p.direction == "both" else [p.direction.upper()]
        for direction in directions:
            await self._insert_rule(compute_name(f"{self.tag}-{direction.lower()}"), direction)
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="isolated", tag=self.tag,
                        firewalls=self.rules, instances=[vm.name for vm in vms])
        self.measurements.update(tagged=[vm.name for vm in vms], firewalls=list(self.rules))

    async def _insert_rule(self, name: str, direction: str) -> None:
        p = self.params
        where = self.network
        self.record_undo(DeleteFirewall(firewall=name, deadline=p.operation_deadline, project=where.project))
        self.rules.append(name)
        try:
            await call(self.env, f"insert firewall {name}", self.env.need_compute().insert_deny_firewall, name, direction,
                       [self.tag], 0, f"harness {self.kind} {self.id} ({p.zone})", p.operation_deadline, where.path,
                       where.project, deadline=p.operation_deadline)
        except PermanentClientError as exc:
            if exc.status != 409:  # already there: an earlier attempt of ours went through
                raise

    async def _stop_activity(self) -> None:
        self._reverting = True
