"""Parameter models of every fault kind, and the registry that maps a kind key to its model.

An experiment's fault step is written as ``{at: 10s, pod-kill: {...}}``; the key ``pod-kill`` is looked
up in ``FAULT_PARAMS`` and its value validated by the registered model. Every model answers
``namespaces()`` so safety checks (protected / allowed namespaces) stay generic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.selectors import SelectorError, parse_label_selector
from harness.spec.fieldtypes import Duration
from harness.spec.registry import KindRegistry

from .params_base import FaultParams


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


def default_fault_registry() -> KindRegistry:
    """A registry holding every built-in fault kind."""
    registry = KindRegistry("fault")
    registry.register("pod-kill", PodKillParams)
    registry.register("deployment-scale", DeploymentScaleParams)
    from . import params_databases, params_zones

    params_zones.register_all(registry)
    params_databases.register_all(registry)
    return registry


FAULT_PARAMS = default_fault_registry()
"""The registry the spec validates fault steps against (extend with ``FAULT_PARAMS.register``)."""
