"""A miniature sandbox for the zone-fault tests: the Kubernetes API, the Compute Engine API and the
controller (virtual, processless pods) on one loop in a background thread, with compressed timings,
reached by the harness's real clients over loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.clients.compute import ComputeClient
from harness.clients.kube import KubeClient
from harness.faults.base import Fault, FaultEnv
from harness.journal import Journal, read_journal
from harness.sandbox.compute.api import ComputeApi
from harness.sandbox.config import NodeShape, SandboxConfig, ServiceSpec, Timings
from harness.sandbox.controller.manager import Controller
from harness.sandbox.core import apifaults
from harness.sandbox.core.context import new_context
from harness.sandbox.kube.apiserver import KubeApi
from harness.sandbox.kube.kubeconfig import write_kubeconfig
from harness.sandbox.kube.testing import LoopThread

FAST = Timings(container_start_delay=0.1, readiness_period=0.2, readiness_threshold=1, endpoint_lag=0.1,
               node_monitor_grace=1.0, pod_eviction_timeout=1.0, default_grace_period=1.0,
               vm_stop_delay=0.1, reconcile_interval=0.1)
ZONE_B, ZONE_C, ZONE_D = "europe-west1-b", "europe-west1-c", "europe-west1-d"


def vsvc(name: str, replicas: int, cpu: int = 500, pdb: int | None = None) -> ServiceSpec:
    return ServiceSpec(name=name, replicas=replicas, cpu_millis=cpu, path_prefix=f"/api/{name}", virtual=True,
                       pdb_min_available=pdb)


def mini_config(services: list[ServiceSpec] | None = None, nodes_per_zone: int = 2, cpu: int = 4000) -> SandboxConfig:
    return SandboxConfig(zones=["b", "c", "d"], nodes_per_zone=nodes_per_zone,
                         services=services or [vsvc("web", 3, pdb=2), vsvc("api", 3)],
                         timings=FAST, node=NodeShape(cpu_millis=cpu), pod_network="127.103.0.0/16",
                         pod_port=18093, prometheus=False)


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Mini:
    """The running miniature; ``env()`` builds a FaultEnv journaling to ``events.jsonl``."""

    def __init__(self, tmp: Path, config: SandboxConfig) -> None:
        self.tmp = tmp
        self.ctx = new_context(config, tmp / "sb")
        self.lt = LoopThread().__enter__()
        self.parts: list[Any] = [KubeApi(), ComputeApi(), Controller()]
        for part in self.parts:
            self.lt.run(part.start(self.ctx))
            self.ctx.components[part.name] = part
        api = self.parts[0]
        write_kubeconfig(tmp / "kubeconfig", api.url, api.token, api.tls.ca_pem)
        self.kube = KubeClient(str(tmp / "kubeconfig"))
        self.compute = ComputeClient(config.project, self.ctx.url("compute"))
        self.journal = Journal(tmp / "events.jsonl")
        wait_for(self.all_ready, 30, "deployments ready")

    def env(self, **kw: Any) -> FaultEnv:
        return FaultEnv(record=self.journal.write, kube=self.kube, compute=self.compute, project=self.ctx.config.project,
                        region=self.ctx.config.region, **kw)

    def all_ready(self) -> bool:
        deps = self.kube.list_deployments("shop")
        return bool(deps) and all((d.get("status") or {}).get("readyReplicas", 0) == d["spec"]["replicas"]
                                  for d in deps)

    def pods_in_zone(self, zone: str) -> list[str]:
        nodes = {n for n, vm in self.ctx.vms.items() if vm.zone == zone}
        return [p["metadata"]["name"] for p in self.kube.list_pods("shop")
                if p["spec"].get("nodeName") in nodes and not p["metadata"].get("deletionTimestamp")]

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        evs = read_journal(self.tmp / "events.jsonl")
        return [e for e in evs if type_ is None or e["type"] == type_]

    def close(self) -> None:
        apifaults.clear(self.ctx)
        self.kube.close()
        self.compute.close()
        self.journal.close()
        for part in reversed(self.parts):
            self.lt.run(asyncio.wait_for(part.stop(), 20))
        self.lt.__exit__(None, None, None)
        self.ctx.truth.close()


async def lifecycle(fault: Fault, hold: float, during: Callable[[], Any] | None = None) -> None:
    """plan (must not refuse) -> inject -> hold (with ``during`` running in a thread meanwhile) -> revert."""
    plan = await fault.plan()
    assert plan.refuse is None, plan.refuse
    until = time.time() + hold
    await fault.inject()
    try:
        if during is None:
            await fault.hold(until)
        else:
            await asyncio.gather(asyncio.to_thread(during), fault.hold(until))
    finally:
        await fault.revert()
        watch = getattr(fault, "watch", None)
        if watch is not None:
            await watch.finished(20)
