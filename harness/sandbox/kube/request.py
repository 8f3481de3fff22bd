"""Turn a resource URL into a ``RequestInfo`` (group, version, namespace, resource, name, subresource,
verb), the way the real API server's request-info resolver does."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.store import RESOURCES, Resource
from .status import ApiError, path_not_found

# /api/v1/namespaces/{name}/{sub} addresses the namespace itself, not a resource inside it.
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

_TRUE = frozenset({"true", "1", "yes"})

AUTHZ_GROUP, AUTHZ_VERSION = "authorization.k8s.io", "v1"
REVIEW_PATH = f"/apis/{AUTHZ_GROUP}/{AUTHZ_VERSION}/selfsubjectaccessreviews"
"""``SelfSubjectAccessReview``: created, never stored (answered by ``authz``)."""


@dataclass(frozen=True)
class RequestInfo:
    """What a resource request addresses and which verb it is."""

    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str
    verb: str

    @property
    def plural(self) -> str:
        return self.resource.plural

    @property
    def group(self) -> str:
        return self.resource.group


def is_true(value: str | None) -> bool:
    """A boolean query parameter (``watch=true``, ``watch=1``)."""
    return (value or "").lower() in _TRUE


def _verb(method: str, name: str | None, watch: bool) -> str:
    if method in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "get" if name else "list"
    if name is None:
        return {"POST": "create", "DELETE": "deletecollection"}.get(method, method.lower())
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())


def _split_group_version(parts: list[str]) -> tuple[str, str, list[str]]:
    """(group, version, the rest) from path segments that start with ``api`` or ``apis``."""
    if parts[0] == "api" and len(parts) >= 2:
        return "", parts[1], parts[2:]
    if parts[0] == "apis" and len(parts) >= 3:
        return parts[1], parts[2], parts[3:]
    raise path_not_found("/" + "/".join(parts))


def _resource(group: str, version: str, plural: str, path: str) -> Resource:
    res = RESOURCES.get(plural)
    if res is None or res.group != group or res.version != version:
        raise path_not_found(path)
    return res


def resolve(method: str, path: str, watch_param: str | None) -> RequestInfo:
    """Resolve a resource path such as ``/api/v1/namespaces/shop/pods/p-1/eviction``."""
    parts = [p for p in path.split("/") if p]
    group, version, rest = _split_group_version(parts)
    watch = is_true(watch_param)
    if rest and rest[0] == "watch":  # deprecated /api/v1/watch/... form
        watch, rest = True, rest[1:]
    namespace: str | None = None
    if len(rest) >= 2 and rest[0] == "namespaces":
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
        else:
            namespace = None
    if not rest or len(rest) > 3:
        raise path_not_found(path)
    res = _resource(group, version, rest[0], path)
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else ""
    if rest[0] == "namespaces" and name is not None:
        namespace = None
    if namespace is not None and not res.namespaced:
        raise path_not_found(path)
    if name is not None and res.namespaced and namespace is None:
        raise path_not_found(path)
    verb = _verb(method, name, watch)
    if verb == "create" and name is not None and not sub:
        raise ApiError(405, f"the server does not allow this method on the requested resource ({method} {path})",
                       "MethodNotAllowed")
    return RequestInfo(res, namespace, name, sub, verb)
