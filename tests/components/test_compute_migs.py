"""The sandbox's managed instance groups and IAM checks, driven by the official google-cloud-compute
client over HTTP: MIG shapes, merge-patch, repair of a VM stopped behind the MIG's back (and the node's
fresh boot), repair switched off, and denied permissions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.api_core import exceptions as gexc
from google.cloud import compute_v1

from harness.sandbox.config import SandboxConfig, Timings
from harness.sandbox.core.context import new_context
from tests.compute_served import Served

PROJECT = "sandbox-project"
ZONE = "europe-west1-b"
MIG = "gke-shop-default-pool-b-grp"
VM = "gke-shop-default-pool-b-0"
FAST = Timings(vm_stop_delay=0.1, mig_repair_delay=0.3, container_start_delay=0.2, node_monitor_grace=5.0,
               pod_eviction_timeout=30.0, reconcile_interval=0.1)


def _serve(tmp_path: Path, controller: bool = False, **config: Any) -> Served:
    cfg = SandboxConfig(timings=FAST, services=[], prometheus=False, pod_network="127.102.0.0/16", **config)
    return Served(new_context(cfg, tmp_path / "sb"), controller)


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Served]:
    served = _serve(tmp_path, mig_repair=False)
    yield served
    served.close()


@pytest.fixture
def repairing(tmp_path: Path) -> Iterator[Served]:
    served = _serve(tmp_path, controller=True, mig_repair=True)
    yield served
    served.close()


def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _stop(served: Served, name: str = VM) -> None:
    instances = served.client(compute_v1.InstancesClient)
    op = instances.stop_unary(project=PROJECT, zone=ZONE, instance=name)
    served.client(compute_v1.ZoneOperationsClient).wait(project=PROJECT, zone=ZONE, operation=op.name)


def test_mig_get_list_and_managed_instances(plain: Served) -> None:
    migs = plain.client(compute_v1.InstanceGroupManagersClient)
    mig = migs.get(project=PROJECT, zone=ZONE, instance_group_manager=MIG)
    assert mig.name == MIG and mig.zone.endswith(f"/zones/{ZONE}") and mig.target_size == 2
    assert mig.base_instance_name == "gke-shop-default-pool-b"
    assert mig.instance_group.endswith(f"/zones/{ZONE}/instanceGroups/{MIG}")
    assert mig.self_link.endswith(f"/zones/{ZONE}/instanceGroupManagers/{MIG}")
    assert mig.instance_lifecycle_policy.default_action_on_failure == "DO_NOTHING"
    assert list(mig.auto_healing_policies) == [] and mig.fingerprint and mig.status.is_stable
    assert mig.current_actions.none == 2 and mig.current_actions.recreating == 0
    vm = plain.client(compute_v1.InstancesClient).get(project=PROJECT, zone=ZONE, instance=VM)
    created_by = {i.key: i.value for i in vm.metadata.items}["created-by"]
    assert mig.self_link.endswith(created_by)
    assert [m.name for m in migs.list(project=PROJECT, zone=ZONE)] == [MIG]
    req = compute_v1.ListInstanceGroupManagersRequest(project=PROJECT, zone=ZONE, filter="name = nope-*")
    assert list(migs.list(request=req)) == []
    scopes = dict(migs.aggregated_list(project=PROJECT))
    assert {s: [m.name for m in v.instance_group_managers] for s, v in scopes.items()}[f"zones/{ZONE}"] == [MIG]
    managed = list(migs.list_managed_instances(project=PROJECT, zone=ZONE, instance_group_manager=MIG))
    assert sorted(m.instance.rsplit("/", 1)[1] for m in managed) == [VM, "gke-shop-default-pool-b-1"]
    first = next(m for m in managed if m.instance.endswith(VM))
    assert first.id == plain.ctx.vms[VM].id and first.instance_status == "RUNNING" and first.current_action == "NONE"
    with pytest.raises(gexc.NotFound):
        migs.get(project=PROJECT, zone="europe-west1-c", instance_group_manager=MIG)
    group = plain.client(compute_v1.InstanceGroupsClient).get(project=PROJECT, zone=ZONE, instance_group=MIG)
    assert group.size == 2 and group.network.endswith("/global/networks/shop-vpc")


def test_patch_merges_and_changes_fingerprint(plain: Served) -> None:
    migs = plain.client(compute_v1.InstanceGroupManagersClient)
    before = migs.get(project=PROJECT, zone=ZONE, instance_group_manager=MIG)
    patch = compute_v1.InstanceGroupManager(
        instance_lifecycle_policy=compute_v1.InstanceGroupManagerInstanceLifecyclePolicy(
            default_action_on_failure="REPAIR"),
        auto_healing_policies=[compute_v1.InstanceGroupManagerAutoHealingPolicy(initial_delay_sec=60)])
    op = migs.patch_unary(project=PROJECT, zone=ZONE, instance_group_manager=MIG, instance_group_manager_resource=patch)
    assert op.operation_type == "patch" and op.zone.endswith(ZONE) and op.target_link == before.self_link
    after = migs.get(project=PROJECT, zone=ZONE, instance_group_manager=MIG)
    assert after.fingerprint != before.fingerprint
    assert after.instance_lifecycle_policy.default_action_on_failure == "REPAIR"
    assert after.instance_lifecycle_policy.force_update_on_repair == "NO"  # merged, not replaced
    assert [p.initial_delay_sec for p in after.auto_healing_policies] == [60]
    assert after.update_policy.type_ == before.update_policy.type_  # absent from the patch: untouched
    stale = compute_v1.InstanceGroupManager(fingerprint=before.fingerprint)
    with pytest.raises(gexc.PreconditionFailed):
        migs.patch_unary(project=PROJECT, zone=ZONE, instance_group_manager=MIG, instance_group_manager_resource=stale)
    bad = compute_v1.InstanceGroupManager(instance_lifecycle_policy=compute_v1.InstanceGroupManagerInstanceLifecyclePolicy(
        default_action_on_failure="MAYBE"))
    with pytest.raises(gexc.BadRequest):
        migs.patch_unary(project=PROJECT, zone=ZONE, instance_group_manager=MIG, instance_group_manager_resource=bad)
    assert plain.api.health()["migs"][MIG]["repair"] is True


def test_repair_recreates_a_stopped_vm_and_its_node_reboots(repairing: Served) -> None:
    migs = repairing.client(compute_v1.InstanceGroupManagersClient)
    instances = repairing.client(compute_v1.InstancesClient)
    mig = migs.get(project=PROJECT, zone=ZONE, instance_group_manager=MIG)
    assert mig.instance_lifecycle_policy.default_action_on_failure == "REPAIR" and mig.auto_healing_policies
    before = instances.get(project=PROJECT, zone=ZONE, instance=VM)
    tags = compute_v1.Tags(items=[*before.tags.items, "added-later"], fingerprint=before.tags.fingerprint)
    instances.set_tags_unary(project=PROJECT, zone=ZONE, instance=VM, tags_resource=tags)
    assert repairing.controller is not None
    kubelets = repairing.controller.kubelets
    _until(lambda: VM in kubelets and kubelets[VM].vm_id == before.id)  # the kubelet has seen the VM up
    _stop(repairing)
    managed = migs.list_managed_instances(project=PROJECT, zone=ZONE, instance_group_manager=MIG)
    assert {m.instance.rsplit("/", 1)[1]: m.current_action for m in managed}[VM] == "RECREATING"
    assert repairing.api.health()["migs"][MIG]["recreating"] == [VM]
    _until(lambda: instances.get(project=PROJECT, zone=ZONE, instance=VM).status == "RUNNING")
    after = instances.get(project=PROJECT, zone=ZONE, instance=VM)
    assert after.name == VM and after.id != before.id and after.creation_timestamp != before.creation_timestamp
    assert list(after.tags.items) == list(before.tags.items)  # from the template, not "added-later"
    assert dict(after.labels) == dict(before.labels)
    recreated = repairing.truth("vm.recreated")
    assert [(e["name"], e["id"]) for e in recreated] == [(VM, str(after.id))]
    assert repairing.api.health()["recreations"] == 1
    _until(lambda: any(e["node"] == VM and e["ts"] >= recreated[0]["ts"] for e in repairing.truth("node.ready")))
    # the stop is shorter than node_monitor_grace: only the fresh boot turns the node NotReady, then Ready
    events = [e["event"] for e in repairing.truth("node.notready", "node.ready", "vm.recreating") if
              e.get("node", e.get("name")) == VM]
    assert events == ["vm.recreating", "node.notready", "node.ready"]
    managed = migs.list_managed_instances(project=PROJECT, zone=ZONE, instance_group_manager=MIG)
    assert {m.instance.rsplit("/", 1)[1]: m.current_action for m in managed}[VM] == "NONE"


def test_repair_patched_off_cancels_and_the_vm_stays_stopped(tmp_path: Path) -> None:
    served = _serve(tmp_path, mig_repair=True)
    try:
        migs = served.client(compute_v1.InstanceGroupManagersClient)
        _stop(served)
        off = compute_v1.InstanceGroupManager(instance_lifecycle_policy=compute_v1.InstanceGroupManagerInstanceLifecyclePolicy(
            default_action_on_failure="DO_NOTHING"))
        migs.patch_unary(project=PROJECT, zone=ZONE, instance_group_manager=MIG, instance_group_manager_resource=off)
        time.sleep(FAST.mig_repair_delay + 0.5)
        assert served.ctx.vms[VM].status == "TERMINATED" and not served.truth("vm.recreated")
        assert [e["name"] for e in served.truth("mig.repair_cancelled")] == [VM]
        _stop(served, "gke-shop-default-pool-b-1")
        time.sleep(FAST.mig_repair_delay + 0.5)
        assert served.ctx.vms["gke-shop-default-pool-b-1"].status == "TERMINATED"
        instances = served.client(compute_v1.InstancesClient)
        op = instances.start_unary(project=PROJECT, zone=ZONE, instance=VM)
        served.client(compute_v1.ZoneOperationsClient).wait(project=PROJECT, zone=ZONE, operation=op.name)
        assert served.ctx.vms[VM].status == "RUNNING" and not served.truth("vm.recreated")
    finally:
        served.close()


def test_resource_manager_projects_test_iam_permissions(tmp_path: Path) -> None:
    """The official Cloud Resource Manager client, pointed at the Compute server, tests project permissions."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import resourcemanager_v3

    served = _serve(tmp_path, denied_permissions=["compute.firewalls.create"])
    client = resourcemanager_v3.ProjectsClient(client_options=ClientOptions(api_endpoint=served.url),
                                               credentials=AnonymousCredentials(), transport="rest")
    try:
        asked = ["compute.firewalls.create", "compute.firewalls.delete", "compute.instanceGroupManagers.update"]
        answer = client.test_iam_permissions(resource=f"projects/{PROJECT}", permissions=asked)
        assert list(answer.permissions) == asked[1:]
        raw = httpx.post(f"{served.url}/v1/projects/{PROJECT}:testIamPermissions", json={"permissions": asked[:1]})
        assert raw.status_code == 200 and raw.json() == {}
        with pytest.raises(gexc.NotFound):
            client.test_iam_permissions(resource="projects/elsewhere", permissions=asked)
    finally:
        client.transport.close()
        served.close()


def test_test_iam_permissions_and_denied_calls(tmp_path: Path) -> None:
    denied = ["compute.instances.stop", "compute.instanceGroupManagers.update", "compute.firewalls.create"]
    served = _serve(tmp_path, denied_permissions=denied)
    try:
        instances = served.client(compute_v1.InstancesClient)
        asked = ["compute.instances.get", "compute.instances.stop", "compute.instances.setTags"]
        answer = instances.test_iam_permissions(
            project=PROJECT, zone=ZONE, resource=VM,
            test_permissions_request_resource=compute_v1.TestPermissionsRequest(permissions=asked))
        assert list(answer.permissions) == ["compute.instances.get", "compute.instances.setTags"]
        raw = httpx.post(f"{served.url}/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances/{VM}/testIamPermissions",
                         json={"permissions": ["compute.instances.stop"]})
        assert raw.status_code == 200 and raw.json() == {}  # nothing granted: the key is left out
        groups = served.client(compute_v1.InstanceGroupsClient)
        answer = groups.test_iam_permissions(
            project=PROJECT, zone=ZONE, resource=MIG, test_permissions_request_resource=compute_v1.TestPermissionsRequest(
                permissions=["compute.instanceGroups.get", "compute.instanceGroupManagers.get"]))
        assert list(answer.permissions) == ["compute.instanceGroups.get"]  # a manager's: not on the group
        answer = instances.test_iam_permissions(  # as on GCP, a VM answers only its own type's permissions
            project=PROJECT, zone=ZONE, resource=VM, test_permissions_request_resource=compute_v1.TestPermissionsRequest(
                permissions=["compute.instances.get", "compute.instances.list", "compute.zoneOperations.get"]))
        assert list(answer.permissions) == ["compute.instances.get"]
        with pytest.raises(gexc.NotFound):
            instances.test_iam_permissions(project=PROJECT, zone=ZONE, resource="nope",
                                           test_permissions_request_resource=compute_v1.TestPermissionsRequest())
        with pytest.raises(gexc.Forbidden) as err:
            instances.stop_unary(project=PROJECT, zone=ZONE, instance=VM)
        assert f"Required 'compute.instances.stop' permission for 'projects/{PROJECT}/zones/{ZONE}/instances/{VM}'" \
            in str(err.value)
        assert served.ctx.vms[VM].status == "RUNNING"
        raw = httpx.post(f"{served.url}/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances/{VM}/stop")
        assert raw.status_code == 403 and raw.json()["error"]["status"] == "PERMISSION_DENIED"
        assert raw.json()["error"]["errors"][0]["reason"] == "forbidden"
        migs = served.client(compute_v1.InstanceGroupManagersClient)
        assert migs.get(project=PROJECT, zone=ZONE, instance_group_manager=MIG).name == MIG
        with pytest.raises(gexc.Forbidden, match="compute.instanceGroupManagers.update"):
            migs.patch_unary(project=PROJECT, zone=ZONE, instance_group_manager=MIG,
                             instance_group_manager_resource=compute_v1.InstanceGroupManager())
        firewall = compute_v1.Firewall(name="x", denied=[compute_v1.Denied(I_p_protocol="all")])
        with pytest.raises(gexc.Forbidden, match=f"'projects/{PROJECT}/global/firewalls/x'"):
            served.client(compute_v1.FirewallsClient).insert_unary(project=PROJECT, firewall_resource=firewall)
        assert instances.get(project=PROJECT, zone=ZONE, instance=VM).name == VM
    finally:
        served.close()
