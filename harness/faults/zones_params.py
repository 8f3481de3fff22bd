"""The parameters of the zone faults (``zone-drain``, ``zone-outage``), validated with the experiment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from harness.selectors import SelectorError, parse_label_selector
from harness.spec.fieldtypes import Duration
from harness.spec.params import FaultParams

ZONE_PATTERN = r"^[a-z]+-[a-z]+[0-9]+-[a-z]$"

class ZoneFaultParams(FaultParams):
    """What every zone fault shares."""

    zone: str = Field(pattern=ZONE_PATTERN, description="The zone to take out, e.g. europe-west1-b.")
    duration: Duration = Field(gt=0, description="How long the zone stays out before the fault is reverted.")
    workload_namespaces: list[str] = Field(
        default_factory=lambda: ["shop"], min_length=1,
        description="Namespaces whose pods are moved (drain) and whose deployments are watched for recovery.",
    )
    watch_after_revert: Duration = Field(
        default=120.0, ge=0,
        description="How long after the revert to keep watching for every deployment to be back at its "
                    "desired ready replicas (the measurement only; the run does not wait for it).",
    )

    def namespaces(self) -> list[str]:
        """The namespaces whose pods this fault moves or cuts off."""
        return list(self.workload_namespaces)


class ZoneDrainParams(ZoneFaultParams):
    """Cordon every node of a zone and evict their pods through the Eviction API (honours PDBs)."""

    eviction_deadline: Duration = Field(
        default=60.0, gt=0,
        description="How long to keep retrying an eviction a PDB refuses (429) before naming the pod as "
                    "not evicted.",
    )
    parallelism: int = Field(default=2, ge=1, le=64, description="Nodes drained at the same time.")


OutageMode = Literal["stop-instances", "network"]
MatchBy = Literal["node-names", "name-prefix", "label", "instance-group"]
Direction = Literal["ingress", "egress", "both"]


class ZoneOutageParams(ZoneFaultParams):
    """Take a zone's VMs away through Compute Engine: stop them, or cut their network with deny rules."""

    mode: OutageMode = Field(
        default="stop-instances",
        description="stop-instances: stop the VMs (and keep stopping any that come back); "
                    "network: tag the VMs and insert deny firewall rules.",
    )
    match: MatchBy = Field(
        default="node-names",
        description="How the zone's VMs are found: node-names (VMs named like the cluster's nodes in the "
                    "zone), name-prefix, label (a Compute label selector k=v) or instance-group.",
    )
    name_prefix: str | None = Field(default=None, description="VM name prefix, for match: name-prefix.")
    label: str | None = Field(default=None, description="Label selector like 'goog-k8s-cluster-name=shop', "
                                                        "for match: label.")
    instance_group: str | None = Field(
        default=None, description="Managed instance group name (from the VMs' created-by), for match: "
                                  "instance-group.",
    )
    direction: Direction = Field(default="both", description="Which traffic the network mode denies.")
    operation_deadline: Duration = Field(
        default=120.0, gt=0, description="Deadline for every Compute Engine operation (stop, start, tags, rules).",
    )
    recheck_every: Duration = Field(
        default=2.0, gt=0, description="How often stop-instances checks for VMs that came back, to stop them again.",
    )

    @model_validator(mode="after")
    def _match_has_its_value(self) -> ZoneOutageParams:
        needed = {"name-prefix": self.name_prefix, "label": self.label, "instance-group": self.instance_group}
        if self.match in needed and not needed[self.match]:
            raise ValueError(f"match: {self.match} needs `{self.match.replace('-', '_')}`")
        if self.label is not None:
            try:
                parse_label_selector(self.label)
            except SelectorError as exc:
                raise ValueError(f"invalid label selector: {exc}") from None
        return self
