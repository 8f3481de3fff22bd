"""Zone faults against a miniature sandbox (Kubernetes + Compute APIs + controller, virtual pods), the
Compute client against the sandbox's Compute API, and the sandbox's firewall enforcement."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.errors import PermanentClientError, TransientClientError
from harness.faults.base import fault_class
from harness.faults.undo import read_undo
from harness.journal import pending_faults, read_journal
from harness.sandbox.compute.model import network_url
from harness.sandbox.core import apifaults
from harness.sandbox.network.netpolicy import install, pid_owning, socket_inodes
from harness.sandbox.network.toxiproxy import Toxiproxy
from tests.zone_mini import ZONE_B, ZONE_C, ZONE_D, Mini, lifecycle, mini_config, vsvc, wait_for

NODE_B0, NODE_B1 = "gke-shop-default-pool-b-0", "gke-shop-default-pool-b-1"


def fault(kind: str, env: Any, fid: str | None = None, **params: Any) -> Any:
    model = fault_class(kind).Params
    return fault_class(kind)(fid or f"{kind}-0", model.model_validate(params), env)


@pytest.fixture
def mini(tmp_path: Path) -> Iterator[Mini]:
    m = Mini(tmp_path, mini_config())
    try:
        yield m
    finally:
        m.close()


def _node_ready(mini: Mini, name: str) -> bool:
    conds = mini.kube.get_node(name)["status"]["conditions"]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


# -- the Compute client ------------------------------------------------------------------------------
def test_compute_client_instances_tags_firewalls_and_errors(mini: Mini) -> None:
    c = mini.compute
    names = [vm.name for vm in c.list_instances(ZONE_B)]
    assert names == [NODE_B0, NODE_B1]
    assert [vm.name for vm in c.list_instances(ZONE_B, f"name = {NODE_B1}")] == [NODE_B1]
    assert [vm.name for vm in c.list_instances(ZONE_C, "labels.goog-k8s-cluster-name = shop")][0].endswith("c-0")
    assert set(c.aggregated_instances()) == {ZONE_B, ZONE_C, ZONE_D}
    vm = c.get_instance(ZONE_B, NODE_B0)
    assert vm is not None and vm.status == "RUNNING" and vm.created_by.endswith("default-pool-b-grp")
    assert c.get_instance(ZONE_B, "nope") is None
    c.stop(ZONE_B, NODE_B0, deadline=20)
    assert mini.ctx.vms[NODE_B0].status == "TERMINATED"
    c.start(ZONE_B, NODE_B0, deadline=20)
    assert mini.ctx.vms[NODE_B0].status == "RUNNING"
    c.set_tags(ZONE_B, NODE_B0, [*vm.tags, "x"], vm.tags_fingerprint)
    with pytest.raises(PermanentClientError) as stale:
        c.set_tags(ZONE_B, NODE_B0, [*vm.tags], vm.tags_fingerprint)
    assert stale.value.status == 412
    c.insert_deny_firewall("deny-x", "EGRESS", ["x"])
    assert [f["name"] for f in c.list_firewalls()] == ["deny-x"] and c.list_firewalls()[0]["denied"] == ["all"]
    assert mini.ctx.firewalls["deny-x"]["destinationRanges"] == ["0.0.0.0/0"]
    assert c.delete_firewall("deny-x") and not c.delete_firewall("deny-x")
    apifaults.configure(mini.ctx, {"rate": 1.0, "codes": [503]})
    with pytest.raises(TransientClientError):
        c.list_instances(ZONE_B)
    apifaults.clear(mini.ctx)


# -- zone-drain --------------------------------------------------------------------------------------
def test_drain_moves_pods_and_uncordons_only_what_it_cordoned(mini: Mini) -> None:
    mini.kube.set_unschedulable(NODE_B1, True)  # cordoned by someone else, beforehand
    env = mini.env()
    drain = fault("zone-drain", env, zone=ZONE_B, duration="6s", eviction_deadline="5s")
    plan = asyncio.run(drain.plan())
    assert plan.targets == [f"node/{NODE_B0}", f"node/{NODE_B1}"] and plan.refuse is None
    assert any("capacity OK" in n for n in plan.notes)

    def moved() -> None:
        wait_for(lambda: not mini.pods_in_zone(ZONE_B), 20, "zone b empty")
        assert mini.kube.get_node(NODE_B0)["spec"].get("unschedulable") is True

    asyncio.run(lifecycle(drain, 6, during=moved))
    assert not mini.kube.get_node(NODE_B0)["spec"].get("unschedulable")
    assert mini.kube.get_node(NODE_B1)["spec"].get("unschedulable") is True
    m = drain.measurements
    assert m["cordoned"] == [NODE_B0] and m["already_cordoned"] == [NODE_B1] and m["not_evicted"] == {}
    assert m["evicted"] >= 1 and m["deployments_ready_after_inject_s"] is not None
    undo = [e["undo"] for e in mini.events("fault.undo")]
    assert undo == [{"action": "uncordon", "node": NODE_B0}]
    wait_for(mini.all_ready, 20, "all ready")
    wait_for(lambda: mini.events("fault.measured"), 10, "final measurement")
    mini.kube.set_unschedulable(NODE_B1, False)


def test_drain_names_pods_a_pdb_never_lets_go(tmp_path: Path) -> None:
    m = Mini(tmp_path, mini_config([vsvc("locked", 3, pdb=3), vsvc("free", 3)]))
    try:
        drain = fault("zone-drain", m.env(), zone=ZONE_C, duration="3s", eviction_deadline="1.5s")
        plan = asyncio.run(drain.plan())
        assert any("PDB shop/locked" in n and "stalls until the eviction deadline" in n for n in plan.notes)
        asyncio.run(lifecycle(drain, 3))
        locked_in_c = [p for p in drain.measurements["not_evicted"] if p.startswith("shop/locked")]
        assert locked_in_c and all(k.startswith("shop/locked") for k in drain.measurements["not_evicted"])
        assert any(e["what"].startswith("evict pod shop/locked") for e in m.events("retry"))
        assert not any(n["spec"].get("unschedulable") for n in m.kube.list_nodes())
    finally:
        m.close()


# -- zone-outage: stop-instances ---------------------------------------------------------------------
def test_stop_instances_restops_a_restarted_vm_and_restarts_all(mini: Mini) -> None:
    outage = fault("zone-outage", mini.env(), zone=ZONE_C, duration="8s", recheck_every="0.3s")
    plan = asyncio.run(outage.plan())
    assert len(plan.targets) == 3 and plan.blast["vms"] == 2  # two VMs and their MIG
    node_c0 = "gke-shop-default-pool-c-0"

    def during() -> None:
        wait_for(lambda: not _node_ready(mini, node_c0), 15, "node NotReady")
        wait_for(lambda: not mini.pods_in_zone(ZONE_C), 20, "pods rescheduled out of c")
        mini.compute.start(ZONE_C, node_c0, deadline=20)  # a managed instance group brings it back
        wait_for(lambda: node_c0 in outage.restopped, 10, "re-stopped")
        wait_for(lambda: mini.ctx.vms[node_c0].status == "TERMINATED", 10, "terminated again")

    asyncio.run(lifecycle(outage, 8, during=during))
    assert all(vm.status == "RUNNING" for vm in mini.ctx.vms.values())
    wait_for(lambda: all(_node_ready(mini, n) for n in mini.ctx.vms), 20, "nodes Ready")
    assert sorted(outage.measurements["stopped"]) == ["gke-shop-default-pool-c-0", "gke-shop-default-pool-c-1"]
    assert outage.measurements["deployments_ready_after_inject_s"] is not None
    assert outage.measurements["restopped"] == [node_c0]


# -- zone-outage: network ----------------------------------------------------------------------------
def test_network_outage_tags_blocks_and_reverts(mini: Mini) -> None:
    before = {n: list(vm.tags) for n, vm in mini.ctx.vms.items()}
    outage = fault("zone-outage", mini.env(), zone=ZONE_D, duration="2s", mode="network")
    policy = install(mini.ctx)  # no ingress/toxiproxy here: the policy object answers directly
    d_ips = [p["status"]["podIP"] for p in mini.kube.list_pods("shop")
             if p["spec"]["nodeName"].startswith("gke-shop-default-pool-d")]
    b_ips = [p["status"]["podIP"] for p in mini.kube.list_pods("shop")
             if p["spec"]["nodeName"].startswith("gke-shop-default-pool-b")]

    def during() -> None:
        assert len(mini.ctx.firewalls) == 2
        assert {r["direction"] for r in mini.ctx.firewalls.values()} == {"INGRESS", "EGRESS"}
        assert all(outage.tag in mini.ctx.vms[n].tags for n in mini.ctx.vms if "-d-" in n)
        assert all(policy.ingress_blocked(ip) for ip in d_ips)
        assert not any(policy.ingress_blocked(ip) for ip in b_ips)

    asyncio.run(lifecycle(outage, 2, during=during))
    assert mini.ctx.firewalls == {}
    assert {n: list(vm.tags) for n, vm in mini.ctx.vms.items()} == before
    assert not any(policy.ingress_blocked(ip) for ip in d_ips)


def test_rollback_from_the_journal_alone_is_idempotent(mini: Mini) -> None:
    before = {n: list(vm.tags) for n, vm in mini.ctx.vms.items()}
    outage = fault("zone-outage", mini.env(), zone=ZONE_D, duration="2s", mode="network", direction="ingress")
    asyncio.run(outage.plan())
    asyncio.run(outage.inject())  # ... and the harness "crashes" here
    assert len(mini.ctx.firewalls) == 1
    pending = pending_faults(read_journal(mini.tmp / "events.jsonl"))
    assert [p.kind for p in pending] == ["zone-outage"]
    cls = fault_class("zone-outage")
    for _ in range(2):
        asyncio.run(cls.undo(read_undo(pending[0].undo), mini.env()))
    assert mini.ctx.firewalls == {} and {n: list(vm.tags) for n, vm in mini.ctx.vms.items()} == before


# -- preflight against a sandbox without room --------------------------------------------------------
def test_capacity_preflight_refuses_and_predicts_lost_deployments(tmp_path: Path) -> None:
    # one 1000m node per zone, six 400m pods: two per node, no room to absorb a zone
    m = Mini(tmp_path, mini_config([vsvc("a", 3, cpu=400), vsvc("b", 3, cpu=400), vsvc("solo", 1, cpu=100)],
                                   nodes_per_zone=1, cpu=1000))
    try:
        solo = next(p for p in m.kube.list_pods("shop") if p["metadata"]["labels"]["app"] == "solo")
        zone = m.ctx.vms[solo["spec"]["nodeName"]].zone
        refused = asyncio.run(fault("zone-drain", m.env(require_capacity=True), zone=zone, duration="5s").plan())
        assert refused.refuse is not None and "capacity preflight" in refused.refuse
        drain = fault("zone-drain", m.env(), zone=zone, duration="4s", eviction_deadline="2s")
        plan = asyncio.run(drain.plan())
        assert plan.refuse is None and plan.blast["capacity_ok"] is False
        assert plan.blast["lose_all"] == ["shop/solo"]
        assert any(n.startswith("WARNING capacity") for n in plan.notes)
        asyncio.run(lifecycle(drain, 4))
        assert drain.measurements["pending_for_room_peak"] >= 1  # the prediction came true
        assert not any(n["spec"].get("unschedulable") for n in m.kube.list_nodes())
    finally:
        m.close()


# -- API faults --------------------------------------------------------------------------------------
def test_zone_faults_complete_under_api_faults_and_journal_retries(mini: Mini) -> None:
    apifaults.configure(mini.ctx, {"rate": 0.2, "codes": [429, 500, 503], "seed": 7})
    try:
        env = mini.env()
        asyncio.run(lifecycle(fault("zone-outage", env, "net", zone=ZONE_B, duration="1s", mode="network"), 1))
        asyncio.run(lifecycle(fault("zone-outage", env, "stop", zone=ZONE_C, duration="2s"), 2))
        asyncio.run(lifecycle(fault("zone-drain", env, "drain", zone=ZONE_D, duration="3s"), 3))
    finally:
        apifaults.clear(mini.ctx)
    assert mini.ctx.firewalls == {}
    assert all(vm.status == "RUNNING" for vm in mini.ctx.vms.values())
    assert not any(n["spec"].get("unschedulable") for n in mini.kube.list_nodes())
    retries = mini.events("retry")
    assert retries and any(str(code) in e["error"] or "Injected" in e["error"] for e in retries
                           for code in (429, 500, 503))


# -- the proxy side of the firewall enforcement ------------------------------------------------------
def test_source_port_maps_to_process_and_egress_rule(tmp_path: Path) -> None:
    m = Mini(tmp_path, mini_config([vsvc("web", 1)], nodes_per_zone=1))
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    try:
        port = client.getsockname()[1]
        assert socket_inodes(port) and pid_owning(socket_inodes(port), [os.getpid()]) == os.getpid()
        pod = m.kube.list_pods("shop")[0]
        m.ctx.components["controller"] = SimpleNamespace(pod_pids=lambda: {pod["metadata"]["name"]: os.getpid()})
        toxi = Toxiproxy()  # not started: only its hook is asked
        m.ctx.components["toxiproxy"] = toxi
        install(m.ctx)
        assert toxi.blocked_client is not None and not toxi.blocked_client("127.0.0.1", port)
        vm = m.ctx.vms[pod["spec"]["nodeName"]]
        vm.tags.append("cut")
        m.ctx.firewalls["cut-egress"] = {"name": "cut-egress", "direction": "EGRESS", "denied": [{"IPProtocol": "all"}],
                                         "targetTags": ["cut"], "network": network_url(m.ctx.config.project, vm.network)}
        assert toxi.blocked_client("127.0.0.1", port)
        vm.tags.remove("cut")
        assert not toxi.blocked_client("127.0.0.1", port)
    finally:
        client.close()
        server.close()
        m.close()
