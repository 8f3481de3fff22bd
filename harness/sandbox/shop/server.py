"""A shop pod: one process serving one service of the shop over HTTP.

Run as ``python -m harness.sandbox.shop.server --service NAME --host IP --port PORT --settings PATH --pod POD``.
The settings file (JSON, schema `settings.ShopSettings`) is written once by the daemon with
`settings.write_shop_settings`. Services and their routes:

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

if TYPE_CHECKING:
    from aiohttp import web

    from .runtime import Pod
    from .settings import ShopSettings

#: service name -> "module:setup function"; imported lazily so a pod loads only what it needs.
SERVICES: dict[str, str] = {
    "storefront": "harness.sandbox.shop.storefront:setup_storefront",
    "catalog": "harness.sandbox.shop.data:setup_catalog",
    "cart": "harness.sandbox.shop.data:setup_cart",
    "checkout": "harness.sandbox.shop.checkout:setup_checkout",
}


async def build_app(service: str, pod_name: str, settings: ShopSettings) -> tuple[web.Application, Pod]:
    """The aiohttp application of one pod of ``service``, and its `Pod` state."""
    from aiohttp import web

    from .runtime import POD, Capacity, Metrics, Pod, add_common_routes, make_middleware

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

    prometheus_client.disable_created_metrics()
    from .settings import load_settings

    asyncio.run(serve(args.service, args.host, args.port, load_settings(args.settings), args.pod))


if __name__ == "__main__":
    main()
