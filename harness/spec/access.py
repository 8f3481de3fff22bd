"""What a kind needs to be allowed to do: Kubernetes API permissions, GCP IAM permissions, the endpoints
it reaches, the PostgreSQL roles it needs and, said in words, the rest.

Each fault and probe kind declares its ``access`` beside its implementation (a ClassVar on the kind's
class); ``harness rbac`` (harness.plan.rbac) turns the kinds of some experiments into least-privilege
RBAC: namespaced rules land in a Role per namespace the step names, cluster-wide ones in a ClusterRole;
``harness doctor`` (harness.plan.doctor) checks every one of them against the live target before a run.

    access = Access(
        kube=(KubeRule("", ("pods",), ("list", "delete")),),
        reaches=(Endpoint.TOXIPROXY,),
        gcp=(GcpRule(("compute.instances.list", "compute.instances.stop")),
             GcpRule(("compute.firewalls.create",), mode="network")),
        other=("network: the Toxiproxy API (toxiproxy_url)",),
    )
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    """Where a rule applies."""

    NAMESPACED = "namespaced"
    """In the namespaces the step names (a Role and RoleBinding in each)."""
    CLUSTER = "cluster"
    """Cluster-scoped resources (nodes), or across every namespace (a ClusterRole)."""
    LEASE = "lease"
    """In the target's lease namespace."""


@dataclass(frozen=True, order=True)
class KubeRule:
    """One Kubernetes API permission: ``verbs`` on ``resources`` (``deployments/scale`` names a
    subresource) of API ``group`` (``""`` is the core group)."""

    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    scope: Scope = Scope.NAMESPACED


@dataclass(frozen=True)
class NonResource:
    """A permission on a non-resource URL (``/version``): only a ClusterRole can grant it."""

    urls: tuple[str, ...]
    verbs: tuple[str, ...] = ("get",)


class Endpoint(StrEnum):
    """A service of the target a kind talks to (the site and the Kubernetes API are always reached)."""

    PROMETHEUS = "prometheus"
    """The target's ``prometheus_url`` (or the probe's ``url``)."""
    TOXIPROXY = "toxiproxy"
    """The target's ``toxiproxy_url``."""
    POSTGRES = "postgres"
    """PostgreSQL, through the step's ``dsn`` or the target's."""
    MONGODB = "mongodb"
    """MongoDB, through the step's ``uri``."""


@dataclass(frozen=True)
class GcpRule:
    """GCP IAM permissions (``compute.instances.stop``) on the Compute Engine resources of the step's ``zone``;
    ``mode`` limits them to steps whose ``mode`` parameter has that value (zone-outage's ``network``);
    ``network_project``: they are needed in the project of the target's network (its ``host_project`` on a
    Shared VPC, else its ``project``): firewall rules and their operations."""

    permissions: tuple[str, ...]
    mode: str | None = None
    network_project: bool = False

    def applies(self, params: object) -> bool:
        """Whether a step with these parameters needs the rule."""
        return self.mode is None or getattr(params, "mode", None) == self.mode


@dataclass(frozen=True)
class Access:
    """Everything one kind (or the run itself) needs."""

    kube: tuple[KubeRule, ...] = ()
    """Kubernetes API permissions."""
    urls: tuple[NonResource, ...] = ()
    """Non-resource URLs it reads."""
    gcp: tuple[GcpRule, ...] = ()
    """GCP IAM permissions, by name (``harness doctor`` tests them with ``testIamPermissions``)."""
    reaches: tuple[Endpoint, ...] = ()
    """Endpoints of the target it talks to (``harness doctor`` checks each answers)."""
    postgres_roles: tuple[str, ...] = ()
    """Roles the PostgreSQL login must be a member of (or a superuser): ``pg_signal_backend`` to terminate
    other sessions, ``pg_read_all_stats`` to see them."""
    mongo_actions: tuple[str, ...] = ()
    """MongoDB privilege actions on the cluster resource the URI's user needs (``replSetStateChange`` to step
    the primary down and freeze a member: ``clusterManager``; ``replSetGetStatus``: ``clusterMonitor``)."""
    other: tuple[str, ...] = ()
    """Permissions outside Kubernetes (GCP IAM, database roles, networks it must reach), in words."""


NONE = Access()
"""A kind that needs nothing beyond reaching the site (an HTTP probe)."""

RUN = Access(
    kube=(
        KubeRule("coordination.k8s.io", ("leases",), ("get", "create", "update"), Scope.LEASE),
        KubeRule("", ("nodes",), ("list",), Scope.CLUSTER),
        KubeRule("apps", ("deployments",), ("list",), Scope.CLUSTER),
    ),
    urls=(NonResource(("/version", "/version/")),),
    other=("network, when configured: the Slack incoming webhook (SLACK_WEBHOOK_URL) and the Grafana API "
           "(GRAFANA_URL) for notifications",),
)
"""What every run needs: the target's Lease (one run at a time), and the environment capture (API
server version, kubelet versions from the nodes, every workload's image from the deployments)."""
