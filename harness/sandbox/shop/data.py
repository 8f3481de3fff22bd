"""The catalog and cart services: reads and small writes against PostgreSQL."""

from __future__ import annotations

from typing import Any

import psycopg
from aiohttp import web

from .db import db_route, fetch_all, fetch_one, install_pool
from .runtime import Pod, json_error

PRODUCT_COLUMNS = "id, sku, name, description, price_cents, stock, category"
MAX_LIMIT = 100


def _int_arg(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query.get(name, default))
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be an integer") from None
    return min(max(value, low), high)


# -- catalog --------------------------------------------------------------------------------------
@db_route
async def list_products(request: web.Request, pod: Pod) -> web.Response:
    """``GET /api/catalog/products?limit=&offset=``."""
    limit = _int_arg(request, "limit", 20, 1, MAX_LIMIT)
    offset = _int_arg(request, "offset", 0, 0, 10**9)
    rows = await fetch_all(pod, f"SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id LIMIT %s OFFSET %s",
                           (limit, offset))
    return web.json_response({"products": rows, "limit": limit, "offset": offset})


@db_route
async def get_product(request: web.Request, pod: Pod) -> web.Response:
    """``GET /api/catalog/products/{id}``."""
    row = await fetch_one(pod, f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = %s",
                          (int(request.match_info["id"]),))
    if row is None:
        return json_error(404, "no such product")
    return web.json_response(row)


@db_route
async def search(request: web.Request, pod: Pod) -> web.Response:
    """``GET /api/catalog/search?q=`` (name substring or exact category)."""
    q = request.query.get("q", "").strip()
    limit = _int_arg(request, "limit", 20, 1, MAX_LIMIT)
    rows = await fetch_all(
        pod,
        f"SELECT {PRODUCT_COLUMNS} FROM products WHERE name ILIKE %s OR category = %s ORDER BY id LIMIT %s",
        (f"%{q}%", q.lower(), limit),
    )
    return web.json_response({"q": q, "products": rows})


async def setup_catalog(app: web.Application) -> None:
    """Routes and pool of the catalog service."""
    await install_pool(app)
    app.router.add_get("/api/catalog/products", list_products)
    app.router.add_get(r"/api/catalog/products/{id:\d+}", get_product)
    app.router.add_get("/api/catalog/search", search)


# -- cart -----------------------------------------------------------------------------------------
async def read_cart(pod: Pod, cart_id: str) -> dict[str, Any]:
    """The cart's items with names and prices, and its total."""
    items = await fetch_all(
        pod,
        "SELECT ci.product_id, p.name, p.price_cents, ci.qty FROM cart_items ci "
        "JOIN products p ON p.id = ci.product_id WHERE ci.cart_id = %s ORDER BY ci.product_id",
        (cart_id,),
    )
    total = sum(i["price_cents"] * i["qty"] for i in items)
    return {"cart_id": cart_id, "items": items, "total_cents": total}


async def _item_payload(request: web.Request) -> tuple[int, int]:
    try:
        body = await request.json()
        product_id, qty = int(body["product_id"]), int(body.get("qty", 1))
    except (ValueError, KeyError, TypeError):
        raise web.HTTPBadRequest(text='body must be JSON {"product_id": int, "qty": int}') from None
    if qty < 1:
        raise web.HTTPBadRequest(text="qty must be >= 1")
    return product_id, qty


@db_route
async def add_item(request: web.Request, pod: Pod) -> web.Response:
    """``POST /api/cart/{cart_id}/items`` with ``{"product_id", "qty"}``; adds to the quantity."""
    cart_id = request.match_info["cart_id"]
    product_id, qty = await _item_payload(request)
    try:
        async with pod.db().connection() as conn, conn.transaction():
            await conn.execute("INSERT INTO carts (id) VALUES (%s) ON CONFLICT DO NOTHING", (cart_id,))
            await conn.execute(
                "INSERT INTO cart_items (cart_id, product_id, qty) VALUES (%s, %s, %s) "
                "ON CONFLICT (cart_id, product_id) DO UPDATE SET qty = cart_items.qty + EXCLUDED.qty",
                (cart_id, product_id, qty),
            )
    except psycopg.errors.ForeignKeyViolation:
        return json_error(404, "no such product", product_id=product_id)
    return web.json_response(await read_cart(pod, cart_id))


@db_route
async def get_cart(request: web.Request, pod: Pod) -> web.Response:
    """``GET /api/cart/{cart_id}`` (an unknown cart is empty)."""
    return web.json_response(await read_cart(pod, request.match_info["cart_id"]))


async def setup_cart(app: web.Application) -> None:
    """Routes and pool of the cart service."""
    await install_pool(app)
    app.router.add_post("/api/cart/{cart_id}/items", add_item)
    app.router.add_get("/api/cart/{cart_id}", get_cart)
