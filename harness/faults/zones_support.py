"""What the zone faults share: API calls through the retry policy, finding a zone's VMs, the undo
actions (one per record model, so `harness rollback` can replay journaled records) and the recovery watch."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from harness.errors import PermanentClientError, TransientClientError
from harness.events import Event
from harness.faults.preflight import pod_owner_kind
from harness.retry import retry_transient
from harness.selectors import parse_label_selector

from .base import FaultEnv, UndoFailed
from .ports import Vm
from .undo import (
    DeleteFirewall,
    Journaled,
    RestoreMigRepair,
    StartInstance,
    Uncordon,
    Unreadable,
    Untag,
    ZoneUndo,
    unreadable,
)

Obj = dict[str, Any]
ZONE_LABEL = "topology.kubernetes.io/zone"


async def call(env: FaultEnv, what: str, fn: Any, *args: Any, deadline: float = 30.0, **kwargs: Any) -> Any:
    """A blocking client call off the event loop, through the one retry policy (retries are journaled)."""

    async def once() -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    return await retry_transient(once, deadline=deadline, what=what, on_retry=env.on_retry)


async def zone_nodes(env: FaultEnv, zone: str) -> list[Obj]:
    """The Kubernetes nodes labelled with ``zone``."""
    nodes: list[Obj] = await call(env, f"list nodes in {zone}", env.need_kube().list_nodes, f"{ZONE_LABEL}={zone}")
    return nodes


async def cluster_state(env: FaultEnv, namespaces: list[str]) -> tuple[list[Obj], list[Obj], list[Obj], list[Obj]]:
    """(nodes, every pod, deployments of ``namespaces``, PDBs of ``namespaces``) for the preflight."""
    kube = env.need_kube()
    nodes = await call(env, "list nodes", kube.list_nodes)
    pods = await call(env, "list pods", kube.list_pods)
    deployments: list[Obj] = []
    pdbs: list[Obj] = []
    for ns in namespaces:
        deployments += await call(env, f"list deployments in {ns}", kube.list_deployments, ns)
        pdbs += await call(env, f"list pdbs in {ns}", kube.list_pdbs, ns)
    return nodes, pods, deployments, pdbs


def evictable(pod: Obj, namespaces: list[str]) -> bool:
    """Whether a drain evicts ``pod``: in ``namespaces``, not terminating, finished or a DaemonSet's."""
    meta = pod["metadata"]
    phase = (pod.get("status") or {}).get("phase")
    return (meta.get("namespace") in namespaces and not meta.get("deletionTimestamp")
            and pod_owner_kind(pod) != "DaemonSet" and phase not in ("Succeeded", "Failed"))


def compute_name(text: str) -> str:
    """A valid Compute resource name / network tag (lowercase, [-a-z0-9], letter first, <= 63)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    name = name if name[:1].isalpha() else f"c-{name}"
    return name[:63].rstrip("-")


# -- a zone's VMs ------------------------------------------------------------------------------------
def _by_names(names: set[str]) -> Callable[[Vm, Any], bool]:
    return lambda vm, p: vm.name in names


VM_MATCHERS: dict[str, Callable[[Vm, Any], bool]] = {
    "name-prefix": lambda vm, p: vm.name.startswith(p.name_prefix),
    "label": lambda vm, p: parse_label_selector(p.label)(dict(vm.labels)),
    "instance-group": lambda vm, p: vm.created_by.rsplit("/", 1)[-1] == p.instance_group,
}
"""How ``zone-outage`` matches VMs, by ``match`` (``node-names`` is built from the live node list)."""


async def zone_vms(env: FaultEnv, params: Any) -> list[Vm]:
    """The VMs of ``params.zone`` selected by ``params.match``."""
    vms: list[Vm] = await call(env, f"list instances in {params.zone}", env.need_compute().list_instances, params.zone,
                     deadline=params.operation_deadline)
    if params.match == "node-names":
        matcher = _by_names({n["metadata"]["name"] for n in await zone_nodes(env, params.zone)})
    else:
        matcher = VM_MATCHERS[params.match]
    return sorted((vm for vm in vms if matcher(vm, params)), key=lambda vm: vm.name)


# -- undo actions ------------------------------------------------------------------------------------
async def _uncordon(env: FaultEnv, rec: Uncordon) -> None:
    try:
        await call(env, f"uncordon {rec.node}", env.need_kube().set_unschedulable, rec.node, False)
    except PermanentClientError as exc:
        if exc.status != 404:
            raise


async def _start(env: FaultEnv, rec: StartInstance) -> None:
    compute = env.need_compute()
    vm = await call(env, f"get instance {rec.instance}", compute.get_instance, rec.zone, rec.instance)
    if vm is None:
        return
    await call(env, f"start {rec.instance}", compute.start, rec.zone, rec.instance, rec.deadline, deadline=rec.deadline)


async def set_tags_rmw(env: FaultEnv, zone: str, name: str, change: Callable[[list[str]], list[str]],
                       deadline: float) -> bool:
    """Read the VM's tags, apply ``change`` and write them back with the fingerprint read (a 412 from a
    concurrent change is retried). False when the VM is gone; no write when nothing changes."""

    compute = env.need_compute()

    def rmw() -> bool:
        vm = compute.get_instance(zone, name)
        if vm is None:
            return False
        new = change(list(vm.tags))
        if new != list(vm.tags):
            try:
                compute.set_tags(zone, name, new, vm.tags_fingerprint, deadline)
            except PermanentClientError as exc:
                if exc.status == 412:
                    raise TransientClientError(str(exc), 412) from None
                raise
        return True

    async def once() -> bool:
        return await asyncio.to_thread(rmw)

    return await retry_transient(once, deadline=deadline, what=f"set tags of {name}", on_retry=env.on_retry)


async def _untag(env: FaultEnv, rec: Untag) -> None:
    await set_tags_rmw(env, rec.zone, rec.instance, lambda tags: [t for t in tags if t != rec.tag], rec.deadline)


async def _delete_firewall(env: FaultEnv, rec: DeleteFirewall) -> None:
    await call(env, f"delete firewall {rec.firewall}", env.need_compute().delete_firewall, rec.firewall,
               rec.deadline, rec.project, deadline=rec.deadline)


async def _undo_one(env: FaultEnv, rec: ZoneUndo) -> None:
    if isinstance(rec, DeleteFirewall):
        await _delete_firewall(env, rec)
    elif isinstance(rec, Untag):
        await _untag(env, rec)
    elif isinstance(rec, StartInstance):
        await _start(env, rec)
    elif isinstance(rec, RestoreMigRepair):
        from .zones_compute import restore_mig

        await restore_mig(env, rec)
    else:
        await _uncordon(env, rec)


UNDO_PHASES: tuple[type[ZoneUndo], ...] = (DeleteFirewall, Untag, StartInstance, RestoreMigRepair, Uncordon)
"""The order a revert runs the records in (rules before tags; VMs started before their MIG may repair again);
each phase runs concurrently."""


async def undo_records(records: Sequence[Journaled], env: FaultEnv) -> None:
    """Replay journaled undo records (idempotent); every record is tried, failures are raised together."""
    failures = unreadable(records) + [f"unknown undo record {r.model_dump()!r}" for r in records
                                      if not isinstance(r, Unreadable) and not isinstance(r, UNDO_PHASES)]
    for phase in UNDO_PHASES:
        todo = [r for r in records if isinstance(r, phase)]
        results = await asyncio.gather(*(_undo_one(env, r) for r in todo), return_exceptions=True)
        for rec, res in zip(todo, results, strict=True):
            if isinstance(res, BaseException):
                failures.append(f"{rec.describe()}: {res}")
    if failures:
        raise UndoFailed(failures)


# -- the recovery watch ------------------------------------------------------------------------------
def _short_deployments(deployments: list[Obj]) -> list[str]:
    return sorted(f"{d['metadata'].get('namespace')}/{d['metadata']['name']}" for d in deployments
                  if int((d.get("status") or {}).get("readyReplicas") or 0) < int(d["spec"].get("replicas") or 0))


def _unschedulable(pods: list[Obj]) -> list[str]:
    out = []
    for pod in pods:
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable":
                out.append(f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}")
    return out


class RecoveryWatch:
    """Polls the Kubernetes API from injection until every deployment is back at its desired ready
    replicas after the revert: when they were short, when they were whole again (from the injection
    and from the revert), and the pods Pending for lack of room (peak and names)."""

    def __init__(self, env: FaultEnv, namespaces: list[str], fault_id: str, kind: str,
                 every: float = 1.0) -> None:
        self.env, self.namespaces, self.fault_id, self.kind, self.every = env, namespaces, fault_id, kind, every
        self.injected_at = self.reverted_at = self.whole_at = 0.0
        self.short_now = True
        self._after = 0.0
        self.short: set[str] = set()
        self.pending: set[str] = set()
        self.pending_peak = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start polling (from now: the injection)."""
        self.injected_at = time.time()
        self._task = asyncio.create_task(self._loop())

    async def _poll(self) -> tuple[list[str], list[str]]:
        deps: list[Obj] = []
        pending: list[Obj] = []
        kube = self.env.need_kube()
        for ns in self.namespaces:
            deps += await asyncio.to_thread(kube.list_deployments, ns)
            pending += await asyncio.to_thread(kube.list_pods, ns, None, "status.phase=Pending")
        return _short_deployments(deps), _unschedulable(pending)

    def _observe(self, short: list[str], pending: list[str], now: float) -> None:
        self.short.update(short)
        self.pending.update(pending)
        self.pending_peak = max(self.pending_peak, len(pending))
        self.short_now = bool(short)
        if short:
            self.whole_at = 0.0
        elif self.whole_at == 0.0:
            self.whole_at = now

    async def _loop(self) -> None:
        while True:
            try:
                self._observe(*await self._poll(), time.time())
            except (TransientClientError, PermanentClientError):
                pass  # one missed sample; the next poll decides
            if self.reverted_at and (not self.short_now or self._expired()):
                self._journal_final()
                return
            await asyncio.sleep(self.every)

    def _journal_final(self) -> None:
        try:
            self.env.record(Event.FAULT_MEASURED, id=self.fault_id, kind=self.kind, measurements=self.measurements())
        except (ValueError, OSError):
            pass  # the run already closed its journal: run.json has the values known at the revert

    def _expired(self) -> bool:
        return time.time() > self.reverted_at + self._after

    def reverted(self, watch_after: float) -> None:
        """The fault was reverted; keep watching up to ``watch_after`` seconds for a full recovery."""
        self.reverted_at, self._after = time.time(), watch_after
        if self._task is not None and watch_after <= 0:
            self._task.cancel()

    async def finished(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) for the watch to end after the revert; True when it ended."""
        if self._task is None:
            return True
        done, _ = await asyncio.wait({self._task}, timeout=timeout)
        return bool(done)

    def measurements(self) -> dict[str, Any]:
        """The numbers for run.json (None: not whole again while watched)."""
        whole = self.whole_at if self.whole_at else None
        out: dict[str, Any] = {
            "deployments_short": sorted(self.short),
            "deployments_ready_after_inject_s": None if whole is None else
            (0.0 if not self.short else round(whole - self.injected_at, 2)),
            "pending_for_room_peak": self.pending_peak,
            "pending_for_room_pods": sorted(self.pending)[:50],
        }
        if self.reverted_at:
            out["deployments_ready_after_revert_s"] = (
                None if whole is None else round(max(0.0, whole - self.reverted_at), 2))
        return out
