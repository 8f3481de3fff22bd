"""The sandbox's Compute Engine API: instances, zone/global operations, firewalls, networks
(`networks`), managed instance groups (`migs`) and IAM permission checks (`iam`) over real HTTP.

The official client reaches it with::

    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import compute_v1

    compute_v1.InstancesClient(credentials=AnonymousCredentials(), **compute_client_options(url))

The REST transport keeps an explicit ``http://`` scheme in ``api_endpoint`` (it only prepends
``https://`` when the endpoint has no scheme), so no transport settings are needed. One catch: the
non-``_unary`` methods return an ExtendedOperation that polls through a ZoneOperationsClient the
transport builds *without* these options (it would call compute.googleapis.com). Either use the
``*_unary`` methods and ``ZoneOperationsClient.wait``, or seed the transport once::

    client._transport._extended_operations_services["zone_operations"] = zone_ops_client
    # (and "global_operations" / "region_operations" likewise)

Stop/start take ``timings.vm_stop_delay``; the VM status in ``ctx.vms`` is the truth the kubelet reads.
A VM stopped while its MIG's repair is on is recreated by the MIG (see `migs`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

from ..core import apifaults
from ..core.context import Context, Vm
from .firewalls import Firewalls, vm_blocked
from .iam import Iam, Route
from .migs import ManagedGroups
from .model import (
    API_ROOT,
    GoogleError,
    Operation,
    Operations,
    fingerprint,
    google_error,
    instance_json,
    instance_url,
    matches_filter,
    region_url,
    zone_url,
)
from .networks import Networks

__all__ = ["ComputeApi", "compute_client_options", "vm_blocked"]

PREFIX = "/compute/v1/projects/{project}"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Transition = Callable[[Vm], Awaitable[None]]


def _instance_permission(request: web.Request) -> str:
    """instances.stop needs compute.instances.stop, and so on for every custom method."""
    return f"compute.instances.{request.match_info['action']}"


def compute_client_options(url: str) -> dict[str, Any]:
    """Keyword arguments for any ``compute_v1.*Client`` to talk to the sandbox at ``url``
    (e.g. ``http://127.0.0.1:PORT``): ``client_options`` with ``api_endpoint=url`` (scheme kept) and
    anonymous credentials."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    return {"client_options": ClientOptions(api_endpoint=url), "credentials": AnonymousCredentials()}


class ComputeApi:
    """Component "compute": an aiohttp server on ``ctx.ports["compute"]``."""

    name = "compute"

    def __init__(self) -> None:
        self.ctx: Context | None = None
        self.ops = Operations()
        self._runner: web.AppRunner | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._requests = 0
        self.migs: ManagedGroups | None = None

    # -- component protocol -------------------------------------------------------------------------

    async def start(self, ctx: Context) -> None:
        """Serve on 127.0.0.1:ctx.ports["compute"]."""
        self.ctx = ctx
        self.migs = ManagedGroups(ctx, self.ops, self._spawn, self._locks)
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self._routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.SockSite(self._runner, ctx.listener("compute")).start()

    async def stop(self) -> None:
        """Cancel pending transitions and close the server."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def health(self) -> dict[str, Any]:
        """Serving flag, VM statuses, request count, and the MIGs (repair on/off, recreations)."""
        vms = {n: vm.status for n, vm in self.ctx.vms.items()} if self.ctx else {}
        migs = self.migs.health() if self.migs else {}
        return {"ok": self._runner is not None, "vms": vms, "requests": self._requests, **migs}

    # -- plumbing -----------------------------------------------------------------------------------

    def _routes(self) -> list[web.RouteDef]:
        assert self.ctx is not None and self.migs is not None
        zones, inst = PREFIX + "/zones", PREFIX + "/zones/{zone}/instances"
        iam = Iam(self.ctx)
        routes = [
            Route("GET", zones, self._list_zones, "compute.zones.list"),
            Route("GET", zones + "/{zone}", self._get_zone, "compute.zones.get"),
            Route("GET", PREFIX + "/regions/{region}", self._get_region, "compute.regions.get"),
            Route("GET", inst, self._list_instances, "compute.instances.list"),
            Route("GET", PREFIX + "/aggregated/instances", self._aggregated_instances, "compute.instances.list"),
            Route("GET", inst + "/{name}", self._get_instance, "compute.instances.get"),
            Route("POST", inst + "/{name}/testIamPermissions", self._instance_permissions(iam), None),
            Route("POST", inst + "/{name}/{action}", self._instance_action, _instance_permission, trim=1),
            Route("GET", zones + "/{zone}/operations/{op}", self._get_op, "compute.zoneOperations.get"),
            Route("POST", zones + "/{zone}/operations/{op}/wait", self._wait_op, "compute.zoneOperations.get", 1),
            Route("GET", PREFIX + "/global/operations/{op}", self._get_op, "compute.globalOperations.get"),
            Route("POST", PREFIX + "/global/operations/{op}/wait", self._wait_op, "compute.globalOperations.get", 1),
            *Firewalls(self.ctx, self.ops).routes(PREFIX),
            *self._network_routes(),
            *self.migs.routes(PREFIX),
            Route("POST", zones + "/{zone}/instanceGroups/{name}/testIamPermissions", self._group_permissions(iam),
                  None),
            # Cloud Resource Manager's projects.testIamPermissions (v3 and v1), for project-level permissions
            Route("POST", "/v3/projects/{project}:testIamPermissions", iam.test_permissions, None),
            Route("POST", "/v1/projects/{project}:testIamPermissions", iam.test_permissions, None),
        ]
        return [iam.route(r) for r in routes]

    def _network_routes(self) -> list[Route]:
        assert self.ctx is not None
        networks = Networks(self.ctx)
        return [Route("GET", PREFIX + "/global/networks", networks.list, "compute.networks.list"),
                Route("GET", PREFIX + "/global/networks/{name}", networks.get, "compute.networks.get")]

    def _instance_permissions(self, iam: Iam) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            self._vm(request)  # 404 for an unknown instance
            return await iam.test_permissions(request, "instances")

        return handler

    def _group_permissions(self, iam: Iam) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            assert self.migs is not None
            self.migs.group(request.match_info["zone"], request.match_info["name"], "instanceGroups")
            return await iam.test_permissions(request, "instanceGroups")

        return handler

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._requests += 1
        assert self.ctx is not None
        await apifaults.delay(self.ctx)
        code = apifaults.maybe_fault(self.ctx)
        if code is not None:
            response = google_error(code, "Injected fault: the sandbox's Compute API is failing on purpose")
            response.headers.update(apifaults.headers_for(code))
            return response
        try:
            project = request.match_info.get("project")
            if project is not None and project != self.ctx.config.project:
                raise GoogleError(404, f"The resource 'projects/{project}' was not found")
            return await handler(request)
        except GoogleError as e:
            return google_error(e.code, e.message, e.reason)
        except json.JSONDecodeError as e:
            return google_error(400, f"Invalid JSON payload received. {e}", "parseError")
        except web.HTTPException as e:
            return google_error(e.status, e.reason)

    @property
    def _project(self) -> str:
        assert self.ctx is not None
        return self.ctx.config.project

    def _vm(self, request: web.Request) -> Vm:
        assert self.ctx is not None
        zone, name = request.match_info["zone"], request.match_info["name"]
        vm = self.ctx.vms.get(name)
        if vm is None or vm.zone != zone:
            raise GoogleError(404, f"The resource 'projects/{self._project}/zones/{zone}/instances/{name}' "
                              "was not found")
        return vm

    def _check_zone(self, zone: str) -> None:
        assert self.ctx is not None
        if zone not in self.ctx.config.zone_names:
            raise GoogleError(404, f"The resource 'projects/{self._project}/zones/{zone}' was not found")

    # -- zones and regions --------------------------------------------------------------------------

    def _zone_json(self, zone: str) -> dict[str, Any]:
        assert self.ctx is not None
        index = self.ctx.config.zone_names.index(zone)
        return {
            "kind": "compute#zone", "id": str(2_000 + index), "name": zone, "status": "UP",
            "region": region_url(self._project, self.ctx.config.region),
            "selfLink": zone_url(self._project, zone), "description": zone,
        }

    async def _list_zones(self, request: web.Request) -> web.Response:
        assert self.ctx is not None
        items = [self._zone_json(z) for z in self.ctx.config.zone_names]
        items = [z for z in items if matches_filter(z, request.query.get("filter"))]
        return web.json_response({"kind": "compute#zoneList", "items": items,
                                  "selfLink": f"{API_ROOT}/projects/{self._project}/zones"})

    async def _get_zone(self, request: web.Request) -> web.Response:
        self._check_zone(request.match_info["zone"])
        return web.json_response(self._zone_json(request.match_info["zone"]))

    async def _get_region(self, request: web.Request) -> web.Response:
        assert self.ctx is not None
        region = request.match_info["region"]
        if region != self.ctx.config.region:
            raise GoogleError(404, f"The resource 'projects/{self._project}/regions/{region}' was not found")
        return web.json_response({
            "kind": "compute#region", "id": "1000", "name": region, "status": "UP",
            "zones": [zone_url(self._project, z) for z in self.ctx.config.zone_names],
            "selfLink": region_url(self._project, region),
        })

    # -- instances ----------------------------------------------------------------------------------

    def _instances_in(self, zone: str, flt: str | None) -> list[dict[str, Any]]:
        assert self.ctx is not None
        items = [instance_json(self._project, vm) for vm in self.ctx.vms.values() if vm.zone == zone]
        return [i for i in items if matches_filter(i, flt)]

    async def _list_instances(self, request: web.Request) -> web.Response:
        zone = request.match_info["zone"]
        self._check_zone(zone)
        return web.json_response({
            "kind": "compute#instanceList", "id": f"projects/{self._project}/zones/{zone}/instances",
            "items": self._instances_in(zone, request.query.get("filter")),
            "selfLink": f"{zone_url(self._project, zone)}/instances",
        })

    async def _aggregated_instances(self, request: web.Request) -> web.Response:
        assert self.ctx is not None
        items: dict[str, Any] = {}
        for zone in self.ctx.config.zone_names:
            found = self._instances_in(zone, request.query.get("filter"))
            scope = f"zones/{zone}"
            items[scope] = {"instances": found} if found else {"warning": {
                "code": "NO_RESULTS_ON_PAGE",
                "message": f"There are no results for scope '{scope}' on this page.",
                "data": [{"key": "scope", "value": scope}],
            }}
        return web.json_response({
            "kind": "compute#instanceAggregatedList", "id": f"projects/{self._project}/aggregated/instances",
            "items": items, "selfLink": f"{API_ROOT}/projects/{self._project}/aggregated/instances",
        })

    async def _get_instance(self, request: web.Request) -> web.Response:
        return web.json_response(instance_json(self._project, self._vm(request)))

    async def _instance_action(self, request: web.Request) -> web.Response:
        vm = self._vm(request)
        action = request.match_info["action"]
        transition = self._transitions().get(action)
        setter = self._setters().get(action)
        if transition is None and setter is None:
            raise GoogleError(404, f"Unknown method instances.{action}", "notFound")
        op = self.ops.new(self._project, action, instance_url(self._project, vm), str(vm.id), vm.zone)
        if setter is not None:
            body = await request.json()
            setter(vm, body if isinstance(body, dict) else {})
            op.finish()
        else:
            assert transition is not None
            self._spawn(self._run_transition(vm, op, transition))
        return web.json_response(op.to_json())

    # -- state transitions --------------------------------------------------------------------------

    def _transitions(self) -> dict[str, Transition]:
        return {"stop": self._stop_vm, "start": self._start_vm, "reset": self._reset_vm}

    def _setters(self) -> dict[str, Callable[[Vm, dict[str, Any]], None]]:
        return {"setTags": self._set_tags, "setLabels": self._set_labels}

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_transition(self, vm: Vm, op: Operation, transition: Transition) -> None:
        lock = self._locks.setdefault(vm.name, asyncio.Lock())
        async with lock:
            op.running()
            try:
                await transition(vm)
            finally:
                op.finish()

    @property
    def _delay(self) -> float:
        assert self.ctx is not None
        return self.ctx.config.timings.vm_stop_delay

    async def _stop_vm(self, vm: Vm) -> None:
        assert self.ctx is not None
        if vm.status == "TERMINATED":
            return
        vm.status = "STOPPING"
        await asyncio.sleep(self._delay)
        vm.status = "TERMINATED"
        self.ctx.truth.record("vm.stopped", name=vm.name, zone=vm.zone)
        if self.migs is not None:
            self.migs.vm_stopped(vm)  # recreated later if its MIG repairs

    async def _start_vm(self, vm: Vm) -> None:
        assert self.ctx is not None
        if vm.status == "RUNNING":
            return
        vm.status = "STAGING"
        await asyncio.sleep(self._delay)
        vm.status = "RUNNING"
        self.ctx.truth.record("vm.started", name=vm.name, zone=vm.zone)

    async def _reset_vm(self, vm: Vm) -> None:
        assert self.ctx is not None
        if vm.status != "RUNNING":
            return
        await asyncio.sleep(self._delay / 2)
        self.ctx.truth.record("vm.reset", name=vm.name, zone=vm.zone)

    def _set_tags(self, vm: Vm, body: dict[str, Any]) -> None:
        if body.get("fingerprint") != vm.tags_fingerprint:
            raise GoogleError(412, "Supplied fingerprint does not match current metadata fingerprint.",
                              "conditionNotMet")
        vm.tags = [str(t) for t in body.get("items") or []]
        vm.tags_fingerprint = fingerprint(["tags", vm.tags])

    def _set_labels(self, vm: Vm, body: dict[str, Any]) -> None:
        if body.get("labelFingerprint") != fingerprint(vm.labels):
            raise GoogleError(412, "Labels fingerprint either invalid or resource labels have changed",
                              "conditionNotMet")
        vm.labels = {str(k): str(v) for k, v in (body.get("labels") or {}).items()}

    # -- operations ---------------------------------------------------------------------------------

    async def _get_op(self, request: web.Request) -> web.Response:
        op = self.ops.get(request.match_info["op"], request.match_info.get("zone"))
        return web.json_response(op.to_json())

    async def _wait_op(self, request: web.Request) -> web.Response:
        """operations.wait: returns when DONE or after about two minutes, whichever is first."""
        op = self.ops.get(request.match_info["op"], request.match_info.get("zone"))
        try:
            await asyncio.wait_for(op.done.wait(), timeout=120)
        except TimeoutError:
            pass
        return web.json_response(op.to_json())
