"""zone-outage against managed instance groups and VPC networks (the miniature sandbox, real clients).

A MIG with repair on recreates a VM stopped behind its back; the outage switches repair off first and
writes the settings back, exactly, after starting the VMs (also from the journal alone). Network
outages put their rules on the VMs' network, and refuse when the target names another."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.faults.base import fault_class
from harness.faults.undo import read_undo
from harness.journal import pending_faults, read_journal
from tests.components.test_zone_faults import fault, mini  # noqa: F401 - the miniature's fixture
from tests.zone_mini import FAST, ZONE_C, ZONE_D, Mini, lifecycle, mini_config, wait_for

MIG_C = "gke-shop-default-pool-c-grp"
C_VMS = ["gke-shop-default-pool-c-0", "gke-shop-default-pool-c-1"]


@pytest.fixture
def repairing(tmp_path: Path) -> Iterator[Mini]:
    """The miniature with every MIG repairing (REPAIR plus an autohealing health check), 0.5 s repair delay."""
    config = mini_config().model_copy(update={"mig_repair": True,
                                              "timings": FAST.model_copy(update={"mig_repair_delay": 0.5})})
    m = Mini(tmp_path, config)
    try:
        yield m
    finally:
        m.close()


def _repair(m: Mini) -> dict[str, Any]:
    mig = m.compute.get_mig(ZONE_C, MIG_C)
    return {k: mig.get(k) for k in ("autoHealingPolicies", "instanceLifecyclePolicy")}


def _ids(m: Mini) -> dict[str, int]:
    return {n: m.ctx.vms[n].id for n in C_VMS}


def test_a_vm_stopped_behind_the_mig_is_recreated(repairing: Mini) -> None:
    before = _ids(repairing)
    repairing.compute.stop(ZONE_C, C_VMS[0], deadline=20)
    wait_for(lambda: repairing.ctx.vms[C_VMS[0]].id != before[C_VMS[0]]
             and repairing.ctx.vms[C_VMS[0]].status == "RUNNING", 15, "the MIG recreating the VM")


def test_stop_instances_switches_repair_off_and_restores_it_exactly(repairing: Mini) -> None:
    before, ids = _repair(repairing), _ids(repairing)
    assert before["instanceLifecyclePolicy"]["defaultActionOnFailure"] == "REPAIR" and before["autoHealingPolicies"]
    outage = fault("zone-outage", repairing.env(), zone=ZONE_C, duration="3s", recheck_every="0.3s")
    plan = asyncio.run(outage.plan())
    assert f"mig/{ZONE_C}/{MIG_C}" in plan.targets
    assert any(MIG_C in n and "repair switched off" in n for n in plan.notes)

    def during() -> None:
        wait_for(lambda: all(repairing.ctx.vms[n].status == "TERMINATED" for n in C_VMS), 10, "VMs stopped")
        assert _repair(repairing)["instanceLifecyclePolicy"]["defaultActionOnFailure"] == "DO_NOTHING"

    asyncio.run(lifecycle(outage, 3, during=during))
    assert _ids(repairing) == ids, "no VM was recreated: the zone stayed down"
    assert outage.measurements["restopped"] == []
    assert all(repairing.ctx.vms[n].status == "RUNNING" for n in C_VMS)
    assert _repair(repairing) == before
    assert [e["action"] for e in repairing.events("fault.action")][:2] == ["mig-repair-off", "stopped"]


def test_rollback_from_the_journal_restores_the_mig_after_starting_the_vms(repairing: Mini) -> None:
    before, ids = _repair(repairing), _ids(repairing)
    outage = fault("zone-outage", repairing.env(), zone=ZONE_C, duration="30s")
    asyncio.run(outage.plan())
    asyncio.run(outage.inject())  # ... and the harness is killed here
    assert all(repairing.ctx.vms[n].status == "TERMINATED" for n in C_VMS)
    pending = pending_faults(read_journal(repairing.tmp / "events.jsonl"))
    records = read_undo(pending[0].undo)
    assert [r.action for r in records][0] == "restore-mig-repair"  # journaled before anything changed
    for _ in range(2):  # idempotent
        asyncio.run(fault_class("zone-outage").undo(records, repairing.env()))
    assert all(repairing.ctx.vms[n].status == "RUNNING" for n in C_VMS)
    assert _repair(repairing) == before and _ids(repairing) == ids


# -- networks ----------------------------------------------------------------------------------------
def test_network_outage_rules_go_on_the_vms_network(mini: Mini) -> None:  # noqa: F811
    outage = fault("zone-outage", mini.env(network="shop-vpc"), zone=ZONE_D, duration="1s", mode="network")

    def during() -> None:
        rules = list(mini.ctx.firewalls.values())
        assert len(rules) == 2 and all(r["network"].endswith("/projects/sandbox-project/global/networks/shop-vpc")
                                       for r in rules)

    asyncio.run(lifecycle(outage, 1, during=during))
    assert mini.ctx.firewalls == {}


@pytest.mark.parametrize(("env", "expected"), [
    ({"network": "default"}, "not on it"),
    ({"network": "shop-vpc", "network_project": "shared-vpc-host"}, "projects/shared-vpc-host/global/networks/shop-vpc"),
])
def test_network_outage_refuses_a_network_the_vms_are_not_on(mini: Mini, env: dict[str, str], expected: str) -> None:  # noqa: F811
    outage = fault("zone-outage", mini.env(**env), zone=ZONE_D, duration="1s", mode="network")
    plan = asyncio.run(outage.plan())
    assert plan.refuse is not None and expected in plan.refuse and "shop-vpc" in plan.refuse
    assert mini.ctx.firewalls == {}


def test_the_api_refuses_a_rule_on_a_network_that_does_not_exist(mini: Mini) -> None:  # noqa: F811
    from harness.errors import PermanentClientError

    with pytest.raises(PermanentClientError) as err:
        mini.compute.insert_deny_firewall("deny-x", "INGRESS", ["x"], network="projects/sandbox-project/global/networks/nope")
    assert err.value.status == 404 and "networks/nope" in str(err.value)
    assert mini.ctx.firewalls == {}
