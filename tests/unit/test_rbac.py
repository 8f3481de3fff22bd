"""The RBAC a set of experiments needs (harness.plan.rbac) and `harness rbac`'s YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.faults.base import fault_class
from harness.plan.rbac import Subject, allows, allows_url, policy_rules, rbac_plan, render
from harness.spec.access import Access, KubeRule, Scope
from harness.spec.loader import load_experiment
from harness.spec.registry import FAULTS, PROBES
from probes.base import probe_class

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "experiments"


def _docs(*names: str, namespace: str = "shop-resilience") -> list[dict[str, Any]]:
    loaded = [load_experiment(CATALOGUE / f"{n}.yaml") for n in names]
    text = render(rbac_plan((x.experiment, x.target.lease.namespace) for x in loaded), Subject(namespace))
    return [d for d in yaml.safe_load_all(text) if d]


def _kinds(docs: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(d["kind"], d["metadata"].get("namespace")): d for d in docs}


def test_pod_kill_needs_pods_in_its_namespace_and_what_every_run_needs() -> None:
    docs = _docs("checkout-pod-kill")
    by = _kinds(docs)
    assert set(by) == {("Role", "default"), ("RoleBinding", "default"), ("Role", "shop"), ("RoleBinding", "shop"),
                       ("ClusterRole", None), ("ClusterRoleBinding", None)}
    assert by[("Role", "shop")]["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "list"]}]
    assert by[("Role", "default")]["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "get", "update"]}]
    assert allows(docs, "delete", "", "pods", "shop")
    assert not allows(docs, "delete", "", "pods", "kube-system")
    assert not allows(docs, "delete", "", "pods", None)  # not across namespaces
    assert not allows(docs, "patch", "", "nodes", None)  # pod-kill never cordons
    assert allows(docs, "list", "", "nodes", None) and allows(docs, "list", "apps", "deployments", None)
    assert allows_url(docs, "get", "/version/") and not allows_url(docs, "get", "/metrics")


def test_bindings_name_the_service_account() -> None:
    docs = _docs("checkout-pod-kill", namespace="chaos")
    for doc in docs:
        if doc["kind"].endswith("Binding"):
            assert doc["subjects"] == [{"kind": "ServiceAccount", "name": "shop-resilience-harness",
                                        "namespace": "chaos"}]
            assert doc["roleRef"]["kind"] == doc["kind"].removesuffix("Binding")


def test_zone_drain_cordons_cluster_wide_and_evicts_only_in_workload_namespaces() -> None:
    docs = _docs("zone-drain-europe-west1-b")
    assert allows(docs, "patch", "", "nodes", None)
    assert allows(docs, "list", "", "pods", None)  # every pod on the zone's nodes
    assert allows(docs, "create", "", "pods/eviction", "shop")
    assert not allows(docs, "create", "", "pods/eviction", "kube-system")
    assert not allows(docs, "delete", "", "pods", "shop")  # a drain evicts, it never deletes
    shop = _kinds(docs)[("Role", "shop")]
    assert {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]} not in shop["rules"]  # the ClusterRole has it


def test_deployment_scale_needs_only_the_scale_subresource() -> None:
    docs = _docs("catalog-scale-down")
    assert allows(docs, "patch", "apps", "deployments/scale", "shop")
    assert not allows(docs, "patch", "apps", "deployments", "shop")


def test_what_is_not_kubernetes_is_said_in_comments() -> None:
    loaded = [load_experiment(CATALOGUE / f"{n}.yaml") for n in ("zone-outage-europe-west1-c", "db-latency-checkout")]
    text = render(rbac_plan((x.experiment, "default") for x in loaded), Subject("shop-resilience"))
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert any("compute.instances.stop" in line and "zone-outage" in line for line in comments)
    assert any("Toxiproxy API" in line and "db-latency" in line for line in comments)
    assert "compute" not in "".join(line for line in text.splitlines() if not line.startswith("#"))


def test_rules_merge_resources_with_the_same_verbs_and_sort() -> None:
    rules = policy_rules({("", "pods"): {"list", "delete"}, ("", "services"): {"delete", "list"},
                          ("apps", "deployments"): {"get"}})
    assert rules == [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["delete", "list"]},
                     {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]


def test_a_namespaced_rule_without_a_namespace_becomes_cluster_wide() -> None:
    from harness.plan.rbac import RbacPlan

    plan = RbacPlan()
    plan.add(Access(kube=(KubeRule("", ("pods",), ("list",)),)), [], "default", "somewhere")
    plan.add(Access(kube=(KubeRule("", ("pods",), ("get",), Scope.LEASE),)), [], "leases-here", "lease")
    assert plan.cluster == {("", "pods"): {"list"}}
    assert dict(plan.namespaced) == {"leases-here": {("", "pods"): {"get"}}}


def test_every_kind_declares_its_access() -> None:
    for kind in FAULTS.kinds():
        assert isinstance(fault_class(kind).access, Access), kind
    for kind in PROBES.kinds():
        assert isinstance(probe_class(kind).access, Access), kind
    kube_faults = {"pod-kill", "deployment-scale", "zone-drain", "zone-outage"}
    assert {k for k in FAULTS.kinds() if fault_class(k).access.kube} == kube_faults
    assert {k for k in PROBES.kinds() if probe_class(k).access.kube} == {"kubernetes"}


def test_the_output_is_stable() -> None:
    loaded = [load_experiment(p) for p in sorted(CATALOGUE.glob("*-*.yaml"))]
    first = render(rbac_plan((x.experiment, "default") for x in loaded), Subject("ns"))
    second = render(rbac_plan((x.experiment, "default") for x in reversed(loaded)), Subject("ns"))
    assert first.split("---", 1)[1] == second.split("---", 1)[1]
