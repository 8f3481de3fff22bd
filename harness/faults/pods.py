"""Pod faults: ``pod-kill`` (delete matching pods, once or every N seconds) and ``deployment-scale``."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from harness.clients.kube import pod_is_ready
from harness.retry import retry_transient

from .base import Fault, FaultEnv, FaultPlan, register


async def _kube(env: FaultEnv, what: str, fn: Any, *args: Any) -> Any:
    """A Kubernetes call off the event loop, through the one retry policy."""

    async def call() -> Any:
        return await asyncio.to_thread(fn, *args)

    return await retry_transient(call, deadline=30, what=what, on_retry=env.on_retry)


@register
class PodKill(Fault):
    """Delete ``count`` (or ``fraction`` of) the ready pods matching a selector; repeat ``every``."""

    kind = "pod-kill"

    def _how_many(self, n: int) -> int:
        p = self.params
        if p.count is not None:
            return min(int(p.count), n)
        return min(n, max(1, math.ceil(float(p.fraction) * n)))

    async def _candidates(self) -> list[dict[str, Any]]:
        p = self.params
        pods = await _kube(self.env, "list pods", self.env.kube.list_pods, p.namespace, p.selector)
        return [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]

    async def plan(self) -> FaultPlan:
        p = self.params
        pods = await self._candidates()
        if not pods:
            return FaultPlan([], refuse=f"pod-kill: no pods match {p.selector!r} in namespace {p.namespace!r}")
        k = self._how_many(len(pods))
        share = k / len(pods)
        names = [f"{p.namespace}/{pod['metadata']['name']}" for pod in pods]
        plan = FaultPlan(
            targets=names,
            notes=[f"kills {k} of {len(pods)} pods matching {p.selector!r} per round"
                   + (f", every {p.every:g}s for {p.duration:g}s" if p.every else "")],
            blast={"pods": k, "of": len(pods), "fraction": round(share, 3)},
        )
        if share > self.env.max_pods_fraction:
            plan.refuse = (
                f"pod-kill would kill {k} of {len(pods)} pods ({share:.0%}), beyond "
                f"safety.max_pods_fraction {self.env.max_pods_fraction:.0%}"
            )
        return plan

    def _choose(self, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
        k = self._how_many(len(pods))
        ready = [pod for pod in pods if pod_is_ready(pod)] or pods
        if self.params.order == "oldest":
            return sorted(ready, key=lambda pod: pod["metadata"].get("creationTimestamp", ""))[:k]
        return self.env.rng.sample(ready, min(k, len(ready)))

    async def inject(self) -> None:
        p = self.params
        victims = self._choose(await self._candidates())
        names = [pod["metadata"]["name"] for pod in victims]
        self.record_undo({"namespace": p.namespace, "killed": names, "note": "replaced by their controller"})
        for name in names:
            await _kube(self.env, f"delete pod {name}", self.env.kube.delete_pod, p.namespace, name, p.grace_period)
            self.targets.append(f"{p.namespace}/{name}")
        self.env.record("fault.action", id=self.id, kind=self.kind, action="killed", pods=names)


@register
class DeploymentScale(Fault):
    """Set a deployment's replicas for ``duration``, then restore the previous count."""

    kind = "deployment-scale"

    async def plan(self) -> FaultPlan:
        p = self.params
        current = await _kube(self.env, "get scale", self.env.kube.get_scale, p.namespace, p.name)
        lost = max(0, current - p.replicas)
        share = lost / current if current else 0.0
        plan = FaultPlan(
            targets=[f"{p.namespace}/deployment/{p.name}"],
            notes=[f"scales {p.namespace}/{p.name} from {current} to {p.replicas} for {p.duration:g}s"],
            blast={"pods": lost, "of": current, "fraction": round(share, 3)},
        )
        if share > self.env.max_pods_fraction:
            plan.refuse = (
                f"deployment-scale removes {lost} of {current} pods ({share:.0%}), beyond "
                f"safety.max_pods_fraction {self.env.max_pods_fraction:.0%}"
            )
        return plan

    async def inject(self) -> None:
        p = self.params
        previous = await _kube(self.env, "get scale", self.env.kube.get_scale, p.namespace, p.name)
        self.record_undo({"namespace": p.namespace, "name": p.name, "replicas": previous})
        await _kube(self.env, "set scale", self.env.kube.set_scale, p.namespace, p.name, p.replicas)
        self.targets.append(f"{p.namespace}/deployment/{p.name}")

    @classmethod
    async def undo(cls, records: list[dict[str, Any]], env: FaultEnv) -> None:
        for rec in reversed(records):
            await _kube(env, "restore scale", env.kube.set_scale, rec["namespace"], rec["name"], rec["replicas"])
