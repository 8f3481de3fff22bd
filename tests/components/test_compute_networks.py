"""The sandbox's VPC networks and which network a firewall rule is on, through the official client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from google.api_core import exceptions as gexc
from google.cloud import compute_v1

from harness.sandbox.compute.api import compute_client_options, vm_blocked
from harness.sandbox.config import SandboxConfig, Timings
from harness.sandbox.core.context import new_context
from tests.compute_served import Served

PROJECT = "sandbox-project"
VM = "gke-shop-default-pool-b-0"
API = "https://www.googleapis.com/compute/v1"


@pytest.fixture
def compute(tmp_path: Path) -> Iterator[Served]:
    served = Served(new_context(SandboxConfig(timings=Timings(vm_stop_delay=0.1)), tmp_path))
    yield served
    served.close()


def _rule(name: str, network: str | None) -> compute_v1.Firewall:
    rule = compute_v1.Firewall(name=name, direction="INGRESS", priority=100,
                               denied=[compute_v1.Denied(I_p_protocol="all")], source_ranges=["0.0.0.0/0"])
    if network is not None:
        rule.network = network
    return rule


def test_networks_get_and_list(compute: Served) -> None:
    networks = compute_v1.NetworksClient(**compute_client_options(compute.url))
    assert [n.name for n in networks.list(project=PROJECT)] == ["default", "shop-vpc"]
    vpc = networks.get(project=PROJECT, network="shop-vpc")
    assert vpc.self_link == f"{API}/projects/{PROJECT}/global/networks/shop-vpc" and not vpc.auto_create_subnetworks
    assert networks.get(project=PROJECT, network="default").auto_create_subnetworks
    with pytest.raises(gexc.NotFound, match=f"'projects/{PROJECT}/global/networks/nope' was not found"):
        networks.get(project=PROJECT, network="nope")
    vm = compute_v1.InstancesClient(**compute_client_options(compute.url)).get(
        project=PROJECT, zone="europe-west1-b", instance=VM)
    assert vm.network_interfaces[0].network == f"{API}/projects/{PROJECT}/global/networks/shop-vpc"


def test_one_network_when_the_nodes_are_on_default(tmp_path: Path) -> None:
    served = Served(new_context(SandboxConfig(node_network="default"), tmp_path))
    try:
        networks = compute_v1.NetworksClient(**compute_client_options(served.url))
        assert [n.name for n in networks.list(project=PROJECT)] == ["default"]
    finally:
        served.close()


def test_firewall_network_is_checked_and_scopes_the_rule(compute: Served) -> None:
    firewalls = compute_v1.FirewallsClient(**compute_client_options(compute.url))
    with pytest.raises(gexc.NotFound, match=f"The resource 'projects/{PROJECT}/global/networks/nope' was not found"):
        firewalls.insert_unary(project=PROJECT, firewall_resource=_rule("bad", "global/networks/nope"))
    with pytest.raises(gexc.BadRequest, match="The URL is malformed"):
        firewalls.insert_unary(project=PROJECT, firewall_resource=_rule("bad", "nope"))
    assert list(firewalls.list(project=PROJECT)) == []
    firewalls.insert_unary(project=PROJECT, firewall_resource=_rule("on-default", None))
    assert firewalls.get(project=PROJECT, firewall="on-default").network == f"{API}/projects/{PROJECT}/global/networks/default"
    assert not vm_blocked(compute.ctx, VM, "INGRESS")  # the VM is on shop-vpc
    firewalls.insert_unary(project=PROJECT, firewall_resource=_rule("on-vpc", f"projects/{PROJECT}/global/networks/shop-vpc"))
    assert firewalls.get(project=PROJECT, firewall="on-vpc").network == f"{API}/projects/{PROJECT}/global/networks/shop-vpc"
    assert vm_blocked(compute.ctx, VM, "INGRESS")
    firewalls.delete_unary(project=PROJECT, firewall="on-vpc")
    firewalls.insert_unary(project=PROJECT, firewall_resource=_rule("full-url", f"{API}/projects/{PROJECT}/global/networks/shop-vpc"))
    assert vm_blocked(compute.ctx, VM, "INGRESS")
