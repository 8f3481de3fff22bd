"""``kubernetes`` probe: ready replicas of a deployment, or the ready share of pods by selector."""

from __future__ import annotations

import asyncio
import time

from harness.aio import wait_timeout
from harness.clients.kube import pod_is_ready
from harness.errors import ClientError

from .base import Observation, Probe, register


@register
class KubernetesProbe(Probe):
    kind = "kubernetes"

    async def _counts(self) -> tuple[int, int]:
        p = self.params
        kube = self.env.kube
        if p.deployment:
            dep = await asyncio.to_thread(kube.get_deployment, p.namespace, p.deployment)
            status = dep.get("status") or {}
            return int(status.get("readyReplicas") or 0), int(dep["spec"].get("replicas") or 0)
        pods = await asyncio.to_thread(kube.list_pods, p.namespace, p.selector)
        return sum(1 for pod in pods if pod_is_ready(pod)), len(pods)

    async def observe(self) -> Observation:
        p = self.params
        start = time.perf_counter()
        try:
            ready, total = await wait_timeout(self._counts(), self.timeout)
        except (ClientError, TimeoutError) as exc:
            return Observation(False, (time.perf_counter() - start) * 1000, f"{type(exc).__name__}: {exc}")
        ms = (time.perf_counter() - start) * 1000
        if p.min_ready is not None and ready < p.min_ready:
            return Observation(False, ms, f"{ready} ready, expected at least {p.min_ready}")
        if p.min_ready_fraction is not None and (total == 0 or ready / total < p.min_ready_fraction):
            return Observation(False, ms, f"{ready}/{total} ready, expected {p.min_ready_fraction:.0%}")
        if p.min_ready is None and p.min_ready_fraction is None and ready < total:
            return Observation(False, ms, f"{ready}/{total} ready")
        return Observation(True, ms, f"{ready}/{total} ready")
