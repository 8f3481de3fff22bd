"""Asking a target what the harness may do, before it does it (``harness doctor``).

- Kubernetes: ``SelfSubjectAccessReview`` (``POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews``,
  which every authenticated user may create) for a verb on a resource or a non-resource URL, and
  ``GET /version``.
- Compute Engine: ``instances.testIamPermissions`` on one VM of a zone and ``instanceGroups.testIamPermissions``
  on one instance group of a zone: the subset of the permissions asked that the caller holds there (granted
  on the project or the resource). Each answers only the permissions of its own resource type.
- Cloud Resource Manager: ``projects.testIamPermissions`` (v3, ``POST /v3/projects/{project}:testIamPermissions``)
  for the permissions of every other type (firewalls, networks, operations, instance group managers: the v1
  Compute API has no testIamPermissions for them), granted on the project or above.
- PostgreSQL: log in and read whether the role is a superuser or a member of the roles asked.
- MongoDB: ``replSetGetStatus`` (reachable, logged in, a replica set, ``clusterMonitor``), then
  ``connectionStatus`` with ``showPrivileges``: the privilege actions on the cluster resource the user lacks.
- Any HTTP endpoint: does it answer (a status below 500) within a timeout.

Calls are blocking and map failures onto the harness's transient/permanent client errors, like the
other clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from kubernetes import client

from harness.clients.kube import KubeClient
from harness.clients.postgres import PostgresClient
from harness.errors import PermanentClientError, TransientClientError

if TYPE_CHECKING:  # imported when used: google.cloud.compute_v1 alone takes seconds to import
    from harness.clients.compute import ComputeClient


@dataclass(frozen=True)
class Decision:
    """What the authorizer answered."""

    allowed: bool
    reason: str = ""


def kube_can_i(kube: KubeClient, verb: str, group: str, resource: str, namespace: str | None) -> Decision:
    """May the kubeconfig's identity ``verb`` ``resource`` (``pods/eviction`` names a subresource) of API
    ``group`` in ``namespace`` (None: in every namespace, or a cluster-scoped resource)?"""
    name, _, sub = resource.partition("/")
    attrs = client.V1ResourceAttributes(verb=verb, group=group, resource=name, subresource=sub or None,
                                        namespace=namespace or None)
    return _review(kube, client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs),
                   f"access review of {verb} {resource}")


def kube_can_i_url(kube: KubeClient, verb: str, path: str) -> Decision:
    """May the kubeconfig's identity ``verb`` the non-resource URL ``path`` (``/version``)?"""
    attrs = client.V1NonResourceAttributes(path=path, verb=verb)
    return _review(kube, client.V1SelfSubjectAccessReviewSpec(non_resource_attributes=attrs),
                   f"access review of {verb} {path}")


def _review(kube: KubeClient, spec: client.V1SelfSubjectAccessReviewSpec, what: str) -> Decision:
    api = client.AuthorizationV1Api(kube.api)
    review = kube._call(what, api.create_self_subject_access_review, client.V1SelfSubjectAccessReview(spec=spec))
    status = review.status
    return Decision(bool(status and status.allowed), (status.reason or "") if status else "")


def kube_version(kube: KubeClient) -> str:
    """The API server's ``gitVersion`` (``GET /version``)."""
    info = kube._call("GET /version", client.VersionApi(kube.api).get_code)
    return str(info.git_version)


def compute_permissions(compute: ComputeClient, zone: str, permissions: list[str]) -> tuple[str, list[str]]:
    """(the VM asked about, as ``projects/P/zones/Z/instances/N``, the permissions granted on it) among
    ``permissions``, tested on the first VM of ``zone``; PermanentClientError when the zone has no VM."""
    from google.cloud import compute_v1

    from harness.clients.compute import map_error

    vms = compute.list_instances(zone)
    if not vms:
        raise PermanentClientError(f"no VM in zone {zone} to test permissions on", 404)
    name = vms[0].name
    body = compute_v1.TestPermissionsRequest(permissions=permissions)
    try:
        answer = compute.instances.test_iam_permissions(
            project=compute.project, zone=zone, resource=name, test_permissions_request_resource=body,
            retry=None, timeout=compute.timeout)
    except Exception as exc:  # noqa: BLE001 - mapped onto the harness's tree
        raise map_error(exc, f"testIamPermissions on {name}") from None
    return f"projects/{compute.project}/zones/{zone}/instances/{name}", list(answer.permissions)


def instance_group_permissions(compute: ComputeClient, zone: str, permissions: list[str]) -> tuple[str, list[str]]:
    """(the instance group asked about, the permissions granted on it), tested on the instance group of the
    first managed instance group of ``zone`` (a MIG's group has its name); PermanentClientError when none."""
    from google.cloud import compute_v1

    from harness.clients.compute import map_error

    migs = compute.list_migs(zone)
    if not migs:
        raise PermanentClientError(f"no instance group in zone {zone} to test permissions on", 404)
    name = str(migs[0]["name"])
    body = compute_v1.TestPermissionsRequest(permissions=permissions)
    try:
        answer = compute.groups.test_iam_permissions(
            project=compute.project, zone=zone, resource=name,
            test_permissions_request_resource=body, retry=None, timeout=compute.timeout)
    except Exception as exc:  # noqa: BLE001 - mapped onto the harness's tree
        raise map_error(exc, f"testIamPermissions on instance group {name}") from None
    return f"projects/{compute.project}/zones/{zone}/instanceGroups/{name}", list(answer.permissions)


def projects_client(endpoint: str | None, timeout: float = 10.0) -> ProjectsClient:
    """A Cloud Resource Manager (v3) projects client: default credentials and endpoint on GCP; against the
    sandbox, ``endpoint`` (its Compute API's URL, which also serves ``projects.testIamPermissions``; the REST
    transport keeps an explicit ``http://``) and anonymous credentials."""
    from google.cloud import resourcemanager_v3

    if not endpoint:
        return ProjectsClient(resourcemanager_v3.ProjectsClient(), timeout)
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    raw = resourcemanager_v3.ProjectsClient(client_options=ClientOptions(api_endpoint=endpoint),
                                            credentials=AnonymousCredentials(), transport="rest")
    return ProjectsClient(raw, timeout)


@dataclass
class ProjectsClient:
    """``projects.testIamPermissions`` of Cloud Resource Manager."""

    raw: Any
    timeout: float = 10.0

    def permissions(self, project: str, permissions: list[str]) -> list[str]:
        """The permissions of ``permissions`` the caller holds on ``project``."""
        from harness.clients.compute import map_error

        try:
            answer = self.raw.test_iam_permissions(resource=f"projects/{project}", permissions=permissions,
                                                   retry=None, timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001 - mapped onto the harness's tree
            raise map_error(exc, f"testIamPermissions on projects/{project}") from None
        return list(answer.permissions)

    def close(self) -> None:
        self.raw.transport.close()


def postgres_missing_roles(dsn: str, roles: list[str], timeout: float = 5.0) -> list[str]:
    """Log in with ``dsn``; the roles of ``roles`` its user is not a member of (none for a superuser)."""
    pg = PostgresClient(dsn, connect_timeout=timeout, application_name="harness-doctor")
    rows = pg.query("SELECT r.rolsuper, ARRAY(SELECT x FROM unnest(%s::text[]) AS x "
                    "WHERE NOT pg_has_role(current_user, x, 'MEMBER')) FROM pg_roles r WHERE r.rolname = current_user",
                    (roles,), timeout=timeout)
    superuser, missing = rows[0]
    return [] if superuser else list(missing)


def mongo_missing_actions(uri: str, actions: list[str], timeout: float = 5.0) -> tuple[str, list[str]]:
    """(the replica set's name, the ``actions`` the URI's user lacks on the cluster resource). Runs
    ``replSetGetStatus`` first: PermanentClientError when it is refused or this is no replica set."""
    from harness.clients.mongo import MongoAdmin

    admin = MongoAdmin(uri, timeout)
    status = admin.command({"replSetGetStatus": 1})
    reply = admin.command({"connectionStatus": 1, "showPrivileges": True})
    return str(status.get("set", "?")), missing_cluster_actions(reply, actions)


def missing_cluster_actions(connection_status: dict[str, Any], actions: list[str]) -> list[str]:
    """The ``actions`` a ``connectionStatus`` (``showPrivileges: true``) reply grants on no cluster resource;
    none when nobody is authenticated (a server without access control allows everything)."""
    auth = connection_status.get("authInfo") or {}
    if not auth.get("authenticatedUsers"):
        return []
    held = {a for p in auth.get("authenticatedUserPrivileges") or [] if (p.get("resource") or {}).get("cluster")
            for a in p.get("actions") or []}
    return [a for a in actions if a not in held]


def reachable(url: str, timeout: float = 5.0) -> str:
    """GET ``url``; its status line when it answers below 500. TransientClientError otherwise."""
    try:
        resp = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise TransientClientError(f"GET {url}: {type(exc).__name__}: {exc}") from None
    if resp.status_code >= 500:
        raise TransientClientError(f"GET {url}: HTTP {resp.status_code}", resp.status_code)
    return f"HTTP {resp.status_code}"
