"""The sandbox's Kubernetes API server: the ``kubeapi`` component.

HTTPS on ``127.0.0.1:ctx.ports["kubernetes"]`` (a per-sandbox CA, ``tls``), bearer-token auth
(``auth``: 401 without the token, except for the health and version paths), JSON shaped like the real API server's for
every resource in ``store.RESOURCES``: discovery, list/get/create/update/patch/delete/deletecollection,
watch, the ``status`` and ``scale`` subresources, ``pods/eviction`` (PodDisruptionBudgets honoured),
server-side Tables for kubectl, Status objects for every error, injectable API faults
(``/sandbox/api-faults``) and a request log (``requestlog``: ``requests.jsonl``), ``SelfSubjectAccessReview`` and 403s for the permissions the
config denies (``authz``). ``kubectl`` and the
official Python client work against it unchanged.

    api = KubeApi()               # a new random token and CA
    await api.start(ctx)          # serves until stop()
    write_kubeconfig(path, api.url, api.token, api.tls.ca_pem)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from harness.selectors import SelectorError

from ..core import apifaults
from ..core.context import Context
from ..core.store import StoreError
from . import auth, authz
from .crud import create, get, list_objects, patch, update
from .delete import delete, delete_collection, evict
from .discovery import (
    SCALE_SUBRESOURCE,
    SERVER_VERSION,
    STATUS_SUBRESOURCE,
    api_group,
    api_group_list,
    api_versions,
    resource_list,
)
from .io import STATE, ApiState, json_response, read_body, state
from .request import REVIEW_PATH, RequestInfo, resolve
from .requestlog import RequestLog
from .scale import get_scale, patch_scale, update_scale
from .status import ApiError, failure, method_not_allowed, path_not_found
from .tls import ServerTls
from .watch import WatchHub, watch

log = logging.getLogger(__name__)

Handler = Callable[[web.Request, RequestInfo], Awaitable[web.StreamResponse]]

# (verb, subresource) -> handler.
ROUTES: dict[tuple[str, str], Handler] = {
    ("list", ""): list_objects,
    ("watch", ""): watch,
    ("get", ""): get,
    ("create", ""): create,
    ("update", ""): update,
    ("patch", ""): patch,
    ("delete", ""): delete,
    ("deletecollection", ""): delete_collection,
    ("get", "status"): get,
    ("update", "status"): update,
    ("patch", "status"): patch,
    ("get", "scale"): get_scale,
    ("update", "scale"): update_scale,
    ("patch", "scale"): patch_scale,
    ("create", "eviction"): evict,
}
# Which resources have which subresource.
SUBRESOURCES: dict[str, frozenset[str]] = {
    "status": STATUS_SUBRESOURCE,
    "scale": SCALE_SUBRESOURCE,
    "eviction": frozenset({"pods"}),
}
# Discovery documents by path shape: (segments) -> document or None.
DISCOVERY: dict[int, Callable[[list[str], str], dict[str, Any] | None]] = {
    1: lambda p, addr: api_versions(addr) if p[0] == "api" else api_group_list(),
    2: lambda p, addr: resource_list("", p[1]) if p[0] == "api" else api_group(p[1]),
    3: lambda p, addr: resource_list(p[1], p[2]) if p[0] == "apis" else None,
}
PLAIN_OK = frozenset({"/healthz", "/readyz", "/livez"})
FAULT_MESSAGES: dict[int, str] = {
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: sandbox injected fault",
    503: "The server is currently unable to handle the request (sandbox injected fault)",
}


def _is_api_path(path: str) -> bool:
    return path in ("/api", "/apis") or path.startswith(("/api/", "/apis/"))


def _is_discovery(parts: list[str]) -> bool:
    return bool(parts) and (len(parts) <= 2 or (len(parts) == 3 and parts[0] == "apis"))


async def _discovery(req: web.Request, parts: list[str]) -> web.StreamResponse:
    if req.method not in ("GET", "HEAD"):
        raise method_not_allowed(req.method, req.path)
    doc = DISCOVERY[len(parts)](parts, f"127.0.0.1:{state(req).ctx.ports['kubernetes']}")
    if doc is None:
        raise path_not_found(req.path)
    return json_response(doc)


async def _resource(req: web.Request) -> web.StreamResponse:
    info = resolve(req.method, req.path, req.query.get("watch"))
    if info.subresource and info.plural not in SUBRESOURCES.get(info.subresource, frozenset()):
        raise path_not_found(req.path)
    handler = ROUTES.get((info.verb, info.subresource))
    allowed = set(info.resource.verbs) | {"deletecollection"}
    if handler is None or (not info.subresource and info.verb not in allowed):
        raise method_not_allowed(req.method, req.path)
    authz.check(req, info)  # 403 for a permission the sandbox config denies
    return await handler(req, info)


async def _api(req: web.Request) -> web.StreamResponse:
    parts = [p for p in req.path.split("/") if p]
    if _is_discovery(parts):
        return await _discovery(req, parts)
    if req.path.rstrip("/") == REVIEW_PATH:
        return await authz.review(req)
    return await _resource(req)


OPENAPI_V2_PROTOBUF = "application/octet-stream"


def _openapi_v2(req: web.Request) -> web.StreamResponse:
    """An empty OpenAPI v2 document: kubectl finds no schema for any kind and skips client-side
    validation (an empty protobuf body is a valid empty ``Document``)."""
    if "protobuf" in req.headers.get("Accept", ""):
        return web.Response(body=b"", headers={"Content-Type": OPENAPI_V2_PROTOBUF})
    return json_response({"swagger": "2.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
                          "paths": {}, "definitions": {}})


async def _other(req: web.Request) -> web.StreamResponse:
    if req.path in ("/version", "/version/"):  # the official client asks for /version/, as the API allows
        return json_response(SERVER_VERSION)
    if req.path == "/openapi/v2":
        return _openapi_v2(req)
    if req.path in PLAIN_OK:
        return web.Response(text="ok", content_type="text/plain")
    raise path_not_found(req.path)


async def _dispatch(req: web.Request) -> web.StreamResponse:
    return await (_api(req) if _is_api_path(req.path) else _other(req))


# -- /sandbox/api-faults ------------------------------------------------------------------------------
async def _faults_get(req: web.Request) -> web.StreamResponse:
    return json_response(apifaults.public_view(state(req).ctx))


async def _faults_put(req: web.Request) -> web.StreamResponse:
    try:
        return json_response(apifaults.configure(state(req).ctx, await read_body(req)))
    except apifaults.ApiFaultSpecError as exc:
        raise ApiError(400, str(exc), "BadRequest") from None


async def _faults_delete(req: web.Request) -> web.StreamResponse:
    apifaults.clear(state(req).ctx)
    return json_response({})


# -- middleware ----------------------------------------------------------------------------------------
def _injected(code: int) -> web.Response:
    reason = apifaults.REASONS.get(code, "InternalError")
    body = failure(code, FAULT_MESSAGES.get(code, f"sandbox injected fault ({code})"), reason)
    if code == 429:
        body["details"] = {"retryAfterSeconds": 1}
    return json_response(body, code, apifaults.headers_for(code))


def _error_response(st: ApiState, exc: Exception) -> web.Response:
    if isinstance(exc, ApiError):
        err = exc
    elif isinstance(exc, SelectorError):
        err = ApiError(400, f"unable to parse requirement: {exc}", "BadRequest")
    elif isinstance(exc, StoreError):
        err = ApiError(exc.code, str(exc), exc.reason)
    elif isinstance(exc, web.HTTPException):
        err = ApiError(exc.status, exc.reason)
    else:
        log.exception("kubeapi: unexpected error")
        err = ApiError(500, f"Internal error occurred: {type(exc).__name__}: {exc}", "InternalError")
    st.errors[err.code] = st.errors.get(err.code, 0) + 1
    return json_response(err.status(), err.code, err.headers)


@web.middleware
async def _middleware(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    started = time.time()
    response = await _serve(request, handler)
    state(request).log.record(started, request.method, request.path, dict(request.query), response.status,
                              request.headers.get("User-Agent", ""))
    return response


async def _serve(request: web.Request,
                 handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    st = state(request)
    st.requests += 1
    if not auth.allowed(request.path, request.headers.get("Authorization"), st.token):
        st.errors[401] = st.errors.get(401, 0) + 1
        return auth.unauthorized()
    if _is_api_path(request.path):
        await apifaults.delay(st.ctx)
        code = apifaults.maybe_fault(st.ctx)
        if code is not None:
            st.faults_injected += 1
            return _injected(code)
    try:
        return await handler(request)
    except Exception as exc:  # every failure becomes a Status
        return _error_response(st, exc)


class KubeApi:
    """The ``kubeapi`` sandbox component (see the module docstring)."""

    name = "kubeapi"

    def __init__(self, host: str = "127.0.0.1", token: str | None = None) -> None:
        self._host = host
        #: The bearer token every request must carry; the daemon writes it into the kubeconfig.
        self.token = token or auth.new_token()
        #: Its CA and serving certificate; clients trust ``tls.ca_pem``.
        self.tls = ServerTls.generate()
        self._runner: web.AppRunner | None = None
        self._state: ApiState | None = None
        self.url = ""

    def _app(self, st: ApiState) -> web.Application:
        app = web.Application(middlewares=[_middleware], client_max_size=64 * 1024 * 1024)
        app[STATE] = st
        app.router.add_route("GET", "/sandbox/api-faults", _faults_get)
        app.router.add_route("PUT", "/sandbox/api-faults", _faults_put)
        app.router.add_route("DELETE", "/sandbox/api-faults", _faults_delete)
        app.router.add_route("*", "/{tail:.*}", _dispatch)
        return app

    async def start(self, ctx: Context) -> None:
        """Serve on ``127.0.0.1:ctx.ports["kubernetes"]`` until ``stop()``."""
        hub = WatchHub(ctx.store)
        hub.attach()
        self._state = ApiState(ctx=ctx, hub=hub, token=self.token, log=RequestLog(ctx.dir / "requests.jsonl"))
        self._runner = web.AppRunner(self._app(self._state), access_log=None, handler_cancellation=True,
                                     shutdown_timeout=2.0)
        await self._runner.setup()
        sock = ctx.listener("kubernetes")
        await web.SockSite(self._runner, sock, ssl_context=self.tls.server_context()).start()
        self.url = f"https://{self._host}:{ctx.ports['kubernetes']}"

    async def stop(self) -> None:
        """End open watches and stop serving."""
        if self._state is not None:
            self._state.hub.detach()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._state is not None:
            self._state.log.close()

    def health(self) -> dict[str, Any]:
        """{"ok", "url", "requests", "faults_injected", "watches"}."""
        st = self._state
        return {
            "ok": self._runner is not None,
            "url": self.url,
            "requests": st.requests if st else 0,
            "faults_injected": st.faults_injected if st else 0,
            "watches": st.hub.open_watches if st else 0,
        }
