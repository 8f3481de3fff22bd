"""A TCP fault proxy that speaks Toxiproxy's HTTP API (v2), on ``ctx.ports["toxiproxy"]``.

At start it creates ``postgres`` (pg_proxy -> postgres) and ``payment-partner`` (partner_proxy ->
partner). Endpoints: GET /version, GET|POST /proxies, POST /populate, GET|POST|PATCH|DELETE
/proxies/{proxy}, GET|POST /proxies/{proxy}/toxics, GET|POST|PATCH|DELETE
/proxies/{proxy}/toxics/{toxic}, POST /reset. Errors are ``{"error": msg, "status": code}``.
Toxic types live in `harness.sandbox.network.toxics`.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..core.context import Context
from .proxy import ClientCheck, Proxy, ProxyError

VERSION = "2.9.0-sandbox"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except json.JSONDecodeError as e:
        raise ProxyError(400, "bad request body") from e
    if not isinstance(body, dict):
        raise ProxyError(400, "bad request body")
    return body


class Toxiproxy:
    """Component "toxiproxy". ``blocked_client(ip, port) -> bool``, when set, refuses new connections
    from that client address (`netpolicy` wires zone network outages to it)."""

    name = "toxiproxy"

    def __init__(self) -> None:
        self.ctx: Context | None = None
        self.proxies: dict[str, Proxy] = {}
        self.blocked_client: ClientCheck | None = None
        self._runner: web.AppRunner | None = None

    # -- component protocol -------------------------------------------------------------------------

    async def start(self, ctx: Context) -> None:
        """Serve the API and create the sandbox's two proxies (their upstreams need not be up)."""
        self.ctx = ctx
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self._routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.SockSite(self._runner, ctx.listener("toxiproxy")).start()
        defaults = [
            ("postgres", "pg_proxy", "postgres"),
            ("payment-partner", "partner_proxy", "partner"),
        ]
        for name, listen, upstream in defaults:
            await self.create_proxy({"name": name, "listen": f"127.0.0.1:{ctx.ports[listen]}",
                                     "upstream": f"127.0.0.1:{ctx.ports[upstream]}"},
                                    sock=ctx.listener(listen, shared=True))

    async def stop(self) -> None:
        """Close every proxy and the API."""
        for proxy in list(self.proxies.values()):
            await proxy.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def health(self) -> dict[str, Any]:
        """Serving flag and, per proxy, enabled flag, toxic count and open connections."""
        return {
            "ok": self._runner is not None,
            "proxies": {n: {"enabled": p.enabled, "toxics": len(p.toxics), "connections": len(p.conns)}
                        for n, p in self.proxies.items()},
        }

    # -- operations usable in-process too -----------------------------------------------------------

    async def create_proxy(self, body: dict[str, Any], sock: socket.socket | None = None) -> Proxy:
        """Create (and, unless ``enabled`` is false, open) a proxy; ProxyError 409 if the name is taken.
        ``sock``: the socket, already bound to ``listen``, that the proxy serves on."""
        assert self.ctx is not None
        name, listen, upstream = body.get("name"), body.get("listen"), body.get("upstream")
        if not name or not isinstance(name, str):
            raise ProxyError(400, "missing required field: name")
        if not upstream or not isinstance(upstream, str):
            raise ProxyError(400, "missing required field: upstream")
        if name in self.proxies:
            raise ProxyError(409, "proxy already exists")
        proxy = Proxy(name, str(listen or "127.0.0.1:0"), upstream, self.ctx.truth, lambda: self.blocked_client,
                      sock=sock)
        try:
            for toxic in body.get("toxics") or []:
                proxy.add_toxic(toxic if isinstance(toxic, dict) else {})
            if body.get("enabled", True):
                await proxy.enable()
        except ProxyError:
            await proxy.close()
            raise
        self.proxies[name] = proxy
        return proxy

    def proxy(self, name: str) -> Proxy:
        """The named proxy, or ProxyError 404."""
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ProxyError(404, "proxy not found")
        return proxy

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        for proxy in self.proxies.values():
            proxy.remove_all_toxics()
            await proxy.enable()

    # -- HTTP ---------------------------------------------------------------------------------------

    def _routes(self) -> list[web.RouteDef]:
        one, toxics = "/proxies/{proxy}", "/proxies/{proxy}/toxics"
        return [
            web.get("/version", self._version),
            web.get("/proxies", self._list),
            web.post("/proxies", self._create),
            web.post("/populate", self._populate),
            web.post("/reset", self._reset),
            web.get(one, self._get),
            web.post(one, self._update),
            web.patch(one, self._update),
            web.delete(one, self._delete),
            web.get(toxics, self._list_toxics),
            web.post(toxics, self._create_toxic),
            web.get(toxics + "/{toxic}", self._get_toxic),
            web.post(toxics + "/{toxic}", self._update_toxic),
            web.patch(toxics + "/{toxic}", self._update_toxic),
            web.delete(toxics + "/{toxic}", self._delete_toxic),
        ]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ProxyError as e:
            return _error(e.status, e.message)
        except web.HTTPException as e:
            return _error(e.status, e.reason)

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": VERSION})

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({n: p.to_json() for n, p in self.proxies.items()})

    async def _create(self, request: web.Request) -> web.Response:
        proxy = await self.create_proxy(await _body(request))
        return web.json_response(proxy.to_json(), status=201)

    async def _populate(self, request: web.Request) -> web.Response:
        """Create or replace a list of proxies (body: a list, or {"proxies": [...]})."""
        try:
            body = await request.json()
        except json.JSONDecodeError as e:
            raise ProxyError(400, "bad request body") from e
        items = body.get("proxies") if isinstance(body, dict) else body
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ProxyError(400, "bad request body")
        created = []
        for item in items:
            old = self.proxies.pop(str(item.get("name")), None)
            if old is not None:
                await old.close()
            created.append((await self.create_proxy(item)).to_json())
        return web.json_response({"proxies": created}, status=201)

    async def _reset(self, request: web.Request) -> web.Response:
        await self.reset()
        return web.Response(status=204)

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(self.proxy(request.match_info["proxy"]).to_json())

    async def _update(self, request: web.Request) -> web.Response:
        proxy = self.proxy(request.match_info["proxy"])
        await proxy.update(await _body(request))
        return web.json_response(proxy.to_json())

    async def _delete(self, request: web.Request) -> web.Response:
        proxy = self.proxy(request.match_info["proxy"])
        await proxy.close()
        proxy.remove_all_toxics()
        del self.proxies[proxy.name]
        return web.Response(status=204)

    async def _list_toxics(self, request: web.Request) -> web.Response:
        proxy = self.proxy(request.match_info["proxy"])
        return web.json_response([t.to_json() for t in proxy.toxics.values()])

    async def _create_toxic(self, request: web.Request) -> web.Response:
        proxy = self.proxy(request.match_info["proxy"])
        return web.json_response(proxy.add_toxic(await _body(request)).to_json())

    async def _get_toxic(self, request: web.Request) -> web.Response:
        proxy = self.proxy(request.match_info["proxy"])
        return web.json_response(proxy.toxic(request.match_info["toxic"]).to_json())

    async def _update_toxic(self, request: web.Request) -> web.Response:
        proxy = self.proxy(request.match_info["proxy"])
        toxic = proxy.update_toxic(request.match_info["toxic"], await _body(request))
        return web.json_response(toxic.to_json())

    async def _delete_toxic(self, request: web.Request) -> web.Response:
        self.proxy(request.match_info["proxy"]).remove_toxic(request.match_info["toxic"])
        return web.Response(status=204)
