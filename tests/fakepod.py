"""A minimal pod server for controller tests: same arguments as the shop module, serves /readyz and
/healthz, exits on SIGTERM after a short drain. ``--fail-ready FILE``: /readyz answers 503 while FILE
exists."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

DRAIN_SECONDS = 0.1


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--service", default="fake")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--settings", default="")
    p.add_argument("--pod", default="")
    p.add_argument("--fail-ready", default="")
    return p.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    async def readyz(_: web.Request) -> web.Response:
        if args.fail_ready and Path(args.fail_ready).exists():
            return web.Response(status=503, text="not ready")
        return web.Response(text="ok")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"pod": args.pod, "service": args.service, "pid": os.getpid()})

    app = web.Application()
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port, reuse_address=True).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await asyncio.sleep(DRAIN_SECONDS)
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Run until SIGTERM."""
    asyncio.run(_serve(_parse(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
