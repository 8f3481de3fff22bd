"""What ``zone-outage`` must handle in Compute Engine beyond the VMs themselves.

**Managed instance groups.** GKE node VMs belong to a MIG per zone and node pool. A MIG whose repair is on
(``instanceLifecyclePolicy.defaultActionOnFailure: REPAIR``, the API's default) recreates a VM someone else
stopped, and a health-check ``autoHealingPolicies`` entry acts through the same action. ``DO_NOTHING``
switches both off, so the outage sets that one field for the zone's MIGs before stopping their VMs, after
journaling the group's repair settings as read; the revert starts the VMs first, then writes the settings
back and checks they read back the same.

**Networks.** Firewall rules belong to a network, and on a Shared VPC to the host project's. The rules go on
the network the target names (``network``, ``host_project``), or, when it names none, on the one network the
VMs' interfaces are on; a VM on another network refuses the plan (a rule there would not cut it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import PermanentClientError

from .base import FaultEnv
from .ports import Vm
from .undo import RestoreMigRepair
from .zones_support import call

Obj = dict[str, Any]

REPAIR_FIELDS = ("autoHealingPolicies", "instanceLifecyclePolicy")
"""The fields of a managed instance group that decide whether it recreates a VM stopped behind its back."""

REPAIR_OFF: Obj = {"instanceLifecyclePolicy": {"defaultActionOnFailure": "DO_NOTHING"}}
"""The PATCH that switches a group's repair off."""


def repair_settings(mig: Obj) -> Obj:
    """The repair settings of a group, as the API returned them."""
    return {k: mig[k] for k in REPAIR_FIELDS if k in mig}


def repairs(settings: Obj) -> bool:
    """Whether a group with these settings recreates a stopped VM (REPAIR is the API's default)."""
    action = (settings.get("instanceLifecyclePolicy") or {}).get("defaultActionOnFailure", "REPAIR")
    return bool(action != "DO_NOTHING")


def describe_repair(settings: Obj) -> str:
    """One line: the action and the health checks of a group's repair."""
    action = (settings.get("instanceLifecyclePolicy") or {}).get("defaultActionOnFailure", "REPAIR (default)")
    checks = [str(p.get("healthCheck", "")).rsplit("/", 1)[-1] for p in settings.get("autoHealingPolicies") or []]
    return f"defaultActionOnFailure {action}" + (f", autohealing health check(s) {', '.join(checks)}" if checks else "")


@dataclass(frozen=True)
class ZoneMig:
    """A managed instance group of the zone managing some of the fault's VMs."""

    name: str
    settings: Obj
    members: list[str]


async def zone_migs(env: FaultEnv, zone: str, vm_names: Sequence[str], deadline: float) -> list[ZoneMig]:
    """The managed instance groups of ``zone`` that manage any of ``vm_names``."""
    compute = env.need_compute()
    wanted = set(vm_names)
    out = []
    for mig in await call(env, f"list instance group managers in {zone}", compute.list_migs, zone, deadline=deadline):
        members = await call(env, f"list managed instances of {mig['name']}", compute.managed_instances, zone,
                             mig["name"], deadline=deadline)
        mine = sorted(wanted.intersection(members))
        if mine:
            out.append(ZoneMig(mig["name"], repair_settings(mig), mine))
    return sorted(out, key=lambda m: m.name)


def restore_body(settings: Obj) -> Obj:
    """The PATCH that writes journaled repair settings back (the action the fault changed, and the health
    checks as they were)."""
    body: Obj = {"instanceLifecyclePolicy": settings.get("instanceLifecyclePolicy")
                 or {"defaultActionOnFailure": "REPAIR"}}
    if settings.get("autoHealingPolicies"):
        body["autoHealingPolicies"] = settings["autoHealingPolicies"]
    return body


async def restore_mig(env: FaultEnv, rec: RestoreMigRepair) -> None:
    """Undo of ``RestoreMigRepair``: PATCH the settings back and check they read back as journaled."""
    compute = env.need_compute()
    try:
        await call(env, f"get instance group manager {rec.mig}", compute.get_mig, rec.zone, rec.mig)
    except PermanentClientError as exc:
        if exc.status == 404:
            return
        raise
    await call(env, f"restore repair of {rec.mig}", compute.patch_mig, rec.zone, rec.mig, restore_body(rec.settings),
               rec.deadline, deadline=rec.deadline)
    now = repair_settings(await call(env, f"get instance group manager {rec.mig}", compute.get_mig, rec.zone, rec.mig))
    if now != rec.settings:
        raise PermanentClientError(f"the repair settings of {rec.mig} read back as {now}, not as journaled "
                                   f"{rec.settings}")


# -- networks ----------------------------------------------------------------------------------------
def network_path(url: str) -> str:
    """``projects/P/global/networks/N`` of a network URL or path (a bare name stays a bare name)."""
    marker = url.find("projects/")
    return url[marker:] if marker >= 0 else url


@dataclass(frozen=True)
class RuleNetwork:
    """Where the network outage's firewall rules go: ``path`` (none: the API's default network) in ``project``
    (none: the target's project), or why they cannot go anywhere (``refusal``)."""

    path: str | None = None
    project: str | None = None
    refusal: str | None = None


def rule_network(env: FaultEnv, vms: Sequence[Vm]) -> RuleNetwork:
    """The network the rules must be on for ``vms``, checked against every VM's interface."""
    on = {network_path(vm.network) for vm in vms if vm.network}
    if env.network:
        name = env.network
        want = network_path(name) if "/" in name else f"projects/{env.network_project or env.project}/global/networks/{name}"
        wrong = [f"{vm.name} ({network_path(vm.network)})" for vm in vms if vm.network and network_path(vm.network) != want]
        if wrong:
            return RuleNetwork(refusal=(
                f"zone-outage: the target's network is {want}, but VM(s) {', '.join(wrong)} are not on it: rules "
                "there would not cut them (set the target's `network`, and `host_project` on a Shared VPC, to the "
                "VMs' network)"))
    elif len(on) > 1:
        return RuleNetwork(refusal=f"zone-outage: the VMs are on several networks ({', '.join(sorted(on))}): name the "
                                   "one to cut in the target's `network`")
    elif on:
        want = on.pop()
    else:
        return RuleNetwork()
    parts = want.split("/")
    return RuleNetwork(path=want, project=parts[1] if len(parts) > 1 and parts[0] == "projects" else None)
