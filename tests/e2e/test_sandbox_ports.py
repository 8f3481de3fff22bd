"""Sandboxes started side by side never collide on a port.

The sandbox's own servers are handed sockets it bound itself (nobody can take the port in between);
PostgreSQL and Prometheus, which bind by themselves, are started again on a new port when theirs is
taken. Everything here uses real sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import errno
import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiohttp import web

from harness.sandbox.config import SandboxConfig
from harness.sandbox.core.context import BOUND_PORTS, PROXY_PORTS, new_context
from harness.sandbox.core.ports import Listeners, PortTaken, bind, start_on_free_port
from harness.sandbox.core.truth import Truth
from harness.sandbox.network.proxy import Proxy
from harness.sandbox.postgres import Postgres
from harness.sandbox.prometheus import Prometheus

SMALL = """
zones: [b]
nodes_per_zone: 1
prometheus: false
products: 20
services:
  - {name: storefront, replicas: 1, path_prefix: /}
  - {name: catalog, replicas: 1, path_prefix: /api/catalog}
"""


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def _bind_fails(port: int) -> bool:
    """Whether another socket (SO_REUSEADDR set, as postgres and Go servers do) cannot bind the port."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


# -- the sandbox's own servers: bound sockets ------------------------------------------------------


def test_context_holds_its_ports_from_the_start(tmp_path: Path) -> None:
    ctx = new_context(SandboxConfig(), tmp_path)
    held = [ctx.ports[name] for name in BOUND_PORTS + PROXY_PORTS]
    try:
        assert len(set(held)) == len(held)
        assert [p for p in held if not _bind_fails(p)] == []  # nobody else can take them
        assert [p for p in held if not _refused(p)] == []  # and, before a server listens, they refuse
    finally:
        ctx.listeners.close()
        ctx.truth.close()
    assert [p for p in held if _bind_fails(p)] == []  # closing gives them back


def test_a_server_handed_a_bound_socket_serves_on_it() -> None:
    async def scenario() -> tuple[int, int, bool]:
        listeners = Listeners()
        port = listeners.bind("api")
        app = web.Application()
        app.router.add_get("/", lambda _: web.Response(text="hello"))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = listeners.take("api")
        assert sock is not None and listeners.take("api") is None
        await web.SockSite(runner, sock).start()
        async with httpx.AsyncClient() as client:
            resp = await client.get(f"http://127.0.0.1:{port}/")
        await runner.cleanup()
        return port, resp.status_code, resp.text == "hello"

    port, status, body_ok = asyncio.run(scenario())
    assert (status, body_ok) == (200, True)
    assert _refused(port)  # the server owned the socket: it closed with the server


def test_a_disabled_proxy_keeps_its_port(tmp_path: Path) -> None:
    """Disable closes the listener (clients are refused) but no other process can take the port, so
    enabling again cannot fail for want of it."""

    async def scenario() -> None:
        sock = bind(shared=True)
        port = sock.getsockname()[1]
        truth = Truth(tmp_path / "truth.jsonl")
        proxy = Proxy("db", f"127.0.0.1:{port}", "127.0.0.1:1", truth, lambda: None, sock=sock)
        try:
            await proxy.enable()
            assert not _refused(port)
            await proxy.disable()
            assert _refused(port) and _bind_fails(port)
            await proxy.enable()
            assert proxy.listen == f"127.0.0.1:{port}" and not _refused(port)
            await proxy.disable()
            await proxy.enable()  # again, now with connections of the first listener in TIME_WAIT
            assert not _refused(port)
        finally:
            await proxy.close()
            truth.close()
        assert _refused(port) and not _bind_fails(port)

    asyncio.run(scenario())


# -- external programs: retried on a new port ------------------------------------------------------


def test_start_on_free_port_retries_only_when_the_port_is_taken() -> None:
    tried: list[int] = []

    async def start(port: int) -> str:
        tried.append(port)
        if len(tried) < 3:
            raise PortTaken(str(port))
        return "up"

    port, result = asyncio.run(start_on_free_port(start, first=1))
    assert (port, result) == (tried[-1], "up") and tried[0] == 1 and len(set(tried)) == 3

    async def broken(port: int) -> None:
        tried.append(port)
        raise RuntimeError("not a port problem")

    tried.clear()
    with pytest.raises(RuntimeError, match="not a port problem"):
        asyncio.run(start_on_free_port(broken))
    assert len(tried) == 1


def _data_directory(dsn: str) -> Path:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    return Path(str(row[0])).resolve()


def test_postgres_moves_off_a_port_another_postgres_holds(tmp_path: Path) -> None:
    """The second PostgreSQL is given the first one's port: it must start elsewhere, not mistake the
    first server (which answers on that port) for itself, and publish its real port."""
    cfg = SandboxConfig(products=10)
    first, second = new_context(cfg, tmp_path / "a"), new_context(cfg, tmp_path / "b")
    pg1, pg2 = Postgres(), Postgres()
    try:
        asyncio.run(pg1.start(first))
        second.ports["postgres"] = first.ports["postgres"]
        asyncio.run(pg2.start(second))
        assert second.ports["postgres"] != first.ports["postgres"]
        assert second.endpoints["postgres_admin"].endswith(f":{second.ports['postgres']}/postgres")
        assert _data_directory(second.endpoints["postgres_admin"]) == Path(second.endpoints["postgres_data"]).resolve()
        assert _data_directory(first.endpoints["postgres_admin"]) == Path(first.endpoints["postgres_data"]).resolve()
        assert first.endpoints["postgres_data"] != second.endpoints["postgres_data"]
        assert pg2.health()["ok"]
    finally:
        asyncio.run(pg2.stop())
        asyncio.run(pg1.stop())
        for ctx in (first, second):
            ctx.listeners.close()
            ctx.truth.close()


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="no prometheus binary on PATH")
def test_prometheus_moves_off_a_port_where_an_impostor_answers(tmp_path: Path) -> None:
    """Something already serves ``/-/ready`` on the port Prometheus was given: ours fails to bind,
    is started on a new port, and the impostor is never taken for it."""

    async def ready(_: web.Request) -> web.Response:
        return web.Response(text="ready")

    async def flags(_: web.Request) -> web.Response:
        return web.json_response({"status": "success", "data": {"config.file": "/elsewhere.yml"}})

    async def scenario() -> tuple[int, int, dict[str, Any]]:
        ctx = new_context(SandboxConfig(), tmp_path)
        app = web.Application()
        app.router.add_get("/-/ready", ready)
        app.router.add_get("/api/v1/status/flags", flags)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = bind()
        taken = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        ctx.ports["prometheus"] = taken
        prom = Prometheus()
        try:
            await prom.start(ctx)
            return taken, ctx.ports["prometheus"], {"url": prom.url, **prom.health()}
        finally:
            await prom.stop()
            await runner.cleanup()
            ctx.listeners.close()
            ctx.truth.close()

    taken, port, health = asyncio.run(scenario())
    assert port != taken
    assert health["url"] == f"http://127.0.0.1:{port}" and health["ok"]


# -- whole sandboxes side by side ------------------------------------------------------------------


@pytest.fixture
def three_sandboxes(tmp_path: Path) -> Iterator[list[Path]]:
    """Three sandboxes, their ``sandbox up`` commands started at the same moment."""
    cfg = tmp_path / "sandbox.yaml"
    cfg.write_text(SMALL)
    dirs = [tmp_path / f"sbx{i}" for i in range(3)]
    ups = [subprocess.Popen([sys.executable, "-m", "harness", "sandbox", "up", "--dir", str(d), "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for d in dirs]
    try:
        outs = [p.communicate(timeout=240)[0] for p in ups]
        assert [p.returncode for p in ups] == [0, 0, 0], outs
        yield dirs
    finally:
        for p in ups:
            if p.poll() is None:
                p.kill()
                p.wait()
        for d in dirs:
            subprocess.run([sys.executable, "-m", "harness", "sandbox", "down", "--dir", str(d)],
                           capture_output=True, timeout=60, check=False)


def test_three_sandboxes_started_together_all_come_up_on_their_own_ports(three_sandboxes: list[Path]) -> None:
    ports: list[int] = []
    for d in three_sandboxes:
        eps = json.loads((d / "endpoints.json").read_text())
        urls = [eps[k] for k in ("kubernetes", "compute", "ingress", "toxiproxy", "admin", "partner",
                                 "postgres", "postgres_via_proxy")]
        ports += [_port_of(u) for u in urls]
        status = httpx.get(f"{eps['admin']}/status", timeout=10).json()
        assert {n: c["ok"] for n, c in status["components"].items() if not c["ok"]} == {}
        assert status["pid"] == eps["pid"]
        assert httpx.get(f"{eps['ingress']}/", timeout=10).status_code == 200
        # the PostgreSQL each endpoints.json names, directly and through its proxy, is that sandbox's own
        pgdata = Path(eps["postgres_data"]).resolve()
        assert _data_directory(eps["postgres_admin"]) == pgdata
        with psycopg.connect(eps["postgres_via_proxy"], connect_timeout=5) as conn:
            assert conn.execute("SELECT inet_server_port()").fetchone() == (_port_of(eps["postgres"]),)
    assert len(set(ports)) == len(ports)
