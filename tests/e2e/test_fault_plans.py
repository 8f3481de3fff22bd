"""A fault that would touch nothing is refused at plan (exit 2) unless its step says ``allow_empty: true``,
when the plan says so in a note instead; a selector that matches nothing lists the label's values.

Everything here only plans (reads) against the session sandbox, except a node cordoned for a moment
and a scratch Toxiproxy proxy, both put back."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.clients.connect import Lazy
from harness.clients.kube import KubeClient
from harness.clients.toxiproxy import ToxiproxyClient
from harness.faults.base import FaultEnv, FaultPlan, fault_class

pytestmark = pytest.mark.e2e

ZONE_B = "europe-west1-b"


def _env(sandbox: Any) -> FaultEnv:
    eps = sandbox.endpoints

    def compute() -> Any:
        from harness.clients.compute import ComputeClient

        return ComputeClient(eps["project"], eps["compute"])

    return FaultEnv(kube=KubeClient(sandbox.kubeconfig), compute=Lazy(compute),
                    toxiproxy=ToxiproxyClient(eps["toxiproxy"]), project=eps["project"], region=eps["region"],
                    postgres={"dsn": eps["postgres_admin"], "allowed_hosts": ["127.0.0.1"]})


@pytest.fixture
def env(sandbox: Any) -> Iterator[FaultEnv]:
    env = _env(sandbox)
    try:
        yield env
    finally:
        env.kube.close()
        env.toxiproxy.close()


def _plan(env: FaultEnv, kind: str, allow_empty: bool = False, **params: Any) -> FaultPlan:
    model = fault_class(kind).Params
    fault = fault_class(kind)(f"{kind}-0", model.model_validate(params), env)
    fault.allow_empty = allow_empty
    plan: FaultPlan = asyncio.run(fault.plan())
    return plan


def _refused_then_noted(env: FaultEnv, kind: str, *expected: str, **params: Any) -> str:
    """Plan twice: refused (every ``expected`` in the reason), then with allow_empty a note, no refusal."""
    refused = _plan(env, kind, **params)
    assert refused.refuse is not None, refused
    for text in (*expected, "would test nothing", "allow_empty: true"):
        assert text in refused.refuse, refused.refuse
    allowed = _plan(env, kind, allow_empty=True, **params)
    assert allowed.refuse is None, allowed.refuse
    assert any(expected[0] in n and "runs anyway (allow_empty: true)" in n for n in allowed.notes), allowed.notes
    return refused.refuse


def test_pod_kill_matching_nothing_lists_the_labels_values(env: FaultEnv) -> None:
    reason = _refused_then_noted(env, "pod-kill", "no pods match 'app=chekout' in namespace shop",
                                 "app= values there: cart, catalog, checkout, storefront",
                                 namespace="shop", selector="app=chekout", count=1)
    print(reason)
    two = _plan(env, "pod-kill", namespace="shop", selector="app=checkout,tier=web", count=1)
    assert two.refuse and "app= values there: cart" in two.refuse and "no pod there has a tier label" in two.refuse
    empty_ns = _plan(env, "pod-kill", namespace="nobody-here", selector="app=checkout", count=1)
    assert empty_ns.refuse and "the namespace has no running pods" in empty_ns.refuse
    assert _plan(env, "pod-kill", namespace="shop", selector="app=checkout", count=1).refuse is None


def test_deployment_scale_that_removes_no_pod(env: FaultEnv, sandbox: Any) -> None:
    sandbox.wait_deployments_ready()
    reason = _refused_then_noted(env, "deployment-scale", "shop/catalog has 3 replica(s); scaling it to 3 removes no pod",
                                 namespace="shop", name="catalog", replicas=3, duration="10s")
    print(reason)
    up = _plan(env, "deployment-scale", namespace="shop", name="catalog", replicas=5, duration="10s")
    assert up.refuse and "scaling it to 5 removes no pod" in up.refuse
    missing = _plan(env, "deployment-scale", allow_empty=True, namespace="shop", name="katalog", replicas=1,
                    duration="10s")
    assert missing.refuse == "deployment-scale: no deployment 'katalog' in namespace shop"
    assert _plan(env, "deployment-scale", namespace="shop", name="catalog", replicas=2, duration="10s").refuse is None


def test_zone_drain_with_nothing_to_evict_names_cordoned_nodes(env: FaultEnv) -> None:
    params: dict[str, Any] = {"zone": ZONE_B, "duration": "10s", "workload_namespaces": ["nobody-here"]}
    print(_refused_then_noted(env, "zone-drain", f"no pod to evict on the 2 node(s) of {ZONE_B}", **params))
    node = env.kube.list_nodes(f"topology.kubernetes.io/zone={ZONE_B}")[0]["metadata"]["name"]
    env.kube.set_unschedulable(node, True)
    try:
        reason = _plan(env, "zone-drain", **params).refuse
    finally:
        env.kube.set_unschedulable(node, False)
    assert reason and f"1 of them already cordoned ({node})" in reason and "harness rollback" in reason
    print(reason)
    nowhere = _plan(env, "zone-drain", zone="europe-west1-x", duration="10s")
    assert nowhere.refuse and "no Kubernetes node is labelled with zone europe-west1-x" in nowhere.refuse
    assert _plan(env, "zone-drain", zone=ZONE_B, duration="10s").refuse is None


def test_zone_outage_with_no_vm(env: FaultEnv) -> None:
    print(_refused_then_noted(env, "zone-outage", f"no VM of {ZONE_B} matches (match: name-prefix)",
                              zone=ZONE_B, duration="10s", match="name-prefix", name_prefix="nope-"))
    assert _plan(env, "zone-outage", zone=ZONE_B, duration="10s").refuse is None


def test_pg_faults_with_no_session_or_no_room(env: FaultEnv) -> None:
    reason = _refused_then_noted(env, "pg-terminate-backends", "no session matches application_name='chekout-%'",
                                 "application_name values now: ", "shop-checkout",
                                 application_name="chekout-%", dbname="shop")
    print(reason)
    both = _plan(env, "pg-terminate-backends", application_name="shop-%", user="nobody", dbname="shop")
    assert both.refuse and "user values now: " in both.refuse and "shop" in both.refuse.split("user values now: ")[1]
    assert _plan(env, "pg-terminate-backends", application_name="shop-%", dbname="shop").refuse is None
    print(_refused_then_noted(env, "pg-connection-exhaustion", "nothing to hold: ", "connections are in use and 100 must stay free",
                              reserve=100, duration="5s", dbname="shop"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_proxy_faults_on_an_existing_proxy_touch_it(env: FaultEnv, sandbox: Any) -> None:
    """Not refused as empty: a toxic on an existing proxy touches it, and disabling an already disabled
    proxy leaves the dependency down for the whole window (noted, never re-enabled by the revert)."""
    api = sandbox.endpoints["toxiproxy"]
    body = {"name": "plans-scratch", "listen": f"127.0.0.1:{_free_port()}", "upstream": "127.0.0.1:9",
            "enabled": False}
    httpx.post(f"{api}/proxies", json=body, timeout=5).raise_for_status()
    try:
        disabled = _plan(env, "db-outage", proxy="plans-scratch", duration="5s")
        assert disabled.refuse is None
        assert any("already disabled; this fault changes nothing" in n for n in disabled.notes), disabled.notes
        assert _plan(env, "db-outage", proxy="plans-scratch", mode="reset_peer", duration="5s").refuse is None
        missing = _plan(env, "db-latency", allow_empty=True, proxy="plans-missing", latency="1s", duration="5s")
        assert missing.refuse and "no proxy named 'plans-missing'" in missing.refuse
    finally:
        httpx.delete(f"{api}/proxies/plans-scratch", timeout=5)


def test_harness_plan_refuses_with_exit_2_unless_allow_empty(workspace: Any) -> None:
    body = """
slos:
  - {name: availability, sli: probe.health.success_ratio, objective: ">= 90%"}
probes:
  - {name: health, every: 1s, timeout: 2s, http: {url: /api/checkout/health}}
timeline:
  baseline: 1s
  faults:
    - at: 0s
      {allow}pod-kill: {namespace: shop, selector: app=chekout, count: 1}
  recovery: 1s
"""
    refused = workspace.experiment("typo", body.replace("{allow}", ""))
    proc = workspace.harness("plan", str(refused), check=2)
    assert "no pods match 'app=chekout' in namespace shop; app= values there: cart, catalog, checkout" in proc.stderr
    allowed = workspace.experiment("typo-allowed", body.replace("{allow}", "allow_empty: true\n      "))
    proc = workspace.harness("plan", str(allowed), check=0)
    assert "runs anyway (allow_empty: true)" in proc.stdout
