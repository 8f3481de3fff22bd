"""The ingress: routing, round-robin, endpoint lag, 502/503 and truth, against local HTTP servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from harness.sandbox.config import SandboxConfig, Timings
from harness.sandbox.core.context import Context, free_port, new_context
from harness.sandbox.core.truth import read_truth
from harness.sandbox.network.ingress import Ingress

LAG = 0.6
IPS = [f"127.0.8.{i}" for i in range(1, 6)]
WHO: web.AppKey[str] = web.AppKey("who", str)


def _pod(name: str, app: str, ip: str, ready: bool = True) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": app}},
        "status": {"podIP": ip, "phase": "Running",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


async def _echo(request: web.Request) -> web.Response:
    body = await request.text()
    return web.json_response(
        {"who": request.app[WHO], "method": request.method, "path": request.path,
         "query": request.query_string, "body": body, "xff": request.headers.get("X-Forwarded-For")},
        headers={"X-Upstream": "yes"})


class Harness:
    """A context, an ingress and echo upstreams listening on pod IPs, all on one loop."""

    def __init__(self, ctx: Context, ingress: Ingress) -> None:
        self.ctx, self.ingress = ctx, ingress
        self.runners: list[web.AppRunner] = []
        self.client: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ctx.ports['ingress']}"

    async def upstream(self, ip: str, who: str) -> None:
        app = web.Application()
        app[WHO] = who
        app.router.add_route("*", "/{tail:.*}", _echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, ip, self.ctx.config.pod_port).start()
        self.runners.append(runner)

    async def get(self, path: str, **kw: Any) -> tuple[int, dict[str, Any], Any]:
        assert self.client is not None
        method = kw.pop("method", "GET")
        async with self.client.request(method, self.url + path, **kw) as resp:
            data = await resp.json(content_type=None)
            return resp.status, dict(resp.headers), data

    async def served_by(self, path: str, n: int) -> list[str]:
        return [(await self.get(path))[1].get("X-Served-By", "") for _ in range(n)]


def run(tmp_path: Path, scenario: Callable[[Harness], Awaitable[None]], **ingress_kw: Any) -> Context:
    """Run ``scenario`` with pods storefront-0 (IPS[0]) and catalog-0/1 (IPS[1], IPS[2]) ready."""

    async def main() -> Context:
        cfg = SandboxConfig(pod_port=free_port(IPS[0]), timings=Timings(endpoint_lag=LAG))
        ctx = new_context(cfg, tmp_path)
        ingress = Ingress(**ingress_kw)
        h = Harness(ctx, ingress)
        for ip, who in zip(IPS, ["storefront-0", "catalog-0", "catalog-1", "catalog-2"], strict=False):
            await h.upstream(ip, who)
        for name, app, ip in [("storefront-0", "storefront", IPS[0]), ("catalog-0", "catalog", IPS[1]),
                              ("catalog-1", "catalog", IPS[2])]:
            ctx.store.create("pods", _pod(name, app, ip), "shop")
        await ingress.start(ctx)
        h.client = aiohttp.ClientSession()
        try:
            await scenario(h)
        finally:
            await h.client.close()
            await ingress.stop()
            for r in h.runners:
                await r.cleanup()
            ctx.truth.close()
        return ctx

    return asyncio.run(main())


async def _wait_until(pred: Callable[[], bool], deadline_s: float = 10.0) -> float:
    start = time.monotonic()
    while not pred():
        assert time.monotonic() - start < deadline_s, "condition never held"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def test_routing_and_forwarding(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        status, headers, data = await h.get("/api/catalog/products/3?limit=2&x=y")
        assert status == 200 and headers["X-Served-By"].startswith("catalog-")
        assert data["path"] == "/api/catalog/products/3" and data["query"] == "limit=2&x=y"
        assert headers["X-Upstream"] == "yes" and data["xff"] == "127.0.0.1"
        status, headers, data = await h.get("/api/cart/c1/items", method="POST", json={"product_id": 1})
        assert status == 503 and data["service"] == "cart"  # no cart pods
        _, headers, data = await h.get("/api/catalogue")  # not under /api/catalog
        assert headers["X-Served-By"] == "storefront-0"
        _, headers, data = await h.get("/products/1")
        assert data["who"] == "storefront-0"
        assert h.ingress.route("/api/catalog") == "catalog" and h.ingress.route("/") == "storefront"

    run(tmp_path, scenario)


def test_forwards_method_and_body(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        status, _, data = await h.get("/search", method="POST", data=b"hello", headers={"X-A": "1"})
        assert status == 200 and data["method"] == "POST" and data["body"] == "hello"

    run(tmp_path, scenario)


def test_round_robin(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        served = await h.served_by("/api/catalog/products", 6)
        assert sorted(set(served)) == ["catalog-0", "catalog-1"]
        assert served.count("catalog-0") == 3 and all(a != b for a, b in zip(served, served[1:], strict=False))

    run(tmp_path, scenario)


def test_lag_on_add_and_remove(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        h.ctx.store.create("pods", _pod("catalog-2", "catalog", IPS[3]), "shop")
        assert h.ingress.endpoints("catalog") == ["catalog-0", "catalog-1"]
        waited = await _wait_until(lambda: "catalog-2" in h.ingress.endpoints("catalog"))
        assert waited >= LAG * 0.8
        assert "catalog-2" in await h.served_by("/api/catalog/x", 3)

        await h.runners[1].cleanup()  # catalog-0's process dies ...
        h.ctx.store.delete("pods", "shop", "catalog-0")  # ... and its pod is gone
        # still in rotation during the lag: requests to it fail like they would for real
        statuses = [(await h.get("/api/catalog/x"))[0] for _ in range(3)]
        assert "catalog-0" in h.ingress.endpoints("catalog") and 502 in statuses
        waited = await _wait_until(lambda: "catalog-0" not in h.ingress.endpoints("catalog"))
        assert waited >= LAG * 0.5
        assert "catalog-0" not in await h.served_by("/api/catalog/x", 4)

    ctx = run(tmp_path, scenario)
    events = [(e["event"], e["pod"]) for e in read_truth(ctx.dir / "truth.jsonl")]
    assert sorted(events[:3]) == [("endpoint.added", "catalog-0"), ("endpoint.added", "catalog-1"),
                                  ("endpoint.added", "storefront-0")]
    assert events[3:] == [("endpoint.added", "catalog-2"), ("endpoint.removed", "catalog-0")]
    removed = read_truth(ctx.dir / "truth.jsonl")[-1]
    assert removed["service"] == "catalog" and removed["ip"] == IPS[1]


def test_unready_and_terminating_pods_leave(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        def unready(obj: dict[str, Any]) -> None:
            obj["status"]["conditions"][0]["status"] = "False"

        h.ctx.store.mutate("pods", "shop", "catalog-1", unready)
        h.ctx.store.mutate("pods", "shop", "storefront-0",
                           lambda o: o["metadata"].__setitem__("deletionTimestamp", "2026-01-01T00:00:00Z"))
        await _wait_until(lambda: h.ingress.endpoints("catalog") == ["catalog-0"])
        await _wait_until(lambda: h.ingress.endpoints("storefront") == [])
        assert (await h.get("/"))[0] == 503
        assert h.ingress.health()["endpoints"]["catalog"] == ["catalog-0"]

    run(tmp_path, scenario)


def test_dead_endpoint_is_502(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        h.ctx.store.create("pods", _pod("cart-0", "cart", IPS[4]), "shop")  # nothing listens there
        await _wait_until(lambda: h.ingress.endpoints("cart") == ["cart-0"])
        status, headers, data = await h.get("/api/cart/abc")
        assert status == 502 and headers["X-Served-By"] == "cart-0"

    run(tmp_path, scenario)


def test_blocked_endpoint_is_502(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        status, headers, _ = await h.get("/api/catalog/x")
        assert status == 502 and headers["X-Served-By"].startswith("catalog-")
        assert (await h.get("/"))[0] == 200

    run(tmp_path, scenario, blocked=lambda ip: ip in (IPS[1], IPS[2]), blocked_delay=0.05)
