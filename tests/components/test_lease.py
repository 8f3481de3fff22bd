"""The target lease against the sandbox's Kubernetes API (official client): one holder at a time,
renewal, release, and take-over once a dead holder's lease has expired."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.clients.kube import KubeClient
from harness.clients.lease import LeaseLost, TargetLease, parse_micro_time
from harness.errors import Refused
from tests.components.test_kubeapi import Sandbox, sbx  # noqa: F401 - the in-process API server fixture


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kube(sbx: Sandbox, tmp_path: Path) -> KubeClient:  # noqa: F811
    return KubeClient(str(tmp_path / "kubeconfig"))


def _lease(kube: KubeClient, holder: str, clock: Clock) -> TargetLease:
    return TargetLease(kube, holder, "sandbox", seconds=30, clock=clock)


def test_one_holder_at_a_time_until_it_releases(kube: KubeClient) -> None:
    clock = Clock()
    first, second = _lease(kube, "ci-1: checkout-pod-kill", clock), _lease(kube, "ci-2: zone-outage", clock)
    first.acquire()
    clock.now += 10
    with pytest.raises(Refused, match=r"ci-1: checkout-pod-kill holds the lease default/shop-resilience-harness "
                                      r"since 2027-01-15 08:00:00 UTC .*expires in 20 s"):
        second.acquire()
    first.renew()
    spec = kube.get_lease("default", "shop-resilience-harness")["spec"]
    assert parse_micro_time(spec["renewTime"]) == clock.now and spec["holderIdentity"] == "ci-1: checkout-pod-kill"
    first.release()
    second.acquire()
    spec = kube.get_lease("default", "shop-resilience-harness")["spec"]
    assert spec["holderIdentity"] == "ci-2: zone-outage" and spec["leaseDurationSeconds"] == 30


def test_a_dead_holders_lease_expires_and_is_taken_over(kube: KubeClient) -> None:
    clock = Clock()
    dead, next_run = _lease(kube, "laptop: killed -9", clock), _lease(kube, "ci-3", clock)
    dead.acquire()
    clock.now += 29
    with pytest.raises(Refused):
        next_run.acquire()
    clock.now += 2  # 31 s without a renewal: expired
    next_run.acquire()
    assert kube.get_lease("default", "shop-resilience-harness")["spec"]["leaseTransitions"] == 1
    with pytest.raises(LeaseLost, match="now held by ci-3"):
        dead.renew()


def test_a_run_gives_its_lease_back_through_transient_api_errors(sbx: Sandbox, tmp_path: Path) -> None:  # noqa: F811
    import asyncio

    from harness.clients.connect import Connection
    from harness.events import Event
    from harness.run.leasing import RunLease
    from harness.sandbox.core import apifaults
    from harness.spec.targets import LeaseSpec

    run = RunLease(Connection(kind="sandbox", site_url="http://127.0.0.1:1", kubeconfig=str(tmp_path / "kubeconfig")),
                   LeaseSpec(), "sandbox", "drain-flaky")
    seen: list[str] = []
    run.record = lambda type_, **fields: seen.append(str(type_))

    async def scenario() -> None:
        await run.take()
        apifaults.configure(sbx.ctx, {"rate": 0.5, "codes": [503], "seed": 11})
        try:
            await run.give_back()
        finally:
            apifaults.clear(sbx.ctx)

    asyncio.run(scenario())
    assert str(Event.LEASE_RELEASED) in seen and str(Event.LEASE_RENEW_FAILED) not in seen
    other = TargetLease(KubeClient(str(tmp_path / "kubeconfig")), "next run", "sandbox", seconds=30)
    other.acquire()  # at once: not after the lease expired


def test_a_holder_gone_from_this_machine_is_taken_over_at_once(kube: KubeClient) -> None:
    import os
    import subprocess

    from harness.run.leasing import holder_identity

    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = holder_identity("drain-flaky").replace(f" pid {os.getpid()}:", f" pid {gone.pid}:")
    assert dead != holder_identity("drain-flaky")
    clock = Clock()
    _lease(kube, dead, clock).acquire()  # its release was lost (API errors, kill -9): unexpired for 30 s
    alive = _lease(kube, "root@elsewhere pid 1: still running", clock)
    clock.now += 1
    nxt = _lease(kube, holder_identity("net-d"), clock)
    nxt.acquire()
    assert nxt.took_over == dead
    assert kube.get_lease("default", "shop-resilience-harness")["spec"]["leaseTransitions"] == 1
    # a live process of this machine, or a holder from another machine (another boot id), keeps it
    with pytest.raises(Refused, match="net-d holds"):
        _lease(kube, holder_identity("gate"), clock).acquire()
    lease = kube.get_lease("default", "shop-resilience-harness")
    lease["metadata"]["annotations"]["harness.shop/holder-boot-id"] = "another-machine"
    lease["spec"]["holderIdentity"] = dead
    kube.replace_lease("default", "shop-resilience-harness", lease)
    with pytest.raises(Refused, match="holds the lease"):
        alive.acquire()
