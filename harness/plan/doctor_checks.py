"""The checks ``harness doctor`` runs (see harness.plan.doctor): each a frozen value (a dict key, so the same
need from two experiments is checked once) that says what it checks, runs itself against the target's
clients (blocking; ``Tools`` builds them once) and says how to fix a failure."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from harness.clients import permissions
from harness.clients.connect import Connection, kube_client
from harness.clients.postgres import dsn_parts, redact_dsn, with_dbname
from harness.errors import PermanentClientError

if TYPE_CHECKING:
    from harness.clients.compute import ComputeClient
    from harness.clients.kube import KubeClient
    from harness.clients.permissions import ProjectsClient

RBAC_HINT = "`harness rbac` prints every rule the experiments need"
PORT_FORWARDS = {
    "prometheus": "`kubectl port-forward -n monitoring svc/prometheus 9090` and prometheus_url: http://localhost:9090 "
                  "(or its ingress)",
    "toxiproxy": "`kubectl port-forward -n shop svc/toxiproxy 8474` and toxiproxy_url: http://localhost:8474",
    "site": "site_url must be the public URL shoppers use, reachable from where the harness runs",
}


class Result(StrEnum):
    """How a check ended."""

    OK = "ok"
    FAILED = "FAILED"
    UNCHECKED = "not checked"
    """The target could not say (an API without the check); not a failure."""


Outcome = tuple[Result, str]


class Tools:
    """The target's clients, built on first use (once, whichever thread asks first) and closed at the end."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        self._kube: KubeClient | None = None
        self._compute: ComputeClient | None = None
        self._projects: ProjectsClient | None = None

    def kube(self) -> KubeClient:
        with self._lock:
            if self._kube is None:
                self._kube = kube_client(self.conn)
            return self._kube

    def compute(self) -> ComputeClient:
        with self._lock:
            if self._compute is None:
                from harness.clients.compute import ComputeClient

                if not self.conn.project:
                    raise PermanentClientError("the target names no GCP project (project)")
                self._compute = ComputeClient(self.conn.project, self.conn.compute_endpoint, timeout=10.0)
            return self._compute

    def projects(self) -> ProjectsClient:
        with self._lock:
            if self._projects is None:
                # the sandbox's Compute API serves projects.testIamPermissions too; GCP: the default endpoint
                endpoint = self.conn.compute_endpoint if self.conn.kind == "sandbox" else None
                self._projects = permissions.projects_client(endpoint, timeout=10.0)
            return self._projects

    def close(self) -> None:
        for c in (self._kube, self._compute, self._projects):
            if c is not None:
                c.close()


def _where(namespace: str | None) -> str:
    return f"in namespace {namespace}" if namespace else "cluster-wide"


@dataclass(frozen=True)
class KubeCheck:
    """``verb`` on ``resource`` of API ``group`` in ``namespace`` (None: cluster-wide)."""

    verb: str
    group: str
    resource: str
    namespace: str | None
    order: ClassVar[int] = 2

    @property
    def title(self) -> str:
        api = f"{self.group}/" if self.group else ""
        return f"kubernetes: {self.verb} {api}{self.resource} {_where(self.namespace)}"

    def run(self, tools: Tools) -> Outcome:
        d = permissions.kube_can_i(tools.kube(), self.verb, self.group, self.resource, self.namespace)
        return (Result.OK, "allowed") if d.allowed else (Result.FAILED, d.reason or "denied")

    def fix(self, tools: Tools) -> str:
        holder = f"a Role in {self.namespace}" if self.namespace else "a ClusterRole"
        return (f"grant it with {holder} rule {{apiGroups: [\"{self.group}\"], resources: [{self.resource}], "
                f"verbs: [{self.verb}]}}; {RBAC_HINT}")


@dataclass(frozen=True)
class KubeUrlCheck:
    """``verb`` on the non-resource URL ``url``."""

    verb: str
    url: str
    order: ClassVar[int] = 2

    @property
    def title(self) -> str:
        return f"kubernetes: {self.verb} {self.url}"

    def run(self, tools: Tools) -> Outcome:
        d = permissions.kube_can_i_url(tools.kube(), self.verb, self.url)
        return (Result.OK, "allowed") if d.allowed else (Result.FAILED, d.reason or "denied")

    def fix(self, tools: Tools) -> str:
        return f"a ClusterRole rule {{nonResourceURLs: [{self.url}], verbs: [{self.verb}]}}; {RBAC_HINT}"


@dataclass(frozen=True)
class KubeVersionCheck:
    """The Kubernetes API answers (``GET /version``)."""

    order: ClassVar[int] = 0
    title: ClassVar[str] = "endpoint: Kubernetes API (GET /version)"

    def run(self, tools: Tools) -> Outcome:
        return Result.OK, permissions.kube_version(tools.kube())

    def fix(self, tools: Tools) -> str:
        where = tools.conn.kubeconfig or "the default kubeconfig (or the in-cluster service account)"
        return f"check the target's kubeconfig and context ({where}): `kubectl version` must answer from here"


@dataclass(frozen=True)
class EndpointCheck:
    """An HTTP endpoint answers: ``name``'s ``url`` (None: the target has none) plus ``path``."""

    name: str
    url: str | None
    path: str
    order: ClassVar[int] = 0

    @property
    def title(self) -> str:
        return f"endpoint: {self.name} ({(self.url or '(no URL)').rstrip('/')}{self.path})"

    def run(self, tools: Tools) -> Outcome:
        if not self.url:
            return Result.FAILED, f"the target has no {self.name}_url"
        return Result.OK, permissions.reachable(self.url.rstrip("/") + self.path if self.path else self.url)

    def fix(self, tools: Tools) -> str:
        return PORT_FORWARDS.get(self.name, f"make {self.name} reachable from where the harness runs")


class On(StrEnum):
    """The GCP resource a permission is tested on, and the API that answers."""

    INSTANCE = "instance"
    """A VM of the zone: Compute ``instances.testIamPermissions``."""
    INSTANCE_GROUP = "instance group"
    """An instance group of the zone: Compute ``instanceGroups.testIamPermissions``."""
    PROJECT = "project"
    """The project: Cloud Resource Manager ``projects.testIamPermissions``."""


API = {On.INSTANCE: "instances.testIamPermissions", On.INSTANCE_GROUP: "instanceGroups.testIamPermissions",
       On.PROJECT: "projects.testIamPermissions"}


@dataclass(frozen=True)
class GcpCheck:
    """GCP IAM ``permissions`` on a resource: a VM or the instance group of zone ``where``, or project ``where``."""

    on: On
    where: str
    permissions: tuple[str, ...]
    order: ClassVar[int] = 3

    @property
    def title(self) -> str:
        what = f"project {self.where}" if self.on == On.PROJECT else f"an {self.on} of {self.where or '(no zone)'}"
        return f"gcp: {len(self.permissions)} IAM permission(s) on {what} ({API[self.on]})"

    def _ask(self, tools: Tools) -> tuple[str, list[str]]:
        asked = list(self.permissions)
        if self.on == On.INSTANCE:
            return permissions.compute_permissions(tools.compute(), self.where, asked)
        if self.on == On.INSTANCE_GROUP:
            return permissions.instance_group_permissions(tools.compute(), self.where, asked)
        return f"projects/{self.where}", tools.projects().permissions(self.where, asked)

    def run(self, tools: Tools) -> Outcome:
        try:
            resource, granted = self._ask(tools)
        except PermanentClientError as exc:
            if exc.status in (404, 405, 501) and "testIamPermissions" in str(exc):
                return Result.UNCHECKED, f"the API does not answer {API[self.on]}: {exc}"
            raise
        missing = [p for p in self.permissions if p not in set(granted)]
        if missing:
            return Result.FAILED, f"not granted on {resource}: {', '.join(missing)}"
        return Result.OK, f"all granted on {resource}: {', '.join(self.permissions)}"

    def fix(self, tools: Tools) -> str:
        project = self.where if self.on == On.PROJECT else tools.conn.project or "the target's project"
        return (f"grant the harness's Google service account (Workload Identity, or the runner's) these permissions "
                f"on {project}: {', '.join(self.permissions)} (roles/compute.instanceAdmin.v1 holds the instance "
                "and instance group ones, roles/compute.securityAdmin the firewall ones; a custom role can hold "
                "exactly these)")


def _login(dsn: str) -> str:
    """``user@host:port/dbname`` of a DSN (never its password)."""
    try:
        p = dsn_parts(dsn)
    except ValueError:
        return redact_dsn(dsn)
    return f"{p.get('user', '?')}@{p.get('host', '?')}:{p.get('port', '5432')}/{p.get('dbname', '?')}"


@dataclass(frozen=True)
class PostgresCheck:
    """Log in with ``dsn`` (on ``dbname``) and hold ``roles``."""

    dsn: str | None = field(repr=False)
    dbname: str | None = None
    roles: tuple[str, ...] = ()
    order: ClassVar[int] = 4

    @property
    def full_dsn(self) -> str | None:
        return with_dbname(self.dsn, self.dbname) if self.dsn and self.dbname else self.dsn

    @property
    def title(self) -> str:
        who = _login(self.full_dsn) if self.full_dsn else "(no DSN)"
        return f"postgres: log in as {who}" + (f" with {', '.join(self.roles)}" if self.roles else "")

    def run(self, tools: Tools) -> Outcome:
        dsn = self.full_dsn
        if not dsn:
            return Result.FAILED, "no DSN: give the step's `dsn` or the target's postgres.dsn"
        missing = permissions.postgres_missing_roles(dsn, list(self.roles))
        if missing:
            return Result.FAILED, f"logged in, but not a member of {', '.join(missing)}"
        return Result.OK, "logged in" + (f", member of {', '.join(self.roles)}" if self.roles else "")

    def fix(self, tools: Tools) -> str:
        user = dsn_parts(self.dsn).get("user", "<role>") if self.dsn else "<role>"
        grant = f"`GRANT {', '.join(self.roles)} TO {user};` as an admin; " if self.roles else ""
        return (grant + "check the DSN and its password variable, and that the server is reachable from here "
                "(a Cloud SQL Auth Proxy or `kubectl port-forward`)")


@dataclass(frozen=True)
class MongoCheck:
    """Reach the replica set of ``uri`` and hold ``actions`` on its cluster resource."""

    uri: str | None = field(repr=False)
    actions: tuple[str, ...] = ()
    order: ClassVar[int] = 4

    @property
    def title(self) -> str:
        from harness.clients.mongo import redact_uri

        where = redact_uri(self.uri) if self.uri else "(no URI)"
        return f"mongodb: replSetGetStatus on {where}" + (f" with {', '.join(self.actions)}" if self.actions else "")

    def run(self, tools: Tools) -> Outcome:
        if not self.uri:
            return Result.FAILED, "no URI: give the step's `uri`"
        name, missing = permissions.mongo_missing_actions(self.uri, list(self.actions))
        if missing:
            return Result.FAILED, f"replica set {name} answers, but the user lacks {', '.join(missing)}"
        return Result.OK, f"replica set {name} answers" + (f"; {', '.join(self.actions)} held" if self.actions else "")

    def fix(self, tools: Tools) -> str:
        return ("grant the URI's user clusterManager (replSetStateChange: replSetStepDown, replSetFreeze) and "
                "clusterMonitor (replSetGetStatus) on admin; check the URI, its password variable, and that the "
                "members are reachable from here")


Check = KubeCheck | KubeUrlCheck | KubeVersionCheck | EndpointCheck | GcpCheck | PostgresCheck | MongoCheck
