"""The external payment partner: a tiny HTTP server in its own process.

``python -m harness.sandbox.partner --port P --latency-ms X`` (or ``--fd N``: serve on an inherited,
already bound socket, as the `Partner` component starts it) serves ``POST /pay`` (answers
``{"status": "approved", "id": ...}`` after X ms) and ``GET /health``. The `Partner` component starts
and stops that process; the shop reaches it through the fault proxy (``partner_proxy`` port).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from .core.context import Context

START_DEADLINE = 15.0


def build_app(latency_ms: float) -> web.Application:
    """The partner's aiohttp application."""
    counter = {"payments": 0}

    async def pay(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        await asyncio.sleep(latency_ms / 1000.0)
        counter["payments"] += 1
        return web.json_response({
            "status": "approved", "id": f"pay_{uuid.uuid4().hex[:16]}",
            "amount_cents": body.get("amount_cents"), "order_id": body.get("order_id"),
        })

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "payments": counter["payments"]})

    app = web.Application()
    app.router.add_post("/pay", pay)
    app.router.add_get("/health", health)
    return app


async def serve(port: int, latency_ms: float, host: str = "127.0.0.1", fd: int | None = None) -> None:
    """Run the partner until SIGTERM/SIGINT, on socket ``fd`` when given, else on ``host:port``."""
    runner = web.AppRunner(build_app(latency_ms), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    if fd is not None:
        await web.SockSite(runner, socket.socket(fileno=fd)).start()
    else:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def child_env() -> dict[str, str]:
    """Environment for sandbox child processes: the project root on PYTHONPATH."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


async def wait_http_ok(host: str, port: int, path: str, deadline: float) -> None:
    """Poll ``GET path`` until it answers 200 or the monotonic ``deadline`` passes."""
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 2.0)
            writer.close()
            if b" 200 " in status:
                return
        except (TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host}:{port}{path} did not answer 200 in time")
        await asyncio.sleep(0.05)


class Partner:
    """Sandbox component: the payment partner process on ``ctx.ports["partner"]``."""

    name = "partner"

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._url = ""

    async def start(self, ctx: Context) -> None:
        """Spawn the partner process on the sandbox's bound socket and wait until ``/health`` answers.
        The child gets the socket itself (``pass_fds``); our copy is closed, so the port closes with it."""
        port = ctx.ports["partner"]
        sock = ctx.listener("partner")
        log = open(ctx.dir / "partner.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "harness.sandbox.partner", "--port", str(port),
                "--fd", str(sock.fileno()), "--latency-ms", str(ctx.config.partner_latency_ms),
                stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL, env=child_env(),
                pass_fds=(sock.fileno(),),
            )
        finally:
            log.close()
            sock.close()
        self._url = f"http://127.0.0.1:{port}"
        try:
            await wait_http_ok("127.0.0.1", port, "/health", time.monotonic() + START_DEADLINE)
        except TimeoutError:
            await self.stop()
            raise
        ctx.endpoints["partner"] = self._url

    async def stop(self) -> None:
        """SIGTERM the process, SIGKILL it if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    def health(self) -> dict[str, Any]:
        """Alive when the process runs."""
        alive = self._proc is not None and self._proc.returncode is None
        return {"ok": alive, "url": self._url, "pid": self._proc.pid if self._proc else None}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the partner process."""
    parser = argparse.ArgumentParser(description="Sandbox payment partner")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--fd", type=int, default=None, help="serve on this inherited, bound socket")
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.latency_ms, args.host, args.fd))


if __name__ == "__main__":
    main()
