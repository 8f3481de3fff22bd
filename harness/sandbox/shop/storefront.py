"""The storefront service: HTML pages built from the catalog, fetched through the ingress."""

from __future__ import annotations

import html
from typing import Any

import aiohttp
from aiohttp import web

from .runtime import POD

CATALOG: web.AppKey[aiohttp.ClientSession] = web.AppKey("catalog", aiohttp.ClientSession)
FEATURED = 8


class UpstreamError(Exception):
    """The catalog could not be reached or failed."""


async def catalog_get(request: web.Request, path: str, params: dict[str, str] | None = None) -> Any:
    """GET a catalog API path through the ingress; None on 404."""
    url = request.app[POD].settings.ingress_url + path
    try:
        async with request.app[CATALOG].get(url, params=params) as resp:
            if resp.status == 404:
                return None
            if resp.status != 200:
                raise UpstreamError(f"catalog answered {resp.status}")
            return await resp.json()
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise UpstreamError(type(exc).__name__) from exc


def page(title: str, body: str, status: int = 200) -> web.Response:
    """A whole HTML page."""
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)} - Shop</title>"
           f"</head><body><header><a href='/'>Shop</a><form action='/search'><input name='q'></form>"
           f"</header><main><h1>{html.escape(title)}</h1>{body}</main></body></html>")
    return web.Response(text=doc, content_type="text/html", status=status)


def product_list(products: list[dict[str, Any]]) -> str:
    """An HTML list of product links."""
    items = "".join(
        f"<li><a href='/products/{p['id']}'>{html.escape(p['name'])}</a> "
        f"<span class='price'>{p['price_cents'] / 100:.2f}</span></li>"
        for p in products
    )
    return f"<ul class='products'>{items}</ul>"


def upstream_failed(exc: UpstreamError) -> web.Response:
    """The error page when the catalog fails."""
    return page("Something went wrong", f"<p>catalog unavailable ({html.escape(str(exc))})</p>", 502)


async def home(request: web.Request) -> web.Response:
    """``GET /``: featured products."""
    try:
        data = await catalog_get(request, "/api/catalog/products", {"limit": str(FEATURED)})
    except UpstreamError as exc:
        return upstream_failed(exc)
    return page("Featured products", product_list((data or {}).get("products", [])))


async def product(request: web.Request) -> web.Response:
    """``GET /products/{id}``."""
    try:
        p = await catalog_get(request, f"/api/catalog/products/{request.match_info['id']}")
    except UpstreamError as exc:
        return upstream_failed(exc)
    if p is None:
        return page("Not found", "<p>No such product.</p>", 404)
    body = (f"<p class='sku'>{html.escape(p['sku'])}</p><p>{html.escape(p['description'])}</p>"
            f"<p class='price'>{p['price_cents'] / 100:.2f}</p><p class='stock'>{p['stock']} in stock</p>")
    return page(p["name"], body)


async def search(request: web.Request) -> web.Response:
    """``GET /search?q=``."""
    q = request.query.get("q", "")
    try:
        data = await catalog_get(request, "/api/catalog/search", {"q": q})
    except UpstreamError as exc:
        return upstream_failed(exc)
    return page(f"Search: {q}", product_list((data or {}).get("products", [])))


async def setup_storefront(app: web.Application) -> None:
    """Routes and catalog client of the storefront service."""
    timeout = aiohttp.ClientTimeout(total=app[POD].settings.upstream_timeout_s)
    app[CATALOG] = aiohttp.ClientSession(timeout=timeout)

    async def close(app: web.Application) -> None:
        await app[CATALOG].close()

    app.on_cleanup.append(close)
    app.router.add_get("/", home)
    app.router.add_get(r"/products/{id:\d+}", product)
    app.router.add_get("/search", search)
