"""Zone faults end to end: `harness run` against the session sandbox (drain, stop-instances, network)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.journal import read_journal
from tests.zone_mini import ZONE_B, ZONE_C, ZONE_D, wait_for

NODE_B0, NODE_B1 = "gke-shop-default-pool-b-0", "gke-shop-default-pool-b-1"

# == end to end, through `harness run` against the session sandbox ===================================
E2E_LOAD = """
load: {users: 6, spawn_rate: 6, think_time: 0.2s..0.6s, workers: 1}
slos:
  - {name: availability, sli: load.success_ratio, objective: ">= 50%"}
"""


NO_LOAD_SLO = """
slos: [{name: recovery, sli: recovery_time, objective: "<= 60s"}]
"""


def _zone_experiment(fault_yaml: str, baseline: str = "3s", recovery: str = "6s", load: bool = True) -> str:
    return (E2E_LOAD if load else NO_LOAD_SLO) + f"""
steady_state: {{before: false, after: false}}
timeline:
  baseline: {baseline}
  faults:
    - at: 0s
      name: zone
      {fault_yaml}
  recovery: {recovery}
safety:
  allowed_namespaces: [shop]
"""


def _run_events(workspace: Any) -> list[dict[str, Any]]:
    return read_journal(workspace.run_dirs()[-1] / "events.jsonl")


def _wait_injected(workspace: Any, timeout: float = 60) -> None:
    wait_for(lambda: workspace.run_dirs() and (workspace.run_dirs()[-1] / "events.jsonl").exists()
             and '"fault.injected"' in (workspace.run_dirs()[-1] / "events.jsonl").read_text(), timeout, "injection")


def _cluster_clean(sandbox: Any) -> None:
    """Nothing cordoned, stopped, tagged or blocked; every node Ready and every deployment whole."""
    kube = sandbox.kube()
    try:
        nodes = kube.list_nodes()
        assert not [n["metadata"]["name"] for n in nodes if n["spec"].get("unschedulable")]
        wait_for(lambda: all(any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
                             for n in kube.list_nodes()), 40, "nodes Ready")
    finally:
        kube.close()
    from harness.clients.compute import ComputeClient

    c = ComputeClient(sandbox.endpoints["project"], sandbox.endpoints["compute"])
    try:
        assert [f for f in c.list_firewalls() if f["name"].startswith("chaos-")] == []
        for zone, vms in c.aggregated_instances().items():
            assert all(vm.status == "RUNNING" for vm in vms), zone
            assert not [t for vm in vms for t in vm.tags if t.startswith("chaos-")]
            for mig in c.list_migs(zone):  # the session sandbox's MIGs repair, as GKE's: left as found
                assert mig["instanceLifecyclePolicy"]["defaultActionOnFailure"] == "REPAIR", mig["name"]
                assert mig.get("autoHealingPolicies"), mig["name"]
    finally:
        c.close()
    sandbox.wait_deployments_ready(timeout=60)


@pytest.mark.e2e
def test_e2e_drain_zone_b_under_load(workspace: Any, sandbox: Any) -> None:
    sandbox.spread()
    kube = sandbox.kube()
    kube.set_unschedulable(NODE_B1, True)  # cordoned beforehand: must stay cordoned
    try:
        exp = workspace.experiment("drain-b", _zone_experiment(
            f"zone-drain: {{zone: {ZONE_B}, duration: 10s, eviction_deadline: 8s}}"))
        proc = workspace.harness("run", str(exp))
        run = workspace.last_run()
        assert proc.returncode == run["exit_code"] and run["status"] in ("passed", "failed"), proc.stderr
        assert run["slos"] and run["slos"][0]["passed"] == (run["status"] == "passed")
        m = run["faults"][0]["measurements"]
        assert m["cordoned"] == [NODE_B0] and m["already_cordoned"] == [NODE_B1] and m["evicted"] >= 1
        assert kube.get_node(NODE_B0)["spec"].get("unschedulable") in (None, False)
        assert kube.get_node(NODE_B1)["spec"].get("unschedulable") is True
        zone_b = {NODE_B0, NODE_B1}
        assert not [p for p in kube.list_pods("shop") if p["spec"].get("nodeName") in zone_b
                    and not p["metadata"].get("deletionTimestamp")]  # they moved to c and d
    finally:
        kube.set_unschedulable(NODE_B1, False)
        kube.close()
    _cluster_clean(sandbox)


@pytest.mark.e2e
def test_e2e_sigterm_mid_drain_leaves_nothing_cordoned(workspace: Any, sandbox: Any) -> None:
    sandbox.spread()
    exp = workspace.experiment("drain-term", _zone_experiment(
        f"zone-drain: {{zone: {ZONE_C}, duration: 60s}}", baseline="1s", load=False))
    proc = workspace.popen("run", str(exp))
    try:
        _wait_injected(workspace)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert any(e["type"] == "fault.reverted" for e in _run_events(workspace))
    _cluster_clean(sandbox)


@pytest.fixture
def api_faults(sandbox: Any) -> Iterator[Any]:
    def put(spec: dict[str, Any]) -> None:
        sandbox.kube_request("PUT", "/sandbox/api-faults", json=spec).raise_for_status()

    try:
        yield put
    finally:
        put({"rate": 0.0})


@pytest.mark.e2e
def test_e2e_zone_drain_completes_under_api_faults(workspace: Any, sandbox: Any, api_faults: Any) -> None:
    exp = workspace.experiment("drain-flaky", _zone_experiment(
        f"zone-drain: {{zone: {ZONE_D}, duration: 6s}}", baseline="1s", recovery="3s", load=False))
    api_faults({"rate": 0.2, "codes": [429, 500, 503], "seed": 11})
    proc = workspace.harness("run", str(exp))
    api_faults({"rate": 0.0})
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert workspace.last_run()["faults"][0]["reverted_at"]
    assert [e for e in _run_events(workspace) if e["type"] == "retry"]
    _cluster_clean(sandbox)


@pytest.mark.e2e
def test_e2e_network_outage_fails_zone_requests_then_recovers(workspace: Any, sandbox: Any) -> None:
    sandbox.spread()
    exp = workspace.experiment("net-d", _zone_experiment(
        f"zone-outage: {{zone: {ZONE_D}, mode: network, duration: 8s}}"))
    workspace.harness("run", str(exp))
    run = workspace.last_run()
    from harness.measure.timeline import read_timeline

    seconds = list(read_timeline(workspace.run_dirs()[-1] / "timeline.jsonl"))
    fault_failures = sum(s.load.failures for s in seconds if s.load and s.phase == "fault")
    recovery_tail = [s for s in seconds if s.load and s.phase == "recovery"][-3:]
    assert fault_failures > 0, "requests to the zone's pods should fail while the rules exist"
    assert recovery_tail and sum(s.load.failures for s in recovery_tail) == 0
    assert run["faults"][0]["measurements"]["firewalls"]
    _cluster_clean(sandbox)


# == managed instance groups: the session sandbox's MIGs repair (as GKE's) =============================
MIG_D = "gke-shop-default-pool-d-grp"
D_VMS = ["gke-shop-default-pool-d-0", "gke-shop-default-pool-d-1"]


def _vm_ids(sandbox: Any) -> dict[str, tuple[str, str]]:
    """(id, status) of zone d's VMs, read from the Compute API's JSON."""
    import httpx

    base = f"{sandbox.endpoints['compute']}/compute/v1/projects/{sandbox.endpoints['project']}/zones/{ZONE_D}"
    with httpx.Client(base_url=base, timeout=10) as http:
        return {n: (http.get(f"/instances/{n}").json()["id"], http.get(f"/instances/{n}").json()["status"])
                for n in D_VMS}


def _mig_repair(compute: Any) -> str:
    mig = compute.get_mig(ZONE_D, MIG_D)
    return json.dumps({k: mig.get(k) for k in ("autoHealingPolicies", "instanceLifecyclePolicy")}, sort_keys=True)


@pytest.mark.e2e
def test_e2e_stop_instances_holds_a_repairing_zone_down_and_leaves_migs_as_found(workspace: Any, sandbox: Any) -> None:
    from harness.clients.compute import ComputeClient

    compute = ComputeClient(sandbox.endpoints["project"], sandbox.endpoints["compute"])
    try:
        before = _mig_repair(compute)
        assert '"defaultActionOnFailure": "REPAIR"' in before
        # what an outage that ignores the MIG would see: the MIG recreates the VM it stopped
        first = _vm_ids(sandbox)
        compute.stop(ZONE_D, D_VMS[0], deadline=30)
        wait_for(lambda: _vm_ids(sandbox)[D_VMS[0]][0] != first[D_VMS[0]][0]
                 and _vm_ids(sandbox)[D_VMS[0]][1] == "RUNNING", 30, "the MIG recreating the stopped VM")
        _cluster_clean(sandbox)
        sandbox.spread()

        # the harness's outage: down for its whole duration, nothing recreated, the MIG as found
        ids = {n: i for n, (i, _) in _vm_ids(sandbox).items()}
        exp = workspace.experiment("stop-d", _zone_experiment(
            f"zone-outage: {{zone: {ZONE_D}, mode: stop-instances, duration: 8s, recheck_every: 1s}}",
            baseline="1s", recovery="2s", load=False))
        proc = workspace.popen("run", str(exp))
        seen: list[dict[str, tuple[str, str]]] = []
        while proc.poll() is None:
            seen.append(_vm_ids(sandbox))
            time.sleep(0.5)
        out, err = proc.communicate()
        assert proc.returncode in (0, 1), out + err  # 1: recovery_time has nothing to recover to without load
        fault_run = json.loads((workspace.run_dirs()[-1] / "run.json").read_text())["faults"][0]
        assert fault_run["reverted_at"] and not fault_run["error"]
        assert f"mig/{ZONE_D}/{MIG_D}" in fault_run["targets"]
        down = [s for s in seen if all(status == "TERMINATED" for _, status in s.values())]
        assert len(down) >= 8, f"the zone was down for {len(down) * 0.5:g}s of an 8s outage"
        assert all({n: i for n, (i, _) in s.items()} == ids for s in seen), "a VM was recreated during the outage"
        assert not [e for e in _run_events(workspace) if e.get("action") == "restopped"]
        assert _mig_repair(compute) == before
        assert {n: s for n, (_, s) in _vm_ids(sandbox).items()} == dict.fromkeys(D_VMS, "RUNNING")

        # kill -9 while the zone is down, then `harness rollback`
        exp = workspace.experiment("stop-d-kill", _zone_experiment(
            f"zone-outage: {{zone: {ZONE_D}, mode: stop-instances, duration: 60s}}", baseline="1s", load=False))
        proc = workspace.popen("run", str(exp))
        try:
            def stopped() -> bool:
                runs = [d for d in workspace.run_dirs() if d.name.endswith("-stop-d-kill")]
                return bool(runs) and (runs[0] / "events.jsonl").exists() and any(
                    e.get("action") == "stopped" for e in read_journal(runs[0] / "events.jsonl"))

            wait_for(stopped, 60, "VMs stopped")
        finally:
            proc.kill()
            proc.communicate()
        assert '"DO_NOTHING"' in _mig_repair(compute)
        time.sleep(4)  # longer than the MIG's repair delay: nothing comes back by itself
        assert {n: s for n, (_, s) in _vm_ids(sandbox).items()} == dict.fromkeys(D_VMS, "TERMINATED")
        workspace.harness("rollback", str(workspace.run_dirs()[-1]), check=0)
        assert _mig_repair(compute) == before
        assert {n: s for n, (_, s) in _vm_ids(sandbox).items()} == dict.fromkeys(D_VMS, "RUNNING")
        assert {n: i for n, (i, _) in _vm_ids(sandbox).items()} == ids
    finally:
        compute.close()
    _cluster_clean(sandbox)
