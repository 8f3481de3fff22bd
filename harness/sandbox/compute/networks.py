"""VPC networks of the sandbox's Compute Engine API: ``global/networks`` get/list, and how a firewall
rule's ``network`` field is read.

The project has ``default`` and the nodes' ``config.node_network`` (``ctx.networks``). A rule's network
may be written as the API accepts it: a full URL (``https://www.googleapis.com/compute/v1/projects/p/
global/networks/x``, or on ``compute.googleapis.com``), ``projects/p/global/networks/x`` or
``global/networks/x``; it is stored as the full URL.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..core.context import Context
from .model import API_ROOT, GoogleError, matches_filter, network_url

_NETWORK_REF = re.compile(
    r"^(?:https://(?:www|compute)\.googleapis\.com/compute/v1/)?(?:projects/(?P<project>[^/]+)/)?"
    r"global/networks/(?P<name>[^/]+)$")


def resolve_network(ctx: Context, ref: str | None) -> str:
    """The full URL of the network a firewall rule names (``default`` when none is given), or the
    API's error: 400 for a malformed reference, 404 for a network the project does not have."""
    project = ctx.config.project
    if not ref:
        ref = "global/networks/default"
    match = _NETWORK_REF.match(ref)
    if match is None:
        raise GoogleError(400, f"Invalid value for field 'resource.network': '{ref}'. The URL is malformed.")
    owner, name = match.group("project") or project, match.group("name")
    if owner != project or name not in ctx.networks:
        raise GoogleError(404, f"The resource 'projects/{owner}/global/networks/{name}' was not found")
    return network_url(project, name)


def network_json(ctx: Context, name: str) -> dict[str, Any]:
    """A network resource as the real API returns it: ``default`` in auto mode, the others custom."""
    project = ctx.config.project
    index = ctx.networks.index(name)
    auto = name == "default"
    subnet = f"{API_ROOT}/projects/{project}/regions/{ctx.config.region}/subnetworks/{name}"
    net_id = str(6_000_000_000_000_000_001 + index)
    return {
        "kind": "compute#network", "id": net_id, "name": name,
        "creationTimestamp": "2026-01-01T00:00:00.000-07:00",
        "description": "Default network for the project" if auto else f"VPC of the {ctx.config.cluster_name} nodes",
        "selfLink": network_url(project, name),
        "selfLinkWithId": f"{API_ROOT}/projects/{project}/global/networks/{net_id}",
        "autoCreateSubnetworks": auto, "subnetworks": [subnet], "mtu": 1460,
        "routingConfig": {"routingMode": "REGIONAL"},
        "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL",
    }


class Networks:
    """HTTP handlers for global/networks."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def list(self, request: web.Request) -> web.Response:
        """networks.list"""
        project = self.ctx.config.project
        items = [network_json(self.ctx, n) for n in self.ctx.networks]
        items = [n for n in items if matches_filter(n, request.query.get("filter"))]
        return web.json_response({
            "kind": "compute#networkList", "id": f"projects/{project}/global/networks",
            "items": items, "selfLink": f"{API_ROOT}/projects/{project}/global/networks",
        })

    async def get(self, request: web.Request) -> web.Response:
        """networks.get"""
        name = request.match_info["name"]
        if name not in self.ctx.networks:
            raise GoogleError(404, f"The resource 'projects/{self.ctx.config.project}/global/networks/{name}' "
                              "was not found")
        return web.json_response(network_json(self.ctx, name))
