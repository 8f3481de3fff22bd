"""From a target to live connections: the Kubernetes, Compute, Toxiproxy and PostgreSQL seams.

`run` and `rollback` both build their clients here (harness.faults.env and probes.env put them in the
fault and probe environments), from the same `Connection`, which ``run.started`` journals (without
secrets) so a rollback after a crash reaches the same cluster.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from harness.clients.redact import strip_passwords
from harness.errors import Refused

if TYPE_CHECKING:  # imported when built: google.cloud.compute_v1 alone takes seconds to import
    from harness.clients.compute import ComputeClient
    from harness.clients.kube import KubeClient
    from harness.clients.toxiproxy import ToxiproxyClient

T = TypeVar("T")


@dataclass(frozen=True)
class Connection:
    """Where a run's target lives. ``postgres_dsn`` may hold a secret and is never journaled."""

    kind: str
    site_url: str
    kubeconfig: str | None = None
    context: str | None = None
    compute_endpoint: str | None = None
    toxiproxy_url: str | None = None
    prometheus_url: str | None = None
    project: str | None = None
    region: str | None = None
    network: str | None = None
    host_project: str | None = None
    zones: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    postgres_allowed_hosts: list[str] = field(default_factory=list)
    postgres_dsn: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """Everything but secrets, for the journal (passwords of DSNs in ``extra`` removed too)."""
        data = asdict(self)
        data.pop("postgres_dsn")
        data["extra"] = strip_passwords(data["extra"])
        return data

    @classmethod
    def from_public(cls, data: dict[str, Any], postgres_dsn: str | None = None) -> Connection:
        """The journaled connection back (without secrets unless ``postgres_dsn`` is given)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "postgres_dsn": postgres_dsn})

    def cluster(self) -> dict[str, Any]:
        """What names the cluster a run acted on (a rollback must reach the same one)."""
        keys = ("kind", "project", "region") + (("context",) if self.kind != "sandbox" else ())
        return {k: getattr(self, k) for k in keys}


def _sandbox_connection(endpoints_file: Path) -> Connection:
    if not endpoints_file.exists():
        raise Refused(f"the sandbox is not running ({endpoints_file} missing): run `harness sandbox up` first")
    eps = json.loads(endpoints_file.read_text())
    return Connection(
        kind="sandbox",
        site_url=eps["ingress"],
        kubeconfig=eps["kubeconfig"],
        context=None,
        compute_endpoint=eps["compute"],
        toxiproxy_url=eps["toxiproxy"],
        prometheus_url=eps.get("prometheus"),
        project=eps["project"],
        region=eps["region"],
        network=eps.get("network"),
        zones=list(eps["zones"]),
        namespaces=[eps.get("namespace", "shop")],
        postgres_allowed_hosts=["127.0.0.1", "localhost"],
        postgres_dsn=eps.get("postgres_admin") or eps.get("postgres"),
        extra={"postgres": eps.get("postgres"), "proxies": eps.get("proxies", {})},
    )


def resolve_connection(target: Any) -> Connection:
    """A spec Target (sandbox or gke) as a Connection."""
    if target.kind == "sandbox":
        return _sandbox_connection(Path(target.endpoints_file))
    pg = getattr(target, "postgres", None)
    return Connection(
        kind=target.kind,
        site_url=str(target.site_url),
        kubeconfig=target.kubeconfig,
        context=target.context,
        compute_endpoint=getattr(target, "compute_endpoint", None),
        toxiproxy_url=getattr(target, "toxiproxy_url", None),
        prometheus_url=getattr(target, "prometheus_url", None),
        project=target.project,
        region=target.region,
        network=getattr(target, "network", None),
        host_project=getattr(target, "host_project", None),
        namespaces=list(target.namespaces or []),
        postgres_allowed_hosts=list(getattr(pg, "allowed_hosts", None) or []),
        postgres_dsn=getattr(pg, "dsn", None),
    )


def kube_client(conn: Connection) -> KubeClient:
    """The target's Kubernetes client."""
    from harness.clients.kube import KubeClient

    return KubeClient(conn.kubeconfig, conn.context)


def toxiproxy_client(conn: Connection) -> ToxiproxyClient | None:
    """The target's Toxiproxy client, or None when the target has no toxiproxy_url."""
    if not conn.toxiproxy_url:
        return None
    from harness.clients.toxiproxy import ToxiproxyClient

    return ToxiproxyClient(conn.toxiproxy_url)


def compute_client(conn: Connection) -> ComputeClient | None:
    """The target's Compute Engine client, built on first use (a ``Lazy``), or None without a project."""
    if not conn.project:
        return None
    project, endpoint = conn.project, conn.compute_endpoint

    def build() -> ComputeClient:
        from harness.clients.compute import ComputeClient

        return ComputeClient(project, endpoint)

    return lazy(build)


class Lazy(Generic[T]):
    """A client built on first use: google.cloud.compute_v1 alone takes seconds of CPU to import,
    and most runs never touch Compute Engine."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._client: T | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
        return getattr(self._client, name)


def lazy(factory: Callable[[], T]) -> T:
    """What ``factory`` builds, built on first attribute access (a ``Lazy`` answers every attribute
    of the client it stands in for)."""
    return cast(T, Lazy(factory))
