"""Pod faults: ``pod-kill`` (delete matching pods, once or every N seconds) and ``deployment-scale``."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.clients.kube import pod_is_ready
from harness.errors import PermanentClientError
from harness.events import Event
from harness.retry import retry_transient
from harness.selectors import SelectorError, parse_label_selector
from harness.spec.access import Access, KubeRule
from harness.spec.fieldtypes import Duration
from harness.spec.params import FaultParams
from harness.spec.registry import FAULTS

from .base import Fault, FaultEnv, FaultPlan, undo_each
from .undo import Journaled, PodsKilled, RestoreScale


def _check_selector(value: str) -> str:
    try:
        parse_label_selector(value)
    except SelectorError as exc:
        raise ValueError(f"invalid label selector: {exc}") from None
    if not value.strip():
        raise ValueError("the selector must not be empty (it would match every pod)")
    return value


class PodKillParams(FaultParams):
    """Delete pods matching a label selector, once or repeatedly."""

    namespace: str = Field(description="Namespace of the pods to kill.")
    selector: str = Field(description="Label selector of the pods, e.g. 'app=checkout'.")
    count: int | None = Field(default=None, ge=1, description="How many pods to kill each time.")
    fraction: float | None = Field(
        default=None, gt=0, le=1, description="Share of the matching pods to kill each time (0 < f <= 1)."
    )
    every: Duration | None = Field(default=None, description="Repeat the kill this often during `duration`.")
    duration: Duration = Field(default=0.0, description="How long the fault lasts; 0 = a single shot.")
    grace_period: int | None = Field(
        default=None, ge=0, description="Grace period seconds for the delete; None = the pod's own."
    )
    order: Literal["random", "oldest"] = Field(default="random", description="Which matching pods go first.")
    seed: int | None = Field(default=None, description="Seed for the random choice, for repeatable runs.")

    @field_validator("selector")
    @classmethod
    def _selector_ok(cls, value: str) -> str:
        return _check_selector(value)

    @model_validator(mode="after")
    def _count_xor_fraction(self) -> PodKillParams:
        if (self.count is None) == (self.fraction is None):
            raise ValueError("give exactly one of `count` or `fraction`")
        if self.every is not None and self.every <= 0:
            raise ValueError("`every` must be greater than 0")
        if self.every is not None and self.duration <= 0:
            raise ValueError("`every` needs a `duration` > 0 to repeat within")
        return self

    def namespaces(self) -> list[str]:
        """The pods' namespace."""
        return [self.namespace]


class DeploymentScaleParams(FaultParams):
    """Scale a deployment to a replica count for a while, then restore the original count."""

    namespace: str = Field(description="Namespace of the deployment.")
    name: str = Field(description="Deployment name.")
    replicas: int = Field(ge=0, description="Replica count during the fault.")
    duration: Duration = Field(gt=0, description="How long to hold the scaled-down count.")

    def namespaces(self) -> list[str]:
        """The deployment's namespace."""
        return [self.namespace]


async def _kube(env: FaultEnv, what: str, fn: Any, *args: Any) -> Any:
    """A Kubernetes call off the event loop, through the one retry policy."""

    async def call() -> Any:
        return await asyncio.to_thread(fn, *args)

    return await retry_transient(call, deadline=30, what=what, on_retry=env.on_retry)


DELETE_CONCURRENCY = 24
"""Pod deletes in flight at once (threads of the pod-kill's own pool; the Kubernetes client's connection
pool is at least this big, see harness.clients.kube)."""
BATCH = 100
"""Pods per undo record: a batch's ``PodsKilled`` is journaled before any of its deletes starts."""


@FAULTS.register
class PodKill(Fault):
    """Delete ``count`` (or ``fraction`` of) the ready pods matching a selector; repeat ``every``."""

    kind = "pod-kill"
    Params = PodKillParams
    access = Access(kube=(KubeRule("", ("pods",), ("list", "delete")),))

    def _how_many(self, n: int) -> int:
        p = self.params
        if p.count is not None:
            return min(int(p.count), n)
        return min(n, max(1, math.ceil(float(p.fraction) * n)))

    async def _candidates(self) -> list[dict[str, Any]]:
        p = self.params
        pods = await _kube(self.env, "list pods", self.env.need_kube().list_pods, p.namespace, p.selector)
        return [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]

    async def _no_match(self) -> str:
        """Why nothing matches, with the values the selector's labels have in the namespace."""
        p = self.params
        everyone = await _kube(self.env, "list pods", self.env.need_kube().list_pods, p.namespace, None)
        live = [pod for pod in everyone if not pod["metadata"].get("deletionTimestamp")]
        reason = f"{self.kind}: no pods match {p.selector!r} in namespace {p.namespace}"
        if not live:
            return f"{reason}; the namespace has no running pods"
        for key in _selector_keys(p.selector):
            values = sorted({str(v) for pod in live if (v := (pod["metadata"].get("labels") or {}).get(key)) is not None})
            reason += f"; {key}= values there: {', '.join(values)}" if values else f"; no pod there has a {key} label"
        return reason

    async def plan(self) -> FaultPlan:
        p = self.params
        pods = await self._candidates()
        if not pods:
            return FaultPlan([], blast={"pods": 0}).empty(await self._no_match(), self.allow_empty)
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
        victims = self._choose(await self._candidates())
        if not victims:  # allow_empty, or the pods went away since the plan
            self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="killed", pods=[])
            return
        names = [pod["metadata"]["name"] for pod in victims]
        first, errors = await self._delete_all(names)
        took = time.time() - first
        self.measurements.update(pods_killed=len(names), delete_seconds=round(took, 3))
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="killed", pods=names,
                        first_delete=round(first, 3), delete_seconds=round(took, 3), failed=len(errors))
        if errors:
            raise errors[0]

    async def _delete_all(self, names: list[str]) -> tuple[float, list[BaseException]]:
        """Delete ``names``, DELETE_CONCURRENCY at a time, journaling one undo record per BATCH pods before
        the first delete of that batch starts. Returns when the first delete started and every error
        (each pod is tried whatever happens to the others)."""
        p = self.params
        kube = self.env.need_kube()
        gate = asyncio.Semaphore(DELETE_CONCURRENCY)
        loop = asyncio.get_running_loop()
        first = 0.0

        async def one(pool: ThreadPoolExecutor, name: str) -> None:
            async def call() -> Any:
                return await loop.run_in_executor(pool, kube.delete_pod, p.namespace, name, p.grace_period)

            try:
                await retry_transient(call, deadline=30, what=f"delete pod {name}", on_retry=self.env.on_retry)
                self.targets.append(f"{p.namespace}/{name}")
            finally:
                gate.release()

        with ThreadPoolExecutor(DELETE_CONCURRENCY, thread_name_prefix="pod-kill") as pool:
            tasks = []
            for i, name in enumerate(names):
                await gate.acquire()
                if i % BATCH == 0:
                    self.record_undo(PodsKilled(namespace=p.namespace, killed=names[i:i + BATCH]))
                first = first or time.time()
                tasks.append(asyncio.create_task(one(pool, name)))
            results = await asyncio.gather(*tasks, return_exceptions=True)
        return first, [r for r in results if isinstance(r, BaseException)]


@FAULTS.register
class DeploymentScale(Fault):
    """Set a deployment's replicas for ``duration``, then restore the previous count."""

    kind = "deployment-scale"
    Params = DeploymentScaleParams
    access = Access(kube=(KubeRule("apps", ("deployments/scale",), ("get", "patch")),))

    async def plan(self) -> FaultPlan:
        p = self.params
        try:
            current = await _kube(self.env, "get scale", self.env.need_kube().get_scale, p.namespace, p.name)
        except PermanentClientError as exc:
            if exc.status != 404:
                raise
            return FaultPlan([], refuse=f"{self.kind}: no deployment {p.name!r} in namespace {p.namespace}")
        lost = max(0, current - p.replicas)
        share = lost / current if current else 0.0
        plan = FaultPlan(
            targets=[f"{p.namespace}/deployment/{p.name}"],
            notes=[f"scales {p.namespace}/{p.name} from {current} to {p.replicas} for {p.duration:g}s"],
            blast={"pods": lost, "of": current, "fraction": round(share, 3)},
        )
        if lost == 0:
            plan.empty(f"{self.kind}: {p.namespace}/{p.name} has {current} replica(s); scaling it to {p.replicas} "
                       "removes no pod", self.allow_empty)
        elif share > self.env.max_pods_fraction:
            plan.refuse = (
                f"deployment-scale removes {lost} of {current} pods ({share:.0%}), beyond "
                f"safety.max_pods_fraction {self.env.max_pods_fraction:.0%}"
            )
        return plan

    async def inject(self) -> None:
        p = self.params
        kube = self.env.need_kube()
        previous = await _kube(self.env, "get scale", kube.get_scale, p.namespace, p.name)
        self.record_undo(RestoreScale(namespace=p.namespace, name=p.name, replicas=previous))
        await _kube(self.env, "set scale", kube.set_scale, p.namespace, p.name, p.replicas)
        self.targets.append(f"{p.namespace}/deployment/{p.name}")

    @classmethod
    async def undo(cls, records: Sequence[Journaled], env: FaultEnv) -> None:
        async def restore(rec: RestoreScale) -> None:
            await _kube(env, "restore scale", env.need_kube().set_scale, rec.namespace, rec.name, rec.replicas)

        await undo_each(list(reversed(records)), RestoreScale, restore)


def _selector_keys(selector: str) -> list[str]:
    """The label keys a selector names (``app=x,tier in (a,b),!canary`` -> app, tier, canary)."""
    keys = re.findall(r"(?:^|,)\s*!?([A-Za-z0-9_./-]+)", re.sub(r"\([^)]*\)", "", selector))
    return list(dict.fromkeys(keys))
