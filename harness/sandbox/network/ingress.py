"""The sandbox ingress: one port in front of the shop, routing to ready pods with realistic lag.

A request goes to the service with the longest matching ``path_prefix`` ("/" is the storefront), then
round-robin to one of its endpoints. Endpoints are the pods of the shop namespace labelled
``app=<service>`` that have a pod IP, a Ready=True condition and no deletionTimestamp. Every change of
that set is applied only ``timings.endpoint_lag`` seconds after it happened in the store, so for that
window requests still reach a pod that just died and fail as they would (connection refused -> 502).

Answers: no endpoints -> 503; upstream unreachable, failing or timing out -> 502; every proxied
answer carries ``X-Served-By: <pod>``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from ..core.context import Context

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
})
UPSTREAM_TIMEOUT = 10.0

Endpoint = tuple[str, str, str]  # (pod name, pod ip, base url)
Want = tuple[str, str] | None  # (service, ip) the pod should be an endpoint of, or None


def pod_endpoint(obj: dict[str, Any]) -> str | None:
    """The pod's IP when it should receive traffic (Ready, has an IP, not terminating), else None."""
    if obj["metadata"].get("deletionTimestamp"):
        return None
    status = obj.get("status") or {}
    ip = status.get("podIP")
    if not ip:
        return None
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Ready":
            return ip if cond.get("status") == "True" else None
    return None


class Ingress:
    """Sandbox component: the HTTP ingress on ``ctx.ports["ingress"]``.

    ``blocked`` (optional) is called with a pod IP before forwarding; when it returns True the request
    fails with 502 after ``blocked_delay`` seconds (a zone network outage, wired by the daemon).
    """

    name = "ingress"

    def __init__(self, blocked: Callable[[str], bool] | None = None, blocked_delay: float = 0.3) -> None:
        self.blocked = blocked
        self.blocked_delay = blocked_delay
        self._ctx: Context | None = None
        self._routes: list[tuple[str, str, str]] = []  # (prefix, prefix + "/", service), longest first
        self._endpoints: dict[str, dict[str, Endpoint]] = {}  # service -> pod -> endpoint, in rotation order
        self._rotation: dict[str, tuple[Endpoint, ...]] = {}  # the same as tuples, rebuilt when read after a change
        self._counters: dict[str, itertools.count[int]] = {}
        self._applied: dict[str, tuple[str, str]] = {}  # pod -> (service, ip) now in rotation
        self._desired: dict[str, tuple[str, str]] = {}  # pod -> (service, ip) as last seen in the store
        self._pending: deque[tuple[float, str, Want]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.ServerRunner | None = None
        self._port = 0

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self, ctx: Context) -> None:
        """Compute the initial endpoints (no lag), watch the store and listen."""
        self._ctx = ctx
        self._wake = asyncio.Event()
        services = sorted(ctx.config.services, key=lambda s: len(s.path_prefix), reverse=True)
        self._routes = [(s.path_prefix, s.path_prefix.rstrip("/") + "/", s.name) for s in services]
        for s in ctx.config.services:
            self._endpoints[s.name] = {}
            self._counters[s.name] = itertools.count()
        for pod in ctx.store.list("pods", ctx.config.namespace, copy_out=False):
            want = self._want(pod)
            if want is not None:
                self._desired[pod["metadata"]["name"]] = want
                self._apply(pod["metadata"]["name"], want)
        ctx.store.listeners.append(self._on_change)
        self._task = asyncio.create_task(self._apply_loop(), name="ingress-endpoints")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30, enable_cleanup_closed=False),
            timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT, connect=2.0),
            auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._port = ctx.ports["ingress"]
        self._runner = web.ServerRunner(web.Server(self._handle), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        sock = ctx.listener("ingress")
        await web.SockSite(self._runner, sock, backlog=1024).start()
        ctx.endpoints.setdefault("ingress", f"http://127.0.0.1:{self._port}")

    async def stop(self) -> None:
        """Stop listening, forget the store, close upstream connections."""
        if self._ctx is not None and self._on_change in self._ctx.store.listeners:
            self._ctx.store.listeners.remove(self._on_change)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def health(self) -> dict[str, Any]:
        """Running or not, and the pods in rotation per service."""
        return {
            "ok": self._runner is not None,
            "url": f"http://127.0.0.1:{self._port}",
            "endpoints": {svc: list(eps) for svc, eps in self._endpoints.items()},
        }

    def endpoints(self, service: str) -> list[str]:
        """Pod names currently in rotation for ``service``."""
        return list(self._endpoints.get(service, {}))

    def _in_rotation(self, service: str) -> tuple[Endpoint, ...]:
        """The endpoints of ``service`` as a tuple, rebuilt only after a change (5,000 pods changing one by
        one must not copy 5,000 endpoints each time)."""
        eps = self._rotation.get(service)
        if eps is None:
            eps = self._rotation[service] = tuple(self._endpoints.get(service, {}).values())
        return eps

    # -- endpoints (lagged) ---------------------------------------------------------------------------
    def _want(self, pod: dict[str, Any]) -> tuple[str, str] | None:
        service = (pod["metadata"].get("labels") or {}).get("app")
        if service not in self._endpoints:
            return None
        ip = pod_endpoint(pod)
        return (service, ip) if ip else None

    def _on_change(self, kind: str, plural: str, obj: dict[str, Any]) -> None:
        """Store listener: queue a change of a pod's endpoint membership, to apply after the lag."""
        if plural != "pods" or self._ctx is None:
            return
        meta = obj["metadata"]
        if meta.get("namespace") != self._ctx.config.namespace:
            return
        name = meta["name"]
        want = None if kind == "DELETED" else self._want(obj)
        if self._desired.get(name) == want:
            return
        if want is None:
            self._desired.pop(name, None)
        else:
            self._desired[name] = want
        due = asyncio.get_running_loop().time() + self._ctx.config.timings.endpoint_lag
        self._pending.append((due, name, want))
        self._wake.set()

    async def _apply_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = self._pending[0][0] - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            _, name, want = self._pending.popleft()
            self._apply(name, want)

    def _apply(self, name: str, want: Want) -> None:
        """Make the pod's membership ``want`` now, recording the truth."""
        assert self._ctx is not None
        current = self._applied.get(name)
        if current == want:
            return
        if current is not None:
            service, ip = current
            self._endpoints[service].pop(name, None)
            self._rotation.pop(service, None)
            del self._applied[name]
            self._ctx.truth.record("endpoint.removed", service=service, pod=name, ip=ip)
        if want is not None:
            service, ip = want
            base = f"http://{ip}:{self._ctx.config.pod_port}"
            self._endpoints[service][name] = (name, ip, base)
            self._rotation.pop(service, None)
            self._applied[name] = want
            self._ctx.truth.record("endpoint.added", service=service, pod=name, ip=ip)

    # -- proxying -------------------------------------------------------------------------------------
    def route(self, path: str) -> str | None:
        """The service whose prefix matches ``path`` longest."""
        for prefix, prefix_slash, service in self._routes:
            if path == prefix or path.startswith(prefix_slash):
                return service
        return None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        service = self.route(request.path)
        eps = self._in_rotation(service) if service else ()
        if service is None or not eps:
            return web.json_response({"error": "no endpoints", "service": service}, status=503)
        pod, ip, base = eps[next(self._counters[service]) % len(eps)]
        if self.blocked is not None and self.blocked(ip):
            await asyncio.sleep(self.blocked_delay)
            return _bad_gateway(pod, "endpoint unreachable")
        return await self._forward(request, pod, base)

    async def _forward(self, request: web.BaseRequest, pod: str, base: str) -> web.StreamResponse:
        assert self._session is not None
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP)
        headers["X-Forwarded-For"] = request.remote or ""
        body = await request.read() if request.body_exists else None
        try:
            async with self._session.request(request.method, base + request.raw_path, headers=headers,
                                             data=body, allow_redirects=False) as resp:
                payload = await resp.read()
                out = CIMultiDict((k, v) for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return _bad_gateway(pod, type(exc).__name__)
        out["X-Served-By"] = pod
        return web.Response(status=resp.status, body=payload, headers=out)


def _bad_gateway(pod: str, reason: str) -> web.Response:
    return web.json_response({"error": "bad gateway", "reason": reason, "pod": pod}, status=502,
                             headers={"X-Served-By": pod})
