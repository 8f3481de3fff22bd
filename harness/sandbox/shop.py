"""A shop pod: one process serving one service of the shop over HTTP.

Run as ``python -m harness.sandbox.shop --service NAME --host IP --port PORT --settings PATH --pod POD``.
The settings file (JSON, schema `ShopSettings`) is written once by the daemon with
`write_shop_settings`. Services and their routes:

- ``storefront``: ``GET /``, ``GET /products/{id}``, ``GET /search?q=`` (HTML, from the catalog via the ingress)
- ``catalog``: ``GET /api/catalog/products?limit=&offset=``, ``GET /api/catalog/products/{id}``,
  ``GET /api/catalog/search?q=``
- ``cart``: ``POST /api/cart/{cart_id}/items``, ``GET /api/cart/{cart_id}``
- ``checkout``: ``POST /api/checkout``, ``GET /api/checkout/health``
- every pod: ``/healthz``, ``/readyz`` (503 while draining), ``/metrics``; responses carry ``X-Pod``.

SIGTERM: the pod turns unready, stops listening, lets in-flight requests finish for up to
``drain_timeout_s`` and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from aiohttp import web

    from .context import Context
    from .shop_runtime import Pod

#: service name -> "module:setup function"; imported lazily so a pod loads only what it needs.
SERVICES: dict[str, str] = {
    "storefront": "harness.sandbox.shop_storefront:setup_storefront",
    "catalog": "harness.sandbox.shop_data:setup_catalog",
    "cart": "harness.sandbox.shop_data:setup_cart",
    "checkout": "harness.sandbox.shop_checkout:setup_checkout",
}


class ServiceCapacity(BaseModel):
    """How much one pod of a service can serve."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(8, ge=1, description="Requests one pod serves at once; the rest queue.")
    service_time_ms: float = Field(20.0, ge=0, description="Time every request holds its slot, besides its work.")
    queue_limit: int = Field(64, ge=0, description="Requests allowed to wait; beyond this the pod answers 503.")


class ShopSettings(BaseModel):
    """The settings file every shop pod reads (``<sandbox dir>/shop.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dsn: str = Field(description="PostgreSQL DSN of the shop database (through the fault proxy).")
    partner_url: str = Field(description="Base URL of the payment partner (through the fault proxy).")
    ingress_url: str = Field(description="Base URL of the ingress; the storefront calls the catalog there.")
    db_pool_size: int = Field(4, ge=1, description="Maximum PostgreSQL connections per pod.")
    services: dict[str, ServiceCapacity] = Field(
        default_factory=dict, description="Capacity per service name; missing services take the defaults.")
    db_pool_timeout_s: float = Field(2.0, description="Longest wait for a pooled connection before a 503.")
    db_query_timeout_s: float = Field(5.0, description="Longest time a request may spend on the database.")
    partner_timeout_s: float = Field(5.0, description="Timeout of one call to the payment partner.")
    upstream_timeout_s: float = Field(5.0, description="Timeout of the storefront's calls to the catalog.")
    drain_timeout_s: float = Field(3.0, description="How long in-flight requests may finish after SIGTERM.")

    def capacity(self, service: str) -> ServiceCapacity:
        """The capacity of ``service`` (defaults when not listed)."""
        return self.services.get(service) or ServiceCapacity()


def shop_settings(ctx: Context) -> ShopSettings:
    """The settings the daemon gives every pod: DB and partner through the fault proxy."""
    cfg = ctx.config
    return ShopSettings(
        dsn=f"postgresql://shop:{ctx.secret('shop_db_password')}@127.0.0.1:{ctx.ports['pg_proxy']}/shop",
        partner_url=f"http://127.0.0.1:{ctx.ports['partner_proxy']}",
        ingress_url=ctx.url("ingress"),
        db_pool_size=cfg.db_pool_size,
        services={
            s.name: ServiceCapacity(concurrency=s.concurrency, service_time_ms=s.service_time_ms,
                                    queue_limit=s.queue_limit)
            for s in cfg.services
        },
    )


def write_shop_settings(ctx: Context) -> Path:
    """Write ``ctx.dir/"shop.json"`` from the context; return its path."""
    from .manage import write_private

    path = ctx.dir / "shop.json"
    write_private(path, shop_settings(ctx).model_dump_json(indent=2))  # 0600: the DSN holds a password
    return path


def load_settings(path: Path) -> ShopSettings:
    """Read a settings file."""
    return ShopSettings.model_validate_json(Path(path).read_text())


async def build_app(service: str, pod_name: str, settings: ShopSettings) -> tuple[web.Application, Pod]:
    """The aiohttp application of one pod of ``service``, and its `Pod` state."""
    from aiohttp import web

    from .shop_runtime import POD, Capacity, Metrics, Pod, add_common_routes, make_middleware

    cap = settings.capacity(service)
    pod = Pod(service=service, name=pod_name, settings=settings, metrics=Metrics(service),
              capacity=Capacity(cap.concurrency, cap.service_time_ms, cap.queue_limit))
    app = web.Application(middlewares=[make_middleware(pod)])
    app[POD] = pod
    add_common_routes(app, pod)
    module, func = SERVICES[service].split(":")
    await getattr(importlib.import_module(module), func)(app)
    return app, pod


async def serve(service: str, host: str, port: int, settings: ShopSettings, pod_name: str) -> None:
    """Serve until SIGTERM/SIGINT, then drain and return."""
    from aiohttp import web

    app, pod = await build_app(service, pod_name, settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=settings.drain_timeout_s)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True, backlog=512).start()
    stop = asyncio.Event()

    def on_signal() -> None:
        pod.draining = True
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Entry point of a pod process."""
    parser = argparse.ArgumentParser(description="One pod of the sandbox shop")
    parser.add_argument("--service", required=True, choices=sorted(SERVICES))
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--settings", type=Path, required=True)
    parser.add_argument("--pod", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s {args.pod} %(levelname)s %(message)s")
    import prometheus_client

    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    asyncio.run(serve(args.service, args.host, args.port, load_settings(args.settings), args.pod))


if __name__ == "__main__":
    main()
