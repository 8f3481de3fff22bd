"""The sandbox daemon: one asyncio loop running every component, until SIGTERM.

Run by `harness sandbox up` as ``python -m harness.sandbox.daemon --dir .sandbox [--config FILE]``.
Start order matters: data stores and proxies first, then the APIs, then the controller (which starts
the pods), then the ingress and Prometheus. Once every deployment is ready it writes
``kubeconfig`` (with the API server's bearer token), ``endpoints.json`` (both 0600) and ``ready`` into
the sandbox folder.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .config import SandboxConfig, load_config
from .core.context import Component, Context, new_context
from .core.files import write_private
from .kube.apiserver import KubeApi
from .kube.auth import token_matches, unauthorized
from .manage import prepare_dir
from .network.ingress import Ingress
from .prometheus import Prometheus

log = logging.getLogger("sandbox")

#: (component name, module, class) in start order; stopped in reverse.
COMPONENTS: tuple[tuple[str, str, str], ...] = (
    ("postgres", "harness.sandbox.postgres", "Postgres"),
    ("partner", "harness.sandbox.partner", "Partner"),
    ("toxiproxy", "harness.sandbox.network.toxiproxy", "Toxiproxy"),
    ("kubeapi", "harness.sandbox.kube.apiserver", "KubeApi"),
    ("compute", "harness.sandbox.compute.api", "ComputeApi"),
    ("controller", "harness.sandbox.controller.manager", "Controller"),
    ("ingress", "harness.sandbox.network.ingress", "Ingress"),
    ("prometheus", "harness.sandbox.prometheus", "Prometheus"),
)


def endpoints_of(ctx: Context) -> dict[str, Any]:
    """The contents of ``endpoints.json``: how the harness reaches every part of the sandbox."""
    prom = ctx.components.get("prometheus")
    prom_url = prom.url if isinstance(prom, Prometheus) else None
    return {
        "kubernetes": ctx.component("kubeapi", KubeApi).url,  # https: see kube.tls
        "compute": ctx.url("compute"),
        "ingress": ctx.url("ingress"),
        "toxiproxy": ctx.url("toxiproxy"),
        "postgres": ctx.endpoints.get("postgres"),
        "postgres_admin": ctx.endpoints.get("postgres_admin"),
        "postgres_data": ctx.endpoints.get("postgres_data"),
        "postgres_via_proxy": f"postgresql://shop:{ctx.secret('shop_db_password')}@127.0.0.1:{ctx.ports['pg_proxy']}/shop",
        "partner": ctx.endpoints.get("partner"),
        "proxies": {"postgres": "postgres", "payment-partner": "payment-partner"},
        "prometheus": prom_url,
        "project": ctx.config.project,
        "region": ctx.config.region,
        "network": ctx.config.node_network,
        "zones": ctx.config.zone_names,
        "namespace": ctx.config.namespace,
        "kubeconfig": str((ctx.dir / "kubeconfig").resolve()),
        "admin": ctx.url("admin"),
        "pid": os.getpid(),
    }


def _load_component(module: str, cls: str) -> Component:
    factory: Callable[[], Component] = getattr(importlib.import_module(module), cls)
    return factory()


async def _wait_deployments_ready(ctx: Context, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deps = ctx.store.list("deployments", ctx.config.namespace, copy_out=False)
        ingress = ctx.components.get("ingress")
        if deps and all(
            (d.get("status") or {}).get("readyReplicas", 0) >= d["spec"].get("replicas", 0)
            and (not isinstance(ingress, Ingress) or len(ingress.endpoints(d["metadata"]["name"])) >= d["spec"].get("replicas", 0))
            for d in deps
        ):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"deployments not ready after {timeout:.0f}s")


class Daemon:
    """Starts the components, serves the admin API, stops everything on SIGTERM."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.started: list[Component] = []
        self._stop = asyncio.Event()
        self._admin: web.AppRunner | None = None

    async def start(self) -> None:
        for name, module, cls in COMPONENTS:
            comp = _load_component(module, cls)
            t0 = time.monotonic()
            if name == "kubeapi":
                self._write_shop_settings()
            await comp.start(self.ctx)
            self.ctx.components[name] = comp
            self.started.append(comp)
            log.info("started %s in %.2fs", name, time.monotonic() - t0)
        from .network.netpolicy import install

        install(self.ctx)  # zone network outages: firewall deny rules enforced at the ingress and proxies
        await self._start_admin()
        await _wait_deployments_ready(self.ctx, timeout=90)
        self._write_outputs()

    def _write_shop_settings(self) -> None:
        from .shop.settings import write_shop_settings

        write_shop_settings(self.ctx)

    def _write_outputs(self) -> None:
        from .kube.kubeconfig import write_kubeconfig

        api = self.ctx.component("kubeapi", KubeApi)
        write_kubeconfig(self.ctx.dir / "kubeconfig", api.url, api.token, api.tls.ca_pem)
        eps = endpoints_of(self.ctx)
        write_private(self.ctx.dir / "endpoints.json", json.dumps(eps, indent=2) + "\n")
        (self.ctx.dir / "ready").write_text(str(os.getpid()))
        log.info("sandbox ready: %s", eps["ingress"])

    async def _start_admin(self) -> None:
        app = web.Application()
        app.router.add_get("/status", self._status)
        app.router.add_post("/shutdown", self._shutdown)
        self._admin = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._admin.setup()
        await web.SockSite(self._admin, self.ctx.listener("admin")).start()

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for comp in self.started:
            try:
                out[comp.name] = comp.health()
            except Exception as exc:  # noqa: BLE001 - status must always answer
                out[comp.name] = {"ok": False, "error": repr(exc)}
        return out

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"pid": os.getpid(), "components": self.health()})

    def _kube_token(self) -> str:
        return self.ctx.component("kubeapi", KubeApi).token

    async def _shutdown(self, request: web.Request) -> web.Response:
        """Stop the sandbox; like the API, only for a caller holding the kubeconfig's token."""
        if not token_matches(request.headers.get("Authorization"), self._kube_token()):
            return unauthorized()
        self._stop.set()
        return web.json_response({"stopping": True})

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        await self._stop.wait()

    async def stop(self) -> None:
        for name in ("ready", "endpoints.json"):
            (self.ctx.dir / name).unlink(missing_ok=True)
        for comp in reversed(self.started):
            try:
                await asyncio.wait_for(comp.stop(), timeout=20)
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("stopping %s failed", comp.name)
        if self._admin:
            await self._admin.cleanup()
        self.ctx.listeners.close()
        self.ctx.truth.close()


async def serve(directory: Path, config: SandboxConfig) -> None:
    """Run the sandbox until SIGTERM/SIGINT or POST /shutdown; always stop every component."""
    (directory / "truth.jsonl").unlink(missing_ok=True)
    ctx = new_context(config, directory)
    daemon = Daemon(ctx)
    try:
        await daemon.start()
        await daemon.run_until_stopped()
    finally:
        await daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(".sandbox"))
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    prepare_dir(args.dir)
    (args.dir / "daemon.pid").write_text(str(os.getpid()))
    try:
        asyncio.run(serve(args.dir.resolve(), load_config(args.config)))
    finally:
        (args.dir / "daemon.pid").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
