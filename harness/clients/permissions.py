"""Asking a target what the harness may do, before it does it (``harness doctor``).

- Kubernetes: ``SelfSubjectAccessReview`` (``POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews``,
  which every authenticated user may create) for a verb on a resource or a non-resource URL, and
  ``GET /version``.
- Compute Engine: ``instances.testIamPermissions`` on one VM of a zone: the subset of the permissions asked
  that the caller holds there (granted on the project or the VM).
- PostgreSQL: log in and read whether the role is a superuser or a member of the roles asked.
- Any HTTP endpoint: does it answer (a status below 500) within a timeout.

Calls are blocking and map failures onto the harness's transient/permanent client errors, like the
other clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    """(the VM asked about, the permissions granted on it) among ``permissions``, tested on the first VM
    of ``zone``; PermanentClientError when the zone has no VM."""
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
    return name, list(answer.permissions)


def postgres_missing_roles(dsn: str, roles: list[str], timeout: float = 5.0) -> list[str]:
    """Log in with ``dsn``; the roles of ``roles`` its user is not a member of (none for a superuser)."""
    pg = PostgresClient(dsn, connect_timeout=timeout, application_name="harness-doctor")
    rows = pg.query("SELECT r.rolsuper, ARRAY(SELECT x FROM unnest(%s::text[]) AS x "
                    "WHERE NOT pg_has_role(current_user, x, 'MEMBER')) FROM pg_roles r WHERE r.rolname = current_user",
                    (roles,), timeout=timeout)
    superuser, missing = rows[0]
    return [] if superuser else list(missing)


def reachable(url: str, timeout: float = 5.0) -> str:
    """GET ``url``; its status line when it answers below 500. TransientClientError otherwise."""
    try:
        resp = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise TransientClientError(f"GET {url}: {type(exc).__name__}: {exc}") from None
    if resp.status_code >= 500:
        raise TransientClientError(f"GET {url}: HTTP {resp.status_code}", resp.status_code)
    return f"HTTP {resp.status_code}"
