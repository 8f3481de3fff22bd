"""The zone-loss preflight's pure prediction, on hand-built node/pod/deployment/PDB dicts."""

from __future__ import annotations

from typing import Any

from harness.faults.preflight import cpu_millis, memory_bytes, predict_zone_loss

Obj = dict[str, Any]
ZONES = ["europe-west1-b", "europe-west1-c", "europe-west1-d"]


def node(name: str, zone: str, cpu: str = "2000m", mem: str = "4Gi", ready: bool = True,
         cordoned: bool = False) -> Obj:
    return {"metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
            "spec": {"unschedulable": cordoned} if cordoned else {},
            "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def pod(name: str, app: str, node_name: str, cpu: str = "500m", mem: str = "256Mi", ns: str = "shop",
        owner: str | None = "ReplicaSet", ready: bool = True) -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "labels": {"app": app}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": f"{app}-rs", "controller": True}]
    return {"metadata": meta,
            "spec": {"nodeName": node_name,
                     "containers": [{"name": app, "resources": {"requests": {"cpu": cpu, "memory": mem}}}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def deployment(name: str, replicas: int, ns: str = "shop") -> Obj:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}}}


def pdb(app: str, min_available: int | None = None, max_unavailable: int | None = None,
        allowed: int | None = None) -> Obj:
    spec: Obj = {"selector": {"matchLabels": {"app": app}}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    body: Obj = {"metadata": {"name": app, "namespace": "shop"}, "spec": spec}
    if allowed is not None:
        body["status"] = {"disruptionsAllowed": allowed}
    return body


def three_zones(cpu: str = "2000m") -> list[Obj]:
    return [node(f"n-{z[-1]}", z, cpu) for z in ZONES]


def test_quantities() -> None:
    assert cpu_millis("500m") == 500 and cpu_millis("2") == 2000 and cpu_millis(0.25) == 250
    assert memory_bytes("256Mi") == 256 * 2**20 and memory_bytes("1Gi") == 2**30 and memory_bytes("1000") == 1000
    assert memory_bytes("1k") == 1000 and cpu_millis(None) == 0


def test_roomy_cluster_passes_and_counts_what_is_hit() -> None:
    nodes = three_zones()
    pods = [pod(f"web-{z}", "web", f"n-{z}") for z in "bcd"] + [
        pod("log-b", "log", "n-b", owner="DaemonSet"), pod("other-b", "x", "n-b", ns="kube-system")]
    impact = predict_zone_loss(ZONES[0], nodes, pods, [deployment("web", 3)], [], ["shop"])
    assert impact.nodes == ["n-b"] and impact.vms == ["n-b"]
    assert impact.pods == ["shop/web-b"]  # neither the DaemonSet pod nor other namespaces
    assert impact.capacity is not None and impact.capacity.ok and impact.capacity.moving == 1
    assert impact.capacity.cpu_needed_m == 500 and impact.capacity.cpu_free_m == 3000
    assert impact.capacity_refusal() is None and impact.lose_all == [] and impact.lose_majority == []
    assert impact.blast()["pods"] == 1
    assert any("capacity OK" in n for n in impact.notes())


def test_full_cluster_fails_capacity_and_names_the_pods() -> None:
    nodes = three_zones(cpu="1000m")
    pods = [pod(f"{app}-{z}", app, f"n-{z}", cpu="400m") for app in ("a", "b") for z in "bcd"]
    impact = predict_zone_loss(ZONES[0], nodes, pods, [deployment("a", 3), deployment("b", 3)], [], ["shop"])
    assert impact.capacity is not None and not impact.capacity.ok
    assert sorted(impact.capacity.unplaced) == ["shop/a-b", "shop/b-b"]
    reason = impact.capacity_refusal()
    assert reason is not None and "cannot schedule 2 of the 2 pods" in reason
    assert any(n.startswith("WARNING capacity") for n in impact.notes())


def test_capacity_counts_per_node_not_just_totals() -> None:
    # 600m free in total elsewhere, but split 300m + 300m: a 500m pod fits nowhere
    nodes = [node("n-b", ZONES[0], "1000m"), node("n-c", ZONES[1], "1000m"), node("n-d", ZONES[2], "1000m")]
    pods = [pod("big-b", "big", "n-b", cpu="500m"), pod("f-c", "f", "n-c", cpu="700m"),
            pod("f-d", "f", "n-d", cpu="700m")]
    impact = predict_zone_loss(ZONES[0], nodes, pods, [], [], ["shop"])
    assert impact.capacity is not None and impact.capacity.cpu_free_m == 600
    assert impact.capacity.unplaced == ["shop/big-b"]


def test_cordoned_and_notready_nodes_do_not_count_as_room() -> None:
    nodes = [node("n-b", ZONES[0]), node("n-c", ZONES[1], cordoned=True), node("n-d", ZONES[2], ready=False)]
    impact = predict_zone_loss(ZONES[0], nodes, [pod("w-b", "w", "n-b")], [], [], ["shop"])
    assert impact.capacity is not None and not impact.capacity.ok and impact.capacity.cpu_free_m == 0


def test_spread_predicts_deployments_losing_all_or_most_replicas() -> None:
    nodes = three_zones("8000m")
    pods = ([pod(f"solo-{i}", "solo", "n-b") for i in range(2)]
            + [pod("most-0", "most", "n-b"), pod("most-1", "most", "n-b"), pod("most-2", "most", "n-c")]
            + [pod(f"even-{z}", "even", f"n-{z}") for z in "bcd"]
            + [pod("half-b", "half", "n-b"), pod("half-c", "half", "n-c")])
    deps = [deployment(n, r) for n, r in (("solo", 2), ("most", 3), ("even", 3), ("half", 2))]
    impact = predict_zone_loss(ZONES[0], nodes, pods, deps, [], ["shop"])
    assert impact.lose_all == ["shop/solo"]
    assert impact.lose_majority == ["shop/most"]
    assert impact.blast()["lose_all"] == ["shop/solo"]
    assert any("shop/solo" in n and n.startswith("WARNING") for n in impact.notes())


def test_unready_replicas_do_not_count_in_spread() -> None:
    nodes = three_zones()
    pods = [pod("w-b", "w", "n-b"), pod("w-c", "w", "n-c", ready=False)]
    impact = predict_zone_loss(ZONES[0], nodes, pods, [deployment("w", 2)], [], ["shop"])
    assert impact.lose_all == ["shop/w"]


def test_pdbs_that_stall_the_drain() -> None:
    nodes = three_zones("8000m")
    pods = ([pod(f"co-{i}", "co", "n-b") for i in range(2)] + [pod("co-c", "co", "n-c")]
            + [pod(f"fixed-{z}", "fixed", f"n-{z}") for z in "bc"]
            + [pod(f"ok-{z}", "ok", f"n-{z}") for z in "bcd"])
    pdbs = [pdb("co", min_available=2), pdb("fixed", min_available=2), pdb("ok", max_unavailable=1)]
    impact = predict_zone_loss(ZONES[0], nodes, pods, [], pdbs, ["shop"])
    blocks = {b.name: b for b in impact.pdb_blocks}
    assert set(blocks) == {"shop/co", "shop/fixed"}  # ok: 1 pod in the zone, 1 disruption allowed
    assert blocks["shop/co"].allowed == 1 and blocks["shop/co"].rounds == 1
    assert blocks["shop/fixed"].allowed == 0 and blocks["shop/fixed"].rounds is None
    notes = impact.notes(eviction_deadline=60)
    assert any("shop/fixed" in n and "until the eviction deadline (60s)" in n for n in notes)


def test_pdb_status_wins_over_spec() -> None:
    nodes = three_zones()
    pods = [pod(f"w-{z}", "w", f"n-{z}") for z in "bcd"]
    impact = predict_zone_loss(ZONES[0], nodes, pods, [], [pdb("w", min_available=1, allowed=0)], ["shop"])
    assert [b.name for b in impact.pdb_blocks] == ["shop/w"]


def test_network_outage_predicts_spread_but_no_moves() -> None:
    nodes = three_zones()
    pods = [pod("solo", "solo", "n-b")]
    impact = predict_zone_loss(ZONES[0], nodes, pods, [deployment("solo", 1)], [pdb("solo", min_available=1)],
                               ["shop"], vms=["vm-b"], pods_move=False)
    assert impact.capacity is None and impact.pdb_blocks == [] and impact.lose_all == ["shop/solo"]
    assert impact.vms == ["vm-b"] and impact.capacity_refusal() is None


def test_unmanaged_pods_are_named() -> None:
    impact = predict_zone_loss(ZONES[0], three_zones(), [pod("bare", "bare", "n-b", owner=None)], [], [], ["shop"])
    assert impact.unmanaged == ["shop/bare"] and impact.capacity is not None and impact.capacity.moving == 0
    assert any("without a controller" in n for n in impact.notes())
