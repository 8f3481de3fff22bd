"""PostgreSQL access for the shop's pods: one bounded, self-healing connection pool per pod.

Pool starvation becomes a 503 after ``db_pool_timeout_s`` (never a hang); every connection is checked
before use so connections killed by a fault are replaced; ``application_name`` is ``shop-<service>``
so database faults can target the shop's sessions.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from aiohttp import web
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from .runtime import POD, Pod, json_error

if TYPE_CHECKING:
    from .runtime import ShopPool

log = logging.getLogger("shop.db")

#: Errors that mean "the database is unavailable" (answered with 503).
DB_ERRORS: tuple[type[BaseException], ...] = (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError)


async def open_pool(pod: Pod) -> ShopPool:
    """Open (without waiting for the database) the pod's connection pool."""
    s = pod.settings
    pool: ShopPool = AsyncConnectionPool(
        s.dsn,
        min_size=1,
        max_size=max(1, s.db_pool_size),
        timeout=s.db_pool_timeout_s,
        kwargs={"application_name": f"shop-{pod.service}", "connect_timeout": 2,
                "autocommit": True, "row_factory": dict_row},
        check=AsyncConnectionPool.check_connection,
        reconnect_timeout=3600.0,
        name=f"shop-{pod.service}",
        open=False,
    )
    await pool.open(wait=False)
    return pool


async def close_pool(app: web.Application) -> None:
    """on_cleanup hook: close the pod's pool."""
    pod = app[POD]
    if pod.pool is not None:
        await pod.pool.close(timeout=1.0)


async def install_pool(app: web.Application) -> None:
    """Give the pod a pool and close it at shutdown."""
    pod = app[POD]
    pod.pool = await open_pool(pod)
    app.on_cleanup.append(close_pool)


T = TypeVar("T")


def db_unavailable(exc: BaseException) -> web.Response:
    """The 503 answer for a database failure."""
    return json_error(503, "database unavailable", detail=type(exc).__name__)


async def bounded(pod: Pod, work: Awaitable[T]) -> T:
    """Await database ``work`` within ``db_query_timeout_s`` (raises TimeoutError beyond)."""
    async with asyncio.timeout(pod.settings.db_query_timeout_s):
        return await work


DbHandler = Callable[[web.Request, Pod], Awaitable[web.StreamResponse]]


def db_route(fn: DbHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Wrap a handler: pass it the pod, bound its DB time, and turn DB failures into 503."""

    @functools.wraps(fn)
    async def handler(request: web.Request) -> web.StreamResponse:
        pod = request.app[POD]
        try:
            return await bounded(pod, fn(request, pod))
        except DB_ERRORS as exc:
            return db_unavailable(exc)

    return handler


async def fetch_all(pod: Pod, query: str, params: Any = None) -> list[dict[str, Any]]:
    """Run one read query on a pooled connection."""
    async with pod.db().connection() as conn:
        cur = await conn.execute(query, params)
        return list(await cur.fetchall())


async def fetch_one(pod: Pod, query: str, params: Any = None) -> dict[str, Any] | None:
    """Run one read query returning at most one row."""
    rows = await fetch_all(pod, query, params)
    return rows[0] if rows else None
