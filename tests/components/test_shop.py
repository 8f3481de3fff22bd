"""Shop pods as real processes against a real PostgreSQL and the partner process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.sandbox.config import SandboxConfig
from harness.sandbox.core.context import Context, free_port, new_context
from harness.sandbox.partner import Partner, child_env
from harness.sandbox.postgres import Postgres
from harness.sandbox.shop.settings import ServiceCapacity, ShopSettings, load_settings, write_shop_settings

FAST = ServiceCapacity(concurrency=8, service_time_ms=1, queue_limit=64)


@dataclass
class Shop:
    """The running test fixture: context, pods by name (url) and their processes."""

    ctx: Context
    dir: Path
    urls: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _next_ip: int = 1

    def settings(self, name: str, **changes: object) -> Path:
        base = ShopSettings(
            dsn=self.ctx.endpoints["postgres"], partner_url=self.ctx.endpoints["partner"],
            ingress_url="http://127.0.0.1:1", db_pool_size=3, db_pool_timeout_s=1.0,
            services={s: FAST for s in ("storefront", "catalog", "cart", "checkout")},
        )
        path = self.dir / f"{name}.json"
        path.write_text(base.model_copy(update=changes).model_dump_json())
        return path

    def spawn(self, pod: str, service: str, settings: Path) -> None:
        ip = f"127.0.9.{self._next_ip}"
        self._next_ip += 1
        port = free_port(ip)
        log = open(self.dir / f"{pod}.log", "ab")  # noqa: SIM115
        self.procs[pod] = subprocess.Popen(
            [sys.executable, "-m", "harness.sandbox.shop.server", "--service", service, "--host", ip,
             "--port", str(port), "--settings", str(settings), "--pod", pod],
            stdout=log, stderr=log, env=child_env())
        log.close()
        self.urls[pod] = f"http://{ip}:{port}"

    def wait_ready(self, deadline_s: float = 30.0) -> None:
        deadline = time.monotonic() + deadline_s
        for pod, url in self.urls.items():
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert self.procs[pod].poll() is None, (self.dir / f"{pod}.log").read_text()
                assert time.monotonic() < deadline, f"{pod} never became ready"
                time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    d = tmp_path_factory.mktemp("shop")
    ctx = new_context(SandboxConfig(products=120, partner_latency_ms=5), d)
    loop = asyncio.new_event_loop()
    pg, partner = Postgres(), Partner()
    s = Shop(ctx, d)
    try:
        loop.run_until_complete(pg.start(ctx))
        loop.run_until_complete(partner.start(ctx))
        s.spawn("catalog-0", "catalog", s.settings("main"))
        s.spawn("catalog-1", "catalog", s.settings("main"))
        front = s.settings("front", ingress_url=s.urls["catalog-0"])
        s.spawn("storefront-0", "storefront", front)
        s.spawn("cart-0", "cart", s.settings("main"))
        s.spawn("checkout-0", "checkout", s.settings("main"))
        s.spawn("checkout-nopartner", "checkout", s.settings("nopartner", partner_url="http://127.0.0.1:1"))
        s.spawn("checkout-nodb", "checkout", s.settings("nodb", dsn="postgresql://shop:shop@127.0.0.1:1/shop"))
        slow = ServiceCapacity(concurrency=1, service_time_ms=50, queue_limit=64)
        s.spawn("catalog-slow", "catalog", s.settings("slow", services={"catalog": slow}))
        tiny = ServiceCapacity(concurrency=1, service_time_ms=400, queue_limit=2)
        s.spawn("catalog-tiny", "catalog", s.settings("tiny", services={"catalog": tiny}))
        s.wait_ready()
        yield s
    finally:
        for proc in s.procs.values():
            _stop(proc)
        loop.run_until_complete(partner.stop())
        loop.run_until_complete(pg.stop())
        loop.close()
        ctx.truth.close()


def test_catalog_routes(shop: Shop) -> None:
    url = shop.urls["catalog-0"]
    r = httpx.get(f"{url}/api/catalog/products", params={"limit": 5, "offset": 10})
    assert r.status_code == 200 and r.headers["X-Pod"] == "catalog-0"
    assert [p["id"] for p in r.json()["products"]] == [11, 12, 13, 14, 15]
    one = httpx.get(f"{url}/api/catalog/products/7").json()
    assert one["id"] == 7 and one["sku"] == "SKU-000007" and one["price_cents"] > 0
    assert httpx.get(f"{url}/api/catalog/products/99999").status_code == 404
    found = httpx.get(f"{url}/api/catalog/search", params={"q": "lamp"}).json()["products"]
    assert found and all("Lamp" in p["name"] for p in found)
    assert httpx.get(f"{shop.urls['catalog-1']}/api/catalog/products/1").headers["X-Pod"] == "catalog-1"


def test_storefront_pages(shop: Shop) -> None:
    url = shop.urls["storefront-0"]
    home = httpx.get(f"{url}/")
    assert home.status_code == 200 and "text/html" in home.headers["content-type"]
    assert home.text.count("<li>") == 8 and "/products/1'" in home.text
    prod = httpx.get(f"{url}/products/3")
    assert prod.status_code == 200 and "SKU-000003" in prod.text
    assert httpx.get(f"{url}/products/99999").status_code == 404
    assert "Mug" in httpx.get(f"{url}/search", params={"q": "mug"}).text


def test_cart_and_checkout_write_an_order(shop: Shop) -> None:
    cart, checkout = shop.urls["cart-0"], shop.urls["checkout-0"]
    assert httpx.get(f"{cart}/api/cart/c-1").json()["items"] == []
    httpx.post(f"{cart}/api/cart/c-1/items", json={"product_id": 2, "qty": 1}).raise_for_status()
    r = httpx.post(f"{cart}/api/cart/c-1/items", json={"product_id": 2, "qty": 2})
    assert r.json()["items"][0]["qty"] == 3
    assert httpx.post(f"{cart}/api/cart/c-1/items", json={"product_id": 99999}).status_code == 404
    assert httpx.post(f"{cart}/api/cart/c-1/items", json={"qty": 1}).status_code == 400
    total = httpx.get(f"{cart}/api/cart/c-1").json()["total_cents"]
    r = httpx.post(f"{checkout}/api/checkout", json={"cart_id": "c-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "paid" and body["total_cents"] == total and body["payment_id"].startswith("pay_")
    with psycopg.connect(shop.ctx.endpoints["postgres"]) as conn:
        row = conn.execute("SELECT status, total_cents FROM orders WHERE id = %s", (body["order_id"],)).fetchone()
        assert row == ("paid", total)
        assert conn.execute("SELECT count(*) FROM payments WHERE order_id = %s",
                            (body["order_id"],)).fetchone() == (1,)
    assert httpx.post(f"{checkout}/api/checkout", json={"cart_id": "empty"}).status_code == 400
    assert httpx.get(f"{checkout}/api/checkout/health").status_code == 200


def test_checkout_failures(shop: Shop) -> None:
    httpx.post(f"{shop.urls['cart-0']}/api/cart/c-2/items", json={"product_id": 5}).raise_for_status()
    r = httpx.post(f"{shop.urls['checkout-nopartner']}/api/checkout", json={"cart_id": "c-2"})
    assert r.status_code == 502 and r.json()["error"] == "payment partner failed"
    with psycopg.connect(shop.ctx.endpoints["postgres"]) as conn:
        status = conn.execute("SELECT status FROM orders WHERE id = %s", (r.json()["order_id"],)).fetchone()
        assert status == ("payment_failed",)
    nodb = shop.urls["checkout-nodb"]
    r = httpx.post(f"{nodb}/api/checkout", json={"cart_id": "c-2"}, timeout=10)
    assert r.status_code == 503 and r.json()["error"] == "database unavailable"
    assert httpx.get(f"{nodb}/api/checkout/health", timeout=10).status_code == 503
    assert httpx.get(f"{nodb}/readyz").status_code == 200


def test_pool_recovers_after_connections_are_killed(shop: Shop) -> None:
    url = shop.urls["catalog-1"]
    for _ in range(3):
        assert httpx.get(f"{url}/api/catalog/products/1").status_code == 200
    with psycopg.connect(shop.ctx.endpoints["postgres_admin"], autocommit=True) as conn:
        killed = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE application_name = 'shop-catalog'").fetchone()
    assert killed is not None and killed[0] >= 1
    codes = [httpx.get(f"{url}/api/catalog/products/1").status_code for _ in range(5)]
    assert codes == [200] * 5


async def _concurrent(url: str, n: int) -> tuple[float, list[int]]:
    async with httpx.AsyncClient(timeout=20) as client:
        start = time.monotonic()
        responses = await asyncio.gather(*(client.get(url) for _ in range(n)))
        return time.monotonic() - start, [r.status_code for r in responses]


def test_capacity_queues_requests(shop: Shop) -> None:
    url = f"{shop.urls['catalog-slow']}/api/catalog/products/1"
    single, _ = asyncio.run(_concurrent(url, 1))
    many, codes = asyncio.run(_concurrent(url, 10))
    assert codes == [200] * 10
    assert many >= 0.45  # ten requests through one 50 ms slot
    assert single < many / 2


def test_queue_limit_rejects_at_once(shop: Shop) -> None:
    _, codes = asyncio.run(_concurrent(f"{shop.urls['catalog-tiny']}/api/catalog/products/1", 8))
    # one served + two queued; the rest answered 503 at once (a straggler may arrive after a slot frees)
    assert 3 <= codes.count(200) <= 5 and codes.count(503) == 8 - codes.count(200)


def test_metrics_count_requests(shop: Shop) -> None:
    url = shop.urls["catalog-0"]
    for _ in range(4):
        httpx.get(f"{url}/api/catalog/products/2")
    text = httpx.get(f"{url}/metrics").text
    line = next(line for line in text.splitlines() if line.startswith("http_requests_total{")
                and 'route="/api/catalog/products/{id}"' in line and 'status="200"' in line)
    assert float(line.rsplit(" ", 1)[1]) >= 4
    assert any(line.startswith("http_request_duration_seconds_count{") and "/api/catalog/products/{id}" in line
               for line in text.splitlines())
    assert "http_requests_in_flight" in text and "shop_db_pool_size" in text


def test_sigterm_drains_and_exits_zero(shop: Shop) -> None:
    shop.spawn("catalog-drain", "catalog", shop.settings(
        "drain", services={"catalog": ServiceCapacity(concurrency=1, service_time_ms=400, queue_limit=8)}))
    shop.wait_ready()
    url, proc = shop.urls["catalog-drain"], shop.procs["catalog-drain"]

    async def scenario() -> int:
        async with httpx.AsyncClient(timeout=10) as client:
            pending = asyncio.ensure_future(client.get(f"{url}/api/catalog/products/1"))
            await asyncio.sleep(0.15)
            os.kill(proc.pid, signal.SIGTERM)
            return (await pending).status_code

    assert asyncio.run(scenario()) == 200  # the in-flight request finished
    assert proc.wait(10) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/readyz", timeout=1)


def test_write_shop_settings(shop: Shop) -> None:
    ctx = shop.ctx
    settings = load_settings(write_shop_settings(ctx))
    password = ctx.secret("shop_db_password")
    assert len(password) >= 20 and settings.dsn == f"postgresql://shop:{password}@127.0.0.1:{ctx.ports['pg_proxy']}/shop"
    assert settings.partner_url == f"http://127.0.0.1:{ctx.ports['partner_proxy']}"
    assert settings.ingress_url == f"http://127.0.0.1:{ctx.ports['ingress']}"
    assert settings.db_pool_size == ctx.config.db_pool_size
    spec = ctx.config.service("checkout")
    assert settings.capacity("checkout") == ServiceCapacity(
        concurrency=spec.concurrency, service_time_ms=spec.service_time_ms, queue_limit=spec.queue_limit)
