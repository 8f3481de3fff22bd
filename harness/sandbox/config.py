"""Sandbox configuration: topology, capacity and (compressed) timings, with documented defaults."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeShape(_Frozen):
    """Allocatable resources of every node."""

    cpu_millis: int = Field(4000, description="Allocatable CPU per node, in millicores.")
    memory_mib: int = Field(8192, description="Allocatable memory per node, in MiB.")
    max_pods: int = Field(110, description="Maximum pods per node.")


class ServiceSpec(_Frozen):
    """One deployment of the shop."""

    name: str = Field(description="Deployment name; pods are labelled app=<name>.")
    replicas: int = Field(3, ge=0, description="Desired replicas.")
    cpu_millis: int = Field(500, description="CPU request per pod, millicores.")
    memory_mib: int = Field(256, description="Memory request per pod, MiB.")
    concurrency: int = Field(8, ge=1, description="Requests one pod serves at once; the rest queue.")
    service_time_ms: float = Field(20.0, ge=0, description="CPU-free service time added to every request.")
    queue_limit: int = Field(64, ge=0, description="Requests allowed to wait; beyond this the pod answers 503.")
    path_prefix: str = Field(description="Ingress path prefix routed to this service, e.g. /api/catalog.")
    pdb_min_available: int | None = Field(None, description="PodDisruptionBudget minAvailable, or none.")
    virtual: bool = Field(False, description="Pods without processes (for scale tests).")


def _default_services() -> list[ServiceSpec]:
    return [
        ServiceSpec(name="storefront", path_prefix="/", service_time_ms=10, pdb_min_available=1),
        ServiceSpec(name="catalog", path_prefix="/api/catalog", service_time_ms=15, pdb_min_available=1),
        ServiceSpec(name="cart", path_prefix="/api/cart", service_time_ms=10, pdb_min_available=1),
        ServiceSpec(name="checkout", path_prefix="/api/checkout", service_time_ms=40, pdb_min_available=2),
    ]


class Timings(_Frozen):
    """Compressed timings (seconds) so a game day runs in minutes."""

    container_start_delay: float = Field(1.0, description="Stand-in for image pull and container start.")
    readiness_period: float = Field(0.5, description="How often the kubelet checks /readyz.")
    readiness_threshold: int = Field(1, description="Consecutive successful checks before Ready.")
    endpoint_lag: float = Field(1.0, description="Delay before the ingress sees an endpoint change.")
    node_monitor_grace: float = Field(4.0, description="Silence before a node whose VM stopped turns NotReady.")
    pod_eviction_timeout: float = Field(6.0, description="NotReady toleration before its pods are evicted.")
    default_grace_period: float = Field(5.0, description="Default terminationGracePeriodSeconds.")
    vm_stop_delay: float = Field(0.5, description="How long a stop/start operation takes.")
    reconcile_interval: float = Field(0.2, description="Controller resync period.")
    mig_repair_delay: float = Field(
        3.0, ge=0, description="How long a managed instance group whose repair is on waits before recreating a "
                               "VM someone else stopped (new instance id, same name; its node comes back NotReady, "
                               "then Ready).")


class SandboxConfig(_Frozen):
    """Everything `harness sandbox up` builds. Load with `load_config`; `harness sandbox config` prints it."""

    project: str = Field("sandbox-project", description="GCP project id the Compute API answers for.")
    region: str = Field("europe-west1", description="Region of the cluster.")
    zones: list[str] = Field(default_factory=lambda: ["b", "c", "d"], description="Zone suffixes.")
    nodes_per_zone: int = Field(2, ge=0, description="Nodes (and VMs) per zone.")
    cluster_name: str = Field("shop", description="GKE cluster name, used in node and VM names.")
    node: NodeShape = Field(default_factory=NodeShape)
    namespace: str = Field("shop", description="Namespace of the shop.")
    services: list[ServiceSpec] = Field(default_factory=_default_services)
    timings: Timings = Field(default_factory=Timings)
    pod_network: str = Field("127.100.0.0/16", description="Loopback range pod IPs are taken from.")
    pod_port: int = Field(8080, description="Port every pod listens on, at its own IP.")
    products: int = Field(1000, ge=1, description="Products seeded into PostgreSQL.")
    partner_latency_ms: float = Field(30.0, description="Payment partner's own latency.")
    db_pool_size: int = Field(4, ge=1, description="PostgreSQL connections per shop pod.")
    prometheus: bool = Field(True, description="Start Prometheus when a binary is on PATH.")
    scrape_interval: str = Field("2s", description="Prometheus scrape interval.")
    node_network: str = Field(
        "shop-vpc", description="The VPC network the node VMs' interfaces are on. The sandbox has this network "
                                "and `default`; firewall rules naming any other network are refused, as the API does.")
    mig_repair: bool = Field(
        True, description="Start every zone's managed instance group with repair on, as GKE's are (autoHealingPolicies "
                          "plus instanceLifecyclePolicy.defaultActionOnFailure: REPAIR): a VM stopped behind the MIG's "
                          "back is recreated after timings.mig_repair_delay. False: DO_NOTHING, no health check.")
    denied_permissions: list[str] = Field(
        default_factory=list,
        description="Permissions the sandbox denies to every caller, to test preflight checks: Kubernetes as "
                    "'<verb> <resource>[/<subresource>]' (e.g. 'create pods/eviction'), answered by "
                    "SelfSubjectAccessReview and refused with 403; Compute as IAM permission names (e.g. "
                    "'compute.instances.stop'), answered by testIamPermissions and refused with 403.")

    @property
    def zone_names(self) -> list[str]:
        return [f"{self.region}-{z}" for z in self.zones]

    def service(self, name: str) -> ServiceSpec:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)


def load_config(path: Path | None) -> SandboxConfig:
    """Read a YAML sandbox config; missing keys take their documented defaults."""
    if path is None:
        return SandboxConfig()
    data = yaml.safe_load(Path(path).read_text()) or {}
    return SandboxConfig.model_validate(data)


def dump_defaults() -> str:
    """The default config as commented YAML."""
    lines = ["# harness sandbox config (defaults)"]
    for name, field in SandboxConfig.model_fields.items():
        if field.description:
            lines.append(f"# {name}: {field.description}")
    lines.append(yaml.safe_dump(SandboxConfig().model_dump(), sort_keys=False))
    return "\n".join(lines)
