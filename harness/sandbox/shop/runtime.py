"""What every shop pod has, whatever its service: capacity, metrics, health routes, draining.

A pod serves at most ``concurrency`` requests at once (an ``asyncio.Semaphore``), each holding its
slot for ``service_time_ms`` plus the handler's own work; up to ``queue_limit`` more wait, and beyond
that the pod answers 503 at once. So losing pods under load raises latency, then errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow
    from psycopg_pool import AsyncConnectionPool

    from .settings import ShopSettings

    #: A pod's connection pool: rows come back as dicts (``dict_row``).
    ShopPool = AsyncConnectionPool[AsyncConnection[DictRow]]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Routes that skip the capacity limit (probes and scrapes must not queue behind shoppers).
BYPASS_CAPACITY = frozenset({"/healthz", "/readyz", "/metrics", "/api/checkout/health"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The pod's Prometheus metrics, in a per-process registry."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("http_requests", "HTTP requests served.",
                                ["service", "route", "method", "status"], registry=r)
        self.duration = Histogram("http_request_duration_seconds", "Time to serve a request.",
                                  ["service", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("http_requests_in_flight", "Requests being served or queued.",
                               ["service"], registry=r)
        self.pool_size = Gauge("shop_db_pool_size", "Connections in the DB pool.", ["service"], registry=r)
        self.pool_available = Gauge("shop_db_pool_available", "Idle connections in the DB pool.",
                                    ["service"], registry=r)
        self.in_flight_series = self.in_flight.labels(service)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        self.requests.labels(self.service, route, method, str(status)).inc()
        self.duration.labels(self.service, route).observe(seconds)


class Capacity:
    """A bounded server: ``concurrency`` slots, ``queue_limit`` waiters, ``service_time_ms`` per request."""

    def __init__(self, concurrency: int, service_time_ms: float, queue_limit: int) -> None:
        self._sem = asyncio.Semaphore(concurrency)
        self._service_time = service_time_ms / 1000.0
        self._queue_limit = queue_limit
        self.waiting = 0

    async def run(self, handler: Handler, request: web.Request) -> web.StreamResponse:
        """Serve ``request`` within capacity, or answer 503 when the queue is full."""
        if self._sem.locked() and self.waiting >= self._queue_limit:
            return web.json_response({"error": "overloaded", "queue": self.waiting}, status=503)
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        try:
            if self._service_time:
                await asyncio.sleep(self._service_time)
            return await handler(request)
        finally:
            self._sem.release()


@dataclass
class Pod:
    """One running pod: its identity, settings, state and shared clients."""

    service: str
    name: str
    settings: ShopSettings
    capacity: Capacity
    metrics: Metrics
    draining: bool = False
    pool: ShopPool | None = None  # for the services that use PostgreSQL (`db.install_pool`)

    def db(self) -> ShopPool:
        """The pod's connection pool; only services that installed one (`db.install_pool`) ask for it."""
        if self.pool is None:
            raise RuntimeError(f"the {self.service} service has no database pool")
        return self.pool


POD: web.AppKey[Pod] = web.AppKey("pod", Pod)


def _route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def make_middleware(pod: Pod) -> Middleware:
    """The middleware that applies capacity, records metrics and adds ``X-Pod``."""
    metrics = pod.metrics

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route_of(request)
        start = time.perf_counter()
        status = 500
        metrics.in_flight_series.inc()
        try:
            if route in BYPASS_CAPACITY:
                resp = await handler(request)
            else:
                resp = await pod.capacity.run(handler, request)
            status = resp.status
            resp.headers["X-Pod"] = pod.name
            return resp
        except web.HTTPException as exc:
            status = exc.status
            exc.headers["X-Pod"] = pod.name
            raise
        finally:
            metrics.in_flight_series.dec()
            metrics.observe(route, request.method, status, time.perf_counter() - start)

    return middleware


def add_common_routes(app: web.Application, pod: Pod) -> None:
    """``/healthz``, ``/readyz`` and ``/metrics``, on every pod."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "pod": pod.name})

    async def readyz(_: web.Request) -> web.Response:
        if pod.draining:
            return web.json_response({"ready": False, "reason": "draining"}, status=503)
        return web.json_response({"ready": True})

    async def metrics(_: web.Request) -> web.Response:
        if pod.pool is not None:
            stats = pod.pool.get_stats()
            pod.metrics.pool_size.labels(pod.service).set(stats.get("pool_size", 0))
            pod.metrics.pool_available.labels(pod.service).set(stats.get("pool_available", 0))
        body = generate_latest(pod.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    """A JSON error response."""
    return web.json_response({"error": message, **extra}, status=status)
