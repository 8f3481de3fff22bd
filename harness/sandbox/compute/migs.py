"""Managed instance groups of the sandbox's Compute Engine API: one per zone's node pool, as on GKE.

Each zone has ``gke-<cluster>-default-pool-<zone suffix>-grp`` (`context.mig_name`), whose members are
the zone's node VMs (their ``created-by`` metadata names it). REST, under ``projects/{p}``:

- ``GET zones/{z}/instanceGroupManagers`` (``filter``), ``GET aggregated/instanceGroupManagers``,
  ``GET zones/{z}/instanceGroupManagers/{name}``;
- ``PATCH zones/{z}/instanceGroupManagers/{name}``: JSON merge patch (a field left out is untouched, an
  object merges, a list or scalar replaces, null clears); a ``fingerprint`` that is not the current one
  is refused with 412; answers a zonal Operation (DONE); every patch changes the fingerprint;
- ``POST zones/{z}/instanceGroupManagers/{name}/listManagedInstances``;
- ``GET zones/{z}/instanceGroups/{name}`` (the MIG's unmanaged view, same name).

**Repair rule.** Repair is on when ``instanceLifecyclePolicy.defaultActionOnFailure`` is ``REPAIR`` (the
real API's default when the field is absent), whatever ``autoHealingPolicies`` says: on GCE that field
governs failed *and* unhealthy VMs, while an autohealing policy only adds health-check detection, which
the sandbox does not simulate. ``config.mig_repair`` True starts every MIG with REPAIR and an autohealing
policy; False with DO_NOTHING and no policy. While repair is on, a member stopped by someone else
(TERMINATED) is recreated after ``timings.mig_repair_delay``: same name, new id and creationTimestamp,
tags/labels/metadata as at creation, PROVISIONING -> STAGING -> RUNNING; ``listManagedInstances`` shows
it RECREATING from the stop until RUNNING. Patching repair off during the delay cancels it.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..core.context import Context, Vm, mig_name
from .iam import Route
from .model import (
    API_ROOT,
    GoogleError,
    Operations,
    fingerprint,
    instance_url,
    matches_filter,
    network_url,
    now_rfc3339,
    zone_url,
)

Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]

#: Fields a patch may change; the others are output only and ignored, as the real API does.
_PATCHABLE = ("description", "instanceTemplate", "versions", "targetSize", "autoHealingPolicies",
              "instanceLifecyclePolicy", "updatePolicy", "namedPorts", "targetPools", "statefulPolicy",
              "listManagedInstancesResults")
_ENUMS = {("instanceLifecyclePolicy", "defaultActionOnFailure"): ("REPAIR", "DO_NOTHING"),
          ("instanceLifecyclePolicy", "forceUpdateOnRepair"): ("YES", "NO")}
_STOPPED = ("TERMINATED", "STOPPED")


@dataclass
class Member:
    """A VM of a MIG, with what it had at creation (the template) and the repair pending for it."""

    name: str
    tags: list[str]
    tags_fingerprint: str
    labels: dict[str, str]
    metadata: dict[str, str]
    action: str = "NONE"
    pending: asyncio.Task[None] | None = None
    waiting: bool = False  # in the repair delay (a patch turning repair off cancels it)


@dataclass
class Group:
    """One zonal MIG: its patchable ``spec`` (the real resource's fields) and members."""

    name: str
    zone: str
    suffix: str
    id: int
    spec: dict[str, Any]
    members: dict[str, Member] = field(default_factory=dict)
    generation: int = 0

    @property
    def repair_on(self) -> bool:
        """See the module docstring: defaultActionOnFailure REPAIR (or absent)."""
        policy = self.spec.get("instanceLifecyclePolicy") or {}
        return bool(policy.get("defaultActionOnFailure", "REPAIR") == "REPAIR")

    @property
    def fingerprint(self) -> str:
        return fingerprint({"spec": self.spec, "generation": self.generation})


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch: objects merge, null removes, anything else replaces."""
    out = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _initial_spec(ctx: Context, suffix: str) -> dict[str, Any]:
    cfg = ctx.config
    template = f"{API_ROOT}/projects/{cfg.project}/global/instanceTemplates/gke-{cfg.cluster_name}-default-pool-{suffix}"
    spec: dict[str, Any] = {
        "instanceTemplate": template,
        "versions": [{"instanceTemplate": template}],
        "updatePolicy": {"type": "OPPORTUNISTIC", "minimalAction": "REPLACE", "replacementMethod": "SUBSTITUTE",
                         "maxSurge": {"fixed": 1, "calculated": 1},
                         "maxUnavailable": {"fixed": 1, "calculated": 1}},
        "instanceLifecyclePolicy": {"defaultActionOnFailure": "REPAIR" if cfg.mig_repair else "DO_NOTHING",
                                    "forceUpdateOnRepair": "NO"},
        "listManagedInstancesResults": "PAGELESS",
    }
    if cfg.mig_repair:
        spec["autoHealingPolicies"] = [{
            "healthCheck": f"{API_ROOT}/projects/{cfg.project}/global/healthChecks/gke-{cfg.cluster_name}-autohealing",
            "initialDelaySec": 300}]
    return spec


def make_groups(ctx: Context) -> dict[str, Group]:
    """One MIG per zone, its members the zone's VMs whose ``created-by`` names it."""
    groups: dict[str, Group] = {}
    for index, suffix in enumerate(ctx.config.zones):
        zone, name = f"{ctx.config.region}-{suffix}", mig_name(ctx.config, suffix)
        group = Group(name, zone, suffix, 5_000_000_000_000_000_001 + index, _initial_spec(ctx, suffix))
        for vm in ctx.vms.values():
            if vm.zone == zone and vm.metadata.get("created-by", "").endswith(f"/instanceGroupManagers/{name}"):
                group.members[vm.name] = Member(vm.name, list(vm.tags), vm.tags_fingerprint, dict(vm.labels),
                                                dict(vm.metadata))
        groups[name] = group
    return groups


class ManagedGroups:
    """The MIGs of one Compute API and their repair loop. ``spawn`` runs a background task the API
    cancels on stop; ``locks`` are the API's per-VM locks (a recreation never overlaps a stop/start)."""

    def __init__(self, ctx: Context, ops: Operations, spawn: Spawn, locks: dict[str, asyncio.Lock]) -> None:
        self.ctx = ctx
        self.ops = ops
        self.spawn = spawn
        self.locks = locks
        self.groups = make_groups(ctx)
        self.recreations = 0
        self._ids = itertools.count(4_100_000_000_000_000_001)

    def routes(self, prefix: str) -> list[Route]:
        """Routes under ``/compute/v1/projects/{project}``, with the permission each needs."""
        base = prefix + "/zones/{zone}/instanceGroupManagers"
        perm = "compute.instanceGroupManagers."
        return [
            Route("GET", base, self.list, perm + "list"),
            Route("GET", prefix + "/aggregated/instanceGroupManagers", self.aggregated, perm + "list"),
            Route("GET", base + "/{name}", self.get, perm + "get"),
            Route("PATCH", base + "/{name}", self.patch, perm + "update"),
            Route("POST", base + "/{name}/listManagedInstances", self.list_managed_instances, perm + "get", trim=1),
            Route("GET", prefix + "/zones/{zone}/instanceGroups/{name}", self.get_group, "compute.instanceGroups.get"),
        ]

    # -- resources ----------------------------------------------------------------------------------

    @property
    def _project(self) -> str:
        return self.ctx.config.project

    def group(self, zone: str, name: str, collection: str = "instanceGroupManagers") -> Group:
        """The MIG ``name`` in ``zone``, or the API's 404."""
        group = self.groups.get(name)
        if group is None or group.zone != zone:
            raise GoogleError(404, f"The resource 'projects/{self._project}/zones/{zone}/{collection}/{name}' "
                              "was not found")
        return group

    def _check_zone(self, zone: str) -> None:
        if zone not in self.ctx.config.zone_names:
            raise GoogleError(404, f"The resource 'projects/{self._project}/zones/{zone}' was not found")

    def _self_link(self, group: Group, collection: str = "instanceGroupManagers") -> str:
        return f"{zone_url(self._project, group.zone)}/{collection}/{group.name}"

    def _actions(self, group: Group) -> dict[str, int]:
        names = ("abandoning", "creating", "creatingWithoutRetries", "deleting", "none", "recreating",
                 "refreshing", "restarting", "resuming", "starting", "stopping", "suspending", "verifying")
        counts = dict.fromkeys(names, 0)
        for m in group.members.values():
            counts["recreating" if m.action == "RECREATING" else "none"] += 1
        return counts

    def resource(self, group: Group) -> dict[str, Any]:
        """The instanceGroupManager resource as the real API returns it (empty lists left out)."""
        actions = self._actions(group)
        body: dict[str, Any] = {
            "kind": "compute#instanceGroupManager", "id": str(group.id), "name": group.name,
            "creationTimestamp": "2026-01-01T00:00:00.000-07:00",
            "zone": zone_url(self._project, group.zone), "selfLink": self._self_link(group),
            "instanceGroup": self._self_link(group, "instanceGroups"),
            "baseInstanceName": group.name.removesuffix("-grp"),
            "targetSize": len(group.members), "currentActions": actions,
            "status": {"isStable": actions["recreating"] == 0, "versionTarget": {"isReached": True},
                       "stateful": {"hasStatefulConfig": False,
                                    "perInstanceConfigs": {"allEffective": True}}},
            **copy.deepcopy(group.spec),
            "fingerprint": group.fingerprint,
        }
        return {k: v for k, v in body.items() if v != []}

    def _managed_instance(self, group: Group, member: Member) -> dict[str, Any]:
        vm = self.ctx.vms[member.name]
        return {"instance": instance_url(self._project, vm), "id": str(vm.id), "name": vm.name,
                "instanceStatus": vm.status, "currentAction": member.action,
                "version": {"instanceTemplate": group.spec.get("instanceTemplate", "")}}

    # -- handlers -----------------------------------------------------------------------------------

    async def list(self, request: web.Request) -> web.Response:
        """instanceGroupManagers.list"""
        zone = request.match_info["zone"]
        self._check_zone(zone)
        items = [self.resource(g) for g in self.groups.values() if g.zone == zone]
        items = [i for i in items if matches_filter(i, request.query.get("filter"))]
        return web.json_response({
            "kind": "compute#instanceGroupManagerList", "id": f"projects/{self._project}/zones/{zone}/instanceGroupManagers",
            "items": items, "selfLink": f"{zone_url(self._project, zone)}/instanceGroupManagers",
        })

    async def aggregated(self, request: web.Request) -> web.Response:
        """instanceGroupManagers.aggregatedList (every zone has its MIG)."""
        items: dict[str, Any] = {}
        for zone in self.ctx.config.zone_names:
            found = [self.resource(g) for g in self.groups.values() if g.zone == zone]
            items[f"zones/{zone}"] = {"instanceGroupManagers": [
                i for i in found if matches_filter(i, request.query.get("filter"))]}
        return web.json_response({
            "kind": "compute#instanceGroupManagerAggregatedList",
            "id": f"projects/{self._project}/aggregated/instanceGroupManagers", "items": items,
            "selfLink": f"{API_ROOT}/projects/{self._project}/aggregated/instanceGroupManagers",
        })

    async def get(self, request: web.Request) -> web.Response:
        """instanceGroupManagers.get"""
        return web.json_response(self.resource(self.group(request.match_info["zone"], request.match_info["name"])))

    async def patch(self, request: web.Request) -> web.Response:
        """instanceGroupManagers.patch (see the module docstring)."""
        group = self.group(request.match_info["zone"], request.match_info["name"])
        body = await request.json()
        if not isinstance(body, dict):
            raise GoogleError(400, "Invalid JSON payload received. Expected an object.", "parseError")
        if body.get("fingerprint") not in (None, group.fingerprint):
            raise GoogleError(412, "Supplied fingerprint does not match current fingerprint.", "conditionNotMet")
        spec = merge_patch(group.spec, {k: v for k, v in body.items() if k in _PATCHABLE})
        _validate(spec, len(group.members))
        spec.pop("targetSize", None)  # always the member count
        was_on = group.repair_on
        group.spec, group.generation = spec, group.generation + 1
        self.ctx.truth.record("mig.patched", name=group.name, zone=group.zone, repair=group.repair_on)
        if was_on and not group.repair_on:
            self._cancel_waiting(group)
        elif group.repair_on and not was_on:
            for member in group.members.values():
                self.vm_stopped(self.ctx.vms[member.name])
        op = self.ops.new(self._project, "patch", self._self_link(group), str(group.id), group.zone)
        op.finish()
        return web.json_response(op.to_json())

    async def list_managed_instances(self, request: web.Request) -> web.Response:
        """instanceGroupManagers.listManagedInstances (``filter`` supported; one page)."""
        group = self.group(request.match_info["zone"], request.match_info["name"])
        items = [self._managed_instance(group, m) for m in group.members.values()]
        items = [i for i in items if matches_filter(i, request.query.get("filter"))]
        return web.json_response({"managedInstances": items} if items else {})

    async def get_group(self, request: web.Request) -> web.Response:
        """instanceGroups.get: the MIG's instance group."""
        group = self.group(request.match_info["zone"], request.match_info["name"], "instanceGroups")
        return web.json_response({
            "kind": "compute#instanceGroup", "id": str(group.id + 1_000), "name": group.name,
            "creationTimestamp": "2026-01-01T00:00:00.000-07:00",
            "description": "This instance group is controlled by Instance Group Manager "
                           f"'{group.name}'. To modify instances in this group, use the Instance Group Manager API: "
                           "https://cloud.google.com/compute/docs/reference/latest/instanceGroupManagers",
            "zone": zone_url(self._project, group.zone), "selfLink": self._self_link(group, "instanceGroups"),
            "network": network_url(self._project, self.ctx.config.node_network),
            "size": len(group.members), "fingerprint": fingerprint(sorted(group.members)),
        })

    # -- repair -------------------------------------------------------------------------------------

    def group_of(self, vm: Vm) -> Group | None:
        """The MIG ``vm`` belongs to, if any."""
        return next((g for g in self.groups.values() if vm.name in g.members and g.zone == vm.zone), None)

    def vm_stopped(self, vm: Vm) -> None:
        """Called when ``vm`` is found stopped: schedule its recreation if its MIG repairs."""
        group = self.group_of(vm)
        if group is None or not group.repair_on or vm.status not in _STOPPED:
            return
        member = group.members[vm.name]
        if member.pending is None:
            member.action, member.waiting = "RECREATING", True
            member.pending = self.spawn(self._repair(group, member, vm))

    def _cancel_waiting(self, group: Group) -> None:
        for member in group.members.values():
            if member.pending is not None and member.waiting:
                member.pending.cancel()
                member.pending, member.action, member.waiting = None, "NONE", False
                self.ctx.truth.record("mig.repair_cancelled", name=member.name, mig=group.name, zone=group.zone)

    async def _repair(self, group: Group, member: Member, vm: Vm) -> None:
        try:
            await asyncio.sleep(self.ctx.config.timings.mig_repair_delay)
            member.waiting = False
            async with self.locks.setdefault(vm.name, asyncio.Lock()):
                if group.repair_on and vm.status in _STOPPED:
                    await self._recreate(group, member, vm)
        finally:
            if member.pending is asyncio.current_task():
                member.pending, member.action, member.waiting = None, "NONE", False

    async def _recreate(self, group: Group, member: Member, vm: Vm) -> None:
        old_id, half = vm.id, self.ctx.config.timings.vm_stop_delay / 2
        vm.id, vm.creation_timestamp, vm.status = next(self._ids), now_rfc3339(), "PROVISIONING"
        vm.tags, vm.tags_fingerprint = list(member.tags), member.tags_fingerprint
        vm.labels, vm.metadata = dict(member.labels), dict(member.metadata)
        self.ctx.truth.record("vm.recreating", name=vm.name, zone=vm.zone, mig=group.name, old_id=str(old_id),
                              id=str(vm.id))
        await asyncio.sleep(half)
        vm.status = "STAGING"
        await asyncio.sleep(half)
        vm.status = "RUNNING"
        self.recreations += 1
        self.ctx.truth.record("vm.recreated", name=vm.name, zone=vm.zone, mig=group.name, old_id=str(old_id),
                              id=str(vm.id))

    def health(self) -> dict[str, Any]:
        """Per MIG: repair on or off and the members being recreated; the recreations so far."""
        migs = {g.name: {"repair": g.repair_on,
                         "recreating": [m.name for m in g.members.values() if m.action == "RECREATING"]}
                for g in self.groups.values()}
        return {"migs": migs, "recreations": self.recreations}


def _validate(spec: dict[str, Any], size: int) -> None:
    for (parent, key), allowed in _ENUMS.items():
        value = (spec.get(parent) or {}).get(key)
        if value is not None and value not in allowed:
            raise GoogleError(400, f"Invalid value for field 'resource.{parent}.{key}': '{value}'. "
                              f"Must be one of {list(allowed)}.")
    for policy in spec.get("autoHealingPolicies") or []:
        delay = policy.get("initialDelaySec", 0) if isinstance(policy, dict) else None
        if not isinstance(delay, int) or not 0 <= delay <= 3600:
            raise GoogleError(400, "Invalid value for field 'resource.autoHealingPolicies[0].initialDelaySec': "
                              f"'{delay}'. Must be between 0 and 3600.")
    if spec.get("targetSize", size) != size:
        raise GoogleError(400, "Invalid value for field 'resource.targetSize': the sandbox's node-pool MIGs "
                          f"cannot be resized (size {size}).")
