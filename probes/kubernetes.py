"""``kubernetes`` probe: ready replicas of a deployment, or the ready share of pods by selector."""

from __future__ import annotations

import asyncio
import time

from pydantic import Field, model_validator

from harness.aio import wait_timeout
from harness.clients.kube import pod_is_ready
from harness.errors import ClientError
from harness.selectors import SelectorError, parse_label_selector
from harness.spec.access import Access, KubeRule
from harness.spec.fieldtypes import Ratio
from harness.spec.params import ProbeParams
from harness.spec.registry import PROBES

from .base import Observation, Probe
from .ports import KubeReader


class KubernetesProbeParams(ProbeParams):
    """Counts ready pods of a deployment (or a label selector) against a minimum."""

    namespace: str = Field(description="Namespace to look in.")
    deployment: str | None = Field(default=None, description="Deployment whose ready replicas count.")
    selector: str | None = Field(default=None, description="Label selector of the pods that count.")
    min_ready: int | None = Field(default=None, ge=0, description="At least this many ready pods.")
    min_ready_fraction: Ratio | None = Field(
        default=None, description="At least this share of desired replicas ready (0..1 or %)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> KubernetesProbeParams:
        if (self.deployment is None) == (self.selector is None):
            raise ValueError("give exactly one of `deployment` or `selector`")
        if self.selector is not None:
            try:
                parse_label_selector(self.selector)
            except SelectorError as exc:
                raise ValueError(f"invalid label selector: {exc}") from None
        return self


@PROBES.register
class KubernetesProbe(Probe):
    kind = "kubernetes"
    Params = KubernetesProbeParams
    access = Access(kube=(KubeRule("apps", ("deployments",), ("get",)), KubeRule("", ("pods",), ("list",))))

    async def _counts(self, kube: KubeReader) -> tuple[int, int]:
        p = self.params
        if p.deployment:
            dep = await asyncio.to_thread(kube.get_deployment, p.namespace, p.deployment)
            status = dep.get("status") or {}
            return int(status.get("readyReplicas") or 0), int(dep["spec"].get("replicas") or 0)
        pods = await asyncio.to_thread(kube.list_pods, p.namespace, p.selector)
        return sum(1 for pod in pods if pod_is_ready(pod)), len(pods)

    async def observe(self) -> Observation:
        p, kube = self.params, self.env.kube
        if kube is None:
            return Observation(False, None, "no Kubernetes API for this target")
        start = time.perf_counter()
        try:
            ready, total = await wait_timeout(self._counts(kube), self.timeout)
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
