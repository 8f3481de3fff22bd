"""The sandbox's Compute Engine API, driven by the official google-cloud-compute client over HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import compute_v1

from harness.sandbox.compute.api import ComputeApi, compute_client_options, vm_blocked
from harness.sandbox.config import SandboxConfig, Timings
from harness.sandbox.core import apifaults
from harness.sandbox.core.context import Context, new_context
from harness.sandbox.core.truth import read_truth

PROJECT = "sandbox-project"
ZONE = "europe-west1-b"
VM = "gke-shop-default-pool-b-0"


class Running:
    """A ComputeApi served from its own event loop in a background thread."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.api = ComputeApi()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.api.start(ctx))
        self.url = ctx.url("compute")

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.call(self.api.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        self.ctx.truth.close()


@pytest.fixture
def compute(tmp_path: Path) -> Iterator[Running]:
    config = SandboxConfig(timings=Timings(vm_stop_delay=0.2))
    running = Running(new_context(config, tmp_path))
    yield running
    running.close()


def _client(cls: Any, running: Running) -> Any:
    return cls(**compute_client_options(running.url))


def _truth_events(running: Running, event: str) -> list[dict[str, Any]]:
    return [e for e in read_truth(running.ctx.dir / "truth.jsonl") if e["event"] == event]


def test_list_and_get_instances(compute: Running) -> None:
    instances = _client(compute_v1.InstancesClient, compute)
    names = sorted(i.name for i in instances.list(project=PROJECT, zone=ZONE))
    assert names == ["gke-shop-default-pool-b-0", "gke-shop-default-pool-b-1"]
    vm = instances.get(project=PROJECT, zone=ZONE, instance=VM)
    assert vm.status == "RUNNING"
    assert vm.zone.endswith(f"/zones/{ZONE}")
    assert vm.network_interfaces[0].name == "nic0"
    assert vm.labels["goog-k8s-cluster-name"] == "shop"
    assert vm.id == compute.ctx.vms[VM].id
    filtered = instances.list(request=compute_v1.ListInstancesRequest(project=PROJECT, zone=ZONE, filter=f"name = {VM}"))
    assert [i.name for i in filtered] == [VM]


def test_aggregated_list_has_every_zone_and_warns_on_empty(compute: Running) -> None:
    instances = _client(compute_v1.InstancesClient, compute)
    scopes = dict(instances.aggregated_list(project=PROJECT))
    assert set(scopes) == {f"zones/europe-west1-{z}" for z in "bcd"}
    assert sum(len(s.instances) for s in scopes.values()) == 6
    compute.ctx.vms = {n: v for n, v in compute.ctx.vms.items() if not n.endswith(("d-0", "d-1"))}
    scopes = dict(instances.aggregated_list(project=PROJECT))
    assert scopes["zones/europe-west1-d"].warning.code == "NO_RESULTS_ON_PAGE"


def test_stop_wait_start(compute: Running) -> None:
    instances = _client(compute_v1.InstancesClient, compute)
    ops = _client(compute_v1.ZoneOperationsClient, compute)
    op = instances.stop_unary(project=PROJECT, zone=ZONE, instance=VM)
    assert op.operation_type == "stop" and op.target_link.endswith(VM)
    done = ops.wait(project=PROJECT, zone=ZONE, operation=op.name)
    assert done.status == compute_v1.Operation.Status.DONE
    assert instances.get(project=PROJECT, zone=ZONE, instance=VM).status == "TERMINATED"
    assert [e["name"] for e in _truth_events(compute, "vm.stopped")] == [VM]
    again = instances.stop_unary(project=PROJECT, zone=ZONE, instance=VM)  # already stopped: no-op
    assert ops.wait(project=PROJECT, zone=ZONE, operation=again.name).status == compute_v1.Operation.Status.DONE
    assert len(_truth_events(compute, "vm.stopped")) == 1
    # The extended operation polls through a ZoneOperationsClient the transport builds without our
    # client_options; seed it with one that points at the sandbox (or use *_unary + ops.wait).
    instances._transport._extended_operations_services["zone_operations"] = ops
    extended = instances.start(project=PROJECT, zone=ZONE, instance=VM)
    extended.result(timeout=30)
    assert instances.get(project=PROJECT, zone=ZONE, instance=VM).status == "RUNNING"
    assert [e["zone"] for e in _truth_events(compute, "vm.started")] == [ZONE]


def test_reset_records_truth(compute: Running) -> None:
    instances = _client(compute_v1.InstancesClient, compute)
    ops = _client(compute_v1.ZoneOperationsClient, compute)
    op = instances.reset_unary(project=PROJECT, zone=ZONE, instance=VM)
    ops.wait(project=PROJECT, zone=ZONE, operation=op.name)
    assert ops.get(project=PROJECT, zone=ZONE, operation=op.name).progress == 100
    assert [e["name"] for e in _truth_events(compute, "vm.reset")] == [VM]


def test_set_tags_needs_current_fingerprint(compute: Running) -> None:
    instances = _client(compute_v1.InstancesClient, compute)
    tags = instances.get(project=PROJECT, zone=ZONE, instance=VM).tags
    new = compute_v1.Tags(items=[*tags.items, "chaos-isolated"], fingerprint=tags.fingerprint)
    instances.set_tags_unary(project=PROJECT, zone=ZONE, instance=VM, tags_resource=new)
    after = instances.get(project=PROJECT, zone=ZONE, instance=VM).tags
    assert "chaos-isolated" in after.items and after.fingerprint != tags.fingerprint
    with pytest.raises(gexc.PreconditionFailed):
        instances.set_tags_unary(project=PROJECT, zone=ZONE, instance=VM, tags_resource=new)


def test_set_labels(compute: Running) -> None:
    instances = _client(compute_v1.InstancesClient, compute)
    vm = instances.get(project=PROJECT, zone=ZONE, instance=VM)
    req = compute_v1.InstancesSetLabelsRequest(labels={**vm.labels, "chaos": "yes"},
                                               label_fingerprint=vm.label_fingerprint)
    instances.set_labels_unary(project=PROJECT, zone=ZONE, instance=VM, instances_set_labels_request_resource=req)
    assert instances.get(project=PROJECT, zone=ZONE, instance=VM).labels["chaos"] == "yes"


def _deny_rule(name: str, tags: list[str]) -> compute_v1.Firewall:
    return compute_v1.Firewall(
        name=name, direction="INGRESS", priority=100, target_tags=tags, network="global/networks/shop-vpc",
        denied=[compute_v1.Denied(I_p_protocol="all")], source_ranges=["0.0.0.0/0"],
    )


def test_firewalls_and_vm_blocked(compute: Running) -> None:
    firewalls = _client(compute_v1.FirewallsClient, compute)
    gops = _client(compute_v1.GlobalOperationsClient, compute)
    assert not vm_blocked(compute.ctx, VM, "INGRESS")
    op = firewalls.insert_unary(project=PROJECT, firewall_resource=_deny_rule("chaos-deny", ["gke-shop-node"]))
    assert gops.wait(project=PROJECT, operation=op.name).status == compute_v1.Operation.Status.DONE
    assert gops.get(project=PROJECT, operation=op.name).operation_type == "insert"
    got = firewalls.get(project=PROJECT, firewall="chaos-deny")
    assert got.denied[0].I_p_protocol == "all" and got.target_tags == ["gke-shop-node"]
    assert [f.name for f in firewalls.list(project=PROJECT)] == ["chaos-deny"]
    assert vm_blocked(compute.ctx, VM, "INGRESS")
    assert not vm_blocked(compute.ctx, VM, "EGRESS")
    with pytest.raises(gexc.Conflict):
        firewalls.insert_unary(project=PROJECT, firewall_resource=_deny_rule("chaos-deny", []))
    firewalls.delete_unary(project=PROJECT, firewall="chaos-deny")
    assert not vm_blocked(compute.ctx, VM, "INGRESS")
    firewalls.insert_unary(project=PROJECT, firewall_resource=_deny_rule("other-tag", ["not-a-node"]))
    assert not vm_blocked(compute.ctx, VM, "INGRESS")
    events = [e["event"] for e in read_truth(compute.ctx.dir / "truth.jsonl")]
    assert events.count("firewall.inserted") == 2 and events.count("firewall.deleted") == 1


def test_not_found_is_google_error(compute: Running) -> None:
    import httpx

    instances = _client(compute_v1.InstancesClient, compute)
    with pytest.raises(gexc.NotFound) as err:
        instances.get(project=PROJECT, zone=ZONE, instance="nope")
    assert "nope" in str(err.value)
    resp = httpx.get(f"{compute.url}/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances/nope")
    error = resp.json()["error"]
    assert resp.status_code == 404 and error["status"] == "NOT_FOUND"
    assert error["errors"][0]["reason"] == "notFound"
    with pytest.raises(gexc.NotFound):
        _client(compute_v1.FirewallsClient, compute).get(project=PROJECT, firewall="nope")


def test_api_faults(compute: Running) -> None:
    instances = _client(compute_v1.InstancesClient, compute)
    apifaults.configure(compute.ctx, {"rate": 1.0, "codes": [503], "seed": 1})
    with pytest.raises(gexc.ServiceUnavailable):
        instances.get(project=PROJECT, zone=ZONE, instance=VM, retry=None)
    apifaults.configure(compute.ctx, {"rate": 1.0, "codes": [429], "seed": 1})
    with pytest.raises(gexc.TooManyRequests):
        instances.get(project=PROJECT, zone=ZONE, instance=VM, retry=None)
    apifaults.configure(compute.ctx, {"rate": 0.0, "delay_ms": 50})
    started = time.monotonic()
    assert instances.get(project=PROJECT, zone=ZONE, instance=VM).name == VM
    assert time.monotonic() - started >= 0.05
    apifaults.clear(compute.ctx)
