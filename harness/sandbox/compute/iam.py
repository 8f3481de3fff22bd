"""IAM of the sandbox's Compute Engine API: which permission each method needs, ``testIamPermissions``,
and the 403 a denied call gets.

Every caller holds every permission except those in ``config.denied_permissions`` (IAM names such as
``compute.instances.stop``). A denied method answers as the real API does::

    403 PERMISSION_DENIED (reason "forbidden")
    Required 'compute.instances.stop' permission for 'projects/p/zones/z/instances/vm'

``instances.testIamPermissions`` and ``instanceGroups.testIamPermissions`` (the v1 API has no
``instanceGroupManagers.testIamPermissions``; beta's answers for the manager) answer
``{"permissions": [granted subset]}``, the key left out when nothing is granted; they need no permission
themselves. As on GCP, a resource answers only the permissions of its own type (``compute.instances.stop``
on a VM, ``compute.instanceGroups.get`` on an instance group; never a collection's ``list``/``create``):
the rest are left out, as if not granted. Cloud Resource Manager's ``projects.testIamPermissions``
(``POST /v3/projects/{project}:testIamPermissions``, and v1's ``/v1/projects/{project}:testIamPermissions``)
is served on the same server, so a ``resourcemanager_v3.ProjectsClient`` pointed at it with
``api_endpoint`` tests project-level permissions (every permission, minus the denied ones).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from ..core.context import Context
from .model import GoogleError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: The permission a request needs: a name, or computed from the request (e.g. from its action).
Permission = str | Callable[[web.Request], str] | None
#: The resource a denial names; default: the request path (see `Route.trim`).
Resource = Callable[[web.Request], Awaitable[str]]

_API_PREFIX = "/compute/v1/"


@dataclass(frozen=True)
class Route:
    """One REST method of the Compute API and the permission it needs (None: no check)."""

    method: str
    path: str
    handler: Handler
    permission: Permission
    trim: int = 0  # trailing path segments that name a custom method, not the resource (e.g. "/stop")
    resource: Resource | None = None


class Iam:
    """Checks and answers permissions from ``ctx.config.denied_permissions``."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def granted(self, permissions: list[str]) -> list[str]:
        """The subset of ``permissions`` the caller holds, in the order asked."""
        denied = set(self.ctx.config.denied_permissions)
        return [p for p in permissions if p not in denied]

    def route(self, r: Route) -> web.RouteDef:
        """The aiohttp route of ``r``, refusing the call with 403 when its permission is denied."""
        if r.permission is None:
            return web.route(r.method, r.path, r.handler)

        async def guarded(request: web.Request) -> web.StreamResponse:
            needed = r.permission(request) if callable(r.permission) else r.permission
            if needed in self.ctx.config.denied_permissions:
                resource = await r.resource(request) if r.resource else self._resource(request, needed, r.trim)
                raise GoogleError(403, f"Required '{needed}' permission for '{resource}'", "forbidden")
            return await r.handler(request)

        return web.route(r.method, r.path, guarded)

    def _resource(self, request: web.Request, permission: str, trim: int) -> str:
        if permission.endswith(".list"):
            return f"projects/{self.ctx.config.project}"
        parts = request.path.removeprefix(_API_PREFIX).strip("/").split("/")
        return "/".join(parts[: len(parts) - trim] if trim else parts)

    async def test_permissions(self, request: web.Request, collection: str | None = None) -> web.Response:
        """``<resource>/testIamPermissions``: body ``{"permissions": [...]}``; ``collection`` (``instances``):
        only permissions of that resource type can be granted (None: a project, every permission)."""
        body = await request.json()
        asked = body.get("permissions") if isinstance(body, dict) else None
        if not isinstance(asked, list) or not all(isinstance(p, str) for p in asked):
            raise GoogleError(400, "Invalid value for field 'resource.permissions': must be a list of strings")
        if any("*" in p for p in asked):
            raise GoogleError(400, "Permissions with wildcards (such as '*' or 'compute.*') are not allowed")
        granted = [p for p in self.granted(asked) if collection is None or of_type(p, collection)]
        return web.json_response({"permissions": granted} if granted else {})


def of_type(permission: str, collection: str) -> bool:
    """Whether ``permission`` applies to one resource of ``collection`` (``compute.instances.stop`` to an
    instance; ``compute.instances.list`` applies to the project)."""
    parts = permission.split(".")
    return len(parts) == 3 and parts[0] == "compute" and parts[1] == collection and parts[2] not in COLLECTION_VERBS


COLLECTION_VERBS = frozenset({"list", "create", "insert"})
