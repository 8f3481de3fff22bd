"""The checkout service: order in one transaction, payment at the partner, payment recorded.

Partner failure (refused, timeout, non-2xx) -> 502 with a JSON error and the order marked
``payment_failed``; database failure -> 503. The cart is left as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
from aiohttp import web

from .db import DB_ERRORS, bounded, db_unavailable, install_pool
from .runtime import POD, Pod, json_error

PARTNER: web.AppKey[aiohttp.ClientSession] = web.AppKey("partner", aiohttp.ClientSession)


async def create_order(pod: Pod, cart_id: str) -> dict[str, Any] | None:
    """Write the order and its items in one transaction; None when the cart is empty."""
    async with pod.db().connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT coalesce(sum(ci.qty * p.price_cents), 0) AS total, count(*) AS n FROM cart_items ci "
            "JOIN products p ON p.id = ci.product_id WHERE ci.cart_id = %s", (cart_id,))
        head = await cur.fetchone()
        if not head or head["n"] == 0:
            return None
        cur = await conn.execute(
            "INSERT INTO orders (cart_id, total_cents, status) VALUES (%s, %s, 'pending') RETURNING id",
            (cart_id, head["total"]))
        order = await cur.fetchone()
        assert order is not None
        await conn.execute(
            "INSERT INTO order_items (order_id, product_id, qty, price_cents) "
            "SELECT %s, ci.product_id, ci.qty, p.price_cents FROM cart_items ci "
            "JOIN products p ON p.id = ci.product_id WHERE ci.cart_id = %s", (order["id"], cart_id))
    return {"order_id": order["id"], "total_cents": int(head["total"]), "items": int(head["n"])}


async def pay(session: aiohttp.ClientSession, url: str, order: dict[str, Any]) -> str:
    """Ask the partner to charge the order; its payment id. Raises on any partner failure."""
    body = {"order_id": order["order_id"], "amount_cents": order["total_cents"]}
    async with session.post(f"{url}/pay", json=body) as resp:
        if resp.status != 200:
            raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status,
                                              message="partner refused the payment")
        data = await resp.json()
    if data.get("status") != "approved":
        raise aiohttp.ClientPayloadError(f"payment not approved: {data.get('status')}")
    return str(data.get("id"))


async def record_payment(pod: Pod, order: dict[str, Any], payment_id: str | None, status: str) -> None:
    """Store the payment and the order's new status."""
    async with pod.db().connection() as conn, conn.transaction():
        if payment_id is not None:
            await conn.execute(
                "INSERT INTO payments (order_id, partner_id, amount_cents, status) VALUES (%s, %s, %s, %s)",
                (order["order_id"], payment_id, order["total_cents"], status))
        await conn.execute("UPDATE orders SET status = %s WHERE id = %s",
                           ("paid" if payment_id else status, order["order_id"]))


async def _cart_id(request: web.Request) -> str:
    try:
        body = await request.json()
        return str(body["cart_id"])
    except (ValueError, KeyError, TypeError):
        raise web.HTTPBadRequest(text='body must be JSON {"cart_id": str}') from None


async def checkout(request: web.Request) -> web.Response:
    """``POST /api/checkout`` with ``{"cart_id"}``. Database steps are bounded one by one, so a slow
    partner is never mistaken for a database failure."""
    pod = request.app[POD]
    cart_id = await _cart_id(request)
    try:
        order = await bounded(pod, create_order(pod, cart_id))
    except DB_ERRORS as exc:
        return db_unavailable(exc)
    if order is None:
        return json_error(400, "cart is empty", cart_id=cart_id)
    try:
        payment_id = await pay(request.app[PARTNER], pod.settings.partner_url, order)
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        with contextlib.suppress(*DB_ERRORS):
            await bounded(pod, record_payment(pod, order, None, "payment_failed"))
        return json_error(502, "payment partner failed", detail=type(exc).__name__, order_id=order["order_id"])
    try:
        await bounded(pod, record_payment(pod, order, payment_id, "approved"))
    except DB_ERRORS as exc:
        return db_unavailable(exc)
    return web.json_response({**order, "status": "paid", "payment_id": payment_id})


async def checkout_health(request: web.Request) -> web.Response:
    """``GET /api/checkout/health``: 200 when ``SELECT 1`` answers within 1 s and not draining."""
    pod = request.app[POD]
    if pod.draining:
        return json_error(503, "draining")
    try:
        async with asyncio.timeout(1.0), pod.db().connection(timeout=1.0) as conn:
            await conn.execute("SELECT 1")
    except DB_ERRORS as exc:
        return json_error(503, "database unavailable", detail=type(exc).__name__)
    return web.json_response({"ok": True, "pod": pod.name})


async def _open_partner(app: web.Application) -> None:
    timeout = aiohttp.ClientTimeout(total=app[POD].settings.partner_timeout_s)
    app[PARTNER] = aiohttp.ClientSession(timeout=timeout)

    async def close(app: web.Application) -> None:
        await app[PARTNER].close()

    app.on_cleanup.append(close)


async def setup_checkout(app: web.Application) -> None:
    """Routes, pool and partner client of the checkout service."""
    await install_pool(app)
    await _open_partner(app)
    app.router.add_post("/api/checkout", checkout)
    app.router.add_get("/api/checkout/health", checkout_health)
