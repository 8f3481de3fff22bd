"""Firewall rules of the sandbox's Compute Engine API, and the question the data plane asks of them.

Rules live in ``ctx.firewalls`` (name -> resource dict as the real API returns it). A rule is on one VPC
network (``default`` when the insert names none, as the real API does) and only applies to the VMs on
that network. The ingress and the fault proxy ask `vm_blocked` whether traffic to or from a VM is denied.
"""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

from ..core.context import Context
from .iam import Route
from .model import API_ROOT, GoogleError, Operations, matches_filter, network_url, now_rfc3339
from .networks import resolve_network

_FIELDS = (
    "name", "description", "network", "priority", "direction", "denied", "allowed", "sourceRanges",
    "destinationRanges", "sourceTags", "targetTags", "sourceServiceAccounts", "targetServiceAccounts",
    "disabled", "logConfig",
)


def vm_blocked(ctx: Context, vm_name: str, direction: str) -> bool:
    """Whether an enabled deny rule in ``direction`` (INGRESS or EGRESS) applies to the VM: it is on the
    VM's network, and its targetTags intersect the VM's tags or it has none (every instance)."""
    vm = ctx.vms.get(vm_name)
    if vm is None:
        return False
    network = network_url(ctx.config.project, vm.network)
    for rule in ctx.firewalls.values():
        if rule.get("disabled") or not rule.get("denied") or rule.get("network") != network:
            continue
        if rule.get("direction", "INGRESS").upper() != direction.upper():
            continue
        targets = rule.get("targetTags") or []
        if not targets or set(targets) & set(vm.tags):
            return True
    return False


def _firewall_resource(ctx: Context, body: dict[str, Any], rule_id: int) -> dict[str, Any]:
    project = ctx.config.project
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise GoogleError(400, "Invalid value for field 'resource.name': ''. Must be a match of regex "
                          "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", "invalid")
    if not body.get("denied") and not body.get("allowed"):
        raise GoogleError(400, "Invalid value for field 'resource': one of 'allowed' or 'denied' is required")
    rule = {k: body[k] for k in _FIELDS if k in body}
    direction = str(rule.get("direction", "INGRESS")).upper()
    if direction not in ("INGRESS", "EGRESS"):
        raise GoogleError(400, f"Invalid value for field 'resource.direction': '{direction}'")
    rule.update(
        kind="compute#firewall",
        id=str(rule_id),
        direction=direction,
        priority=int(rule.get("priority", 1000)),
        network=resolve_network(ctx, rule.get("network")),
        selfLink=f"{API_ROOT}/projects/{project}/global/firewalls/{name}",
        creationTimestamp=now_rfc3339(),
        disabled=bool(rule.get("disabled", False)),
    )
    if direction == "INGRESS" and not rule.get("sourceRanges") and not rule.get("sourceTags"):
        rule["sourceRanges"] = ["0.0.0.0/0"]
    if direction == "EGRESS" and not rule.get("destinationRanges"):
        rule["destinationRanges"] = ["0.0.0.0/0"]
    return rule


class Firewalls:
    """HTTP handlers for global/firewalls, sharing the Compute API's operation table."""

    def __init__(self, ctx: Context, ops: Operations) -> None:
        self.ctx = ctx
        self.ops = ops
        self._ids = itertools.count(8_000_000_000_000_000_001)

    def routes(self, prefix: str) -> list[Route]:
        """Routes under ``/compute/v1/projects/{project}``, with the permission each needs."""
        base = f"{prefix}/global/firewalls"
        return [
            Route("GET", base, self.list, "compute.firewalls.list"),
            Route("POST", base, self.insert, "compute.firewalls.create", resource=self._new_rule_path),
            Route("GET", base + "/{name}", self.get, "compute.firewalls.get"),
            Route("DELETE", base + "/{name}", self.delete, "compute.firewalls.delete"),
        ]

    async def _new_rule_path(self, request: web.Request) -> str:
        """What a denied insert names: the rule it would have made."""
        body = await request.json()
        name = body.get("name", "") if isinstance(body, dict) else ""
        return f"projects/{self.ctx.config.project}/global/firewalls/{name}"

    def _rule(self, name: str) -> dict[str, Any]:
        rule = self.ctx.firewalls.get(name)
        if rule is None:
            project = self.ctx.config.project
            raise GoogleError(404, f"The resource 'projects/{project}/global/firewalls/{name}' was not found")
        return rule

    async def list(self, request: web.Request) -> web.Response:
        """firewalls.list"""
        flt = request.query.get("filter")
        items = [r for r in self.ctx.firewalls.values() if matches_filter(r, flt)]
        project = self.ctx.config.project
        return web.json_response({
            "kind": "compute#firewallList", "id": f"projects/{project}/global/firewalls",
            "items": items, "selfLink": f"{API_ROOT}/projects/{project}/global/firewalls",
        })

    async def get(self, request: web.Request) -> web.Response:
        """firewalls.get"""
        return web.json_response(self._rule(request.match_info["name"]))

    async def insert(self, request: web.Request) -> web.Response:
        """firewalls.insert: 409 when the name is taken, 404 when the network does not exist (400 when
        it is malformed); the operation is DONE at once."""
        body = await request.json()
        project = self.ctx.config.project
        rule = _firewall_resource(self.ctx, body if isinstance(body, dict) else {}, next(self._ids))
        name = rule["name"]
        if name in self.ctx.firewalls:
            raise GoogleError(409, f"The resource 'projects/{project}/global/firewalls/{name}' already exists")
        self.ctx.firewalls[name] = rule
        self.ctx.truth.record("firewall.inserted", name=name, direction=rule["direction"], network=rule["network"],
                              targetTags=rule.get("targetTags", []), denied=bool(rule.get("denied")))
        return self._done_op("insert", rule)

    async def delete(self, request: web.Request) -> web.Response:
        """firewalls.delete"""
        rule = self._rule(request.match_info["name"])
        del self.ctx.firewalls[rule["name"]]
        self.ctx.truth.record("firewall.deleted", name=rule["name"])
        return self._done_op("delete", rule)

    def _done_op(self, op_type: str, rule: dict[str, Any]) -> web.Response:
        op = self.ops.new(self.ctx.config.project, op_type, rule["selfLink"], rule["id"], None)
        op.finish()
        return web.json_response(op.to_json())

