"""The Toxiproxy-compatible fault proxy: control API over httpx, data plane through a local echo server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.sandbox.config import SandboxConfig
from harness.sandbox.core.context import Context, new_context
from harness.sandbox.core.truth import read_truth
from harness.sandbox.network.toxiproxy import Toxiproxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class Sandbox:
    """A Toxiproxy component plus an echo server on one loop in a background thread."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.proxy = Toxiproxy()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.echo = self.call(asyncio.start_server(_echo, "127.0.0.1", 0))
        self.echo_port = self.echo.sockets[0].getsockname()[1]
        self.call(self.proxy.start(ctx))
        self.api = httpx.Client(base_url=ctx.url("toxiproxy"), timeout=10)

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.api.close()
        self.call(self.proxy.stop())
        self.echo.close()
        self.call(self.echo.wait_closed())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        self.ctx.truth.close()

    def make_echo_proxy(self, name: str = "echo") -> int:
        resp = self.api.post("/proxies", json={"name": name, "listen": "127.0.0.1:0",
                                               "upstream": f"127.0.0.1:{self.echo_port}"})
        assert resp.status_code == 201, resp.text
        return int(resp.json()["listen"].rsplit(":", 1)[1])

    def toxic(self, body: dict[str, Any], proxy: str = "echo") -> dict[str, Any]:
        resp = self.api.post(f"/proxies/{proxy}/toxics", json=body)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(new_context(SandboxConfig(), tmp_path))
    yield sandbox
    sandbox.close()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def _round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    started = time.monotonic()
    sock.sendall(payload)
    assert _recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - started


def _wait_closed(sock: socket.socket, deadline: float = 10.0) -> type[BaseException] | None:
    """Read until EOF or error; returns the error type (None for a clean EOF)."""
    sock.settimeout(deadline)
    try:
        while sock.recv(4096):
            pass
    except OSError as e:
        return type(e)
    return None


def test_bytes_flow_and_default_proxies(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    with _connect(port) as sock:
        _round_trip(sock, b"hello" * 1000)
    proxies = sb.api.get("/proxies").json()
    assert set(proxies) == {"postgres", "payment-partner", "echo"}
    assert proxies["postgres"]["listen"] == f"127.0.0.1:{sb.ctx.ports['pg_proxy']}"
    assert proxies["payment-partner"]["upstream"] == f"127.0.0.1:{sb.ctx.ports['partner']}"
    assert sb.api.get("/version").status_code == 200
    # nothing listens upstream: closed at once. The port is only reserved on paper in this test, so hold it
    # bound (not listening: a connect is refused) lest another process on the machine starts listening there
    upstream = int(proxies["postgres"]["upstream"].rsplit(":", 1)[1])
    with socket.socket() as hold:
        try:
            hold.bind(("127.0.0.1", upstream))
        except OSError:
            pytest.skip(f"port {upstream} was taken by another process meanwhile: the premise does not hold")
        with _connect(sb.ctx.ports["pg_proxy"]) as sock:
            assert _wait_closed(sock) in (None, ConnectionResetError)
    deadline = time.monotonic() + 10  # the proxy notices the client's close asynchronously
    while sb.proxy.health()["proxies"]["echo"]["connections"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sb.proxy.health()["proxies"]["echo"] == {"enabled": True, "toxics": 0, "connections": 0}


def test_latency_delays_round_trip_and_pipelines(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    toxic = sb.toxic({"type": "latency", "attributes": {"latency": 300}})
    assert toxic == {"name": "latency_downstream", "type": "latency", "stream": "downstream",
                     "toxicity": 1.0, "attributes": {"latency": 300, "jitter": 0}}
    with _connect(port) as sock:
        assert _round_trip(sock) >= 0.3
        started = time.monotonic()
        for _ in range(10):  # ten chunks in flight at once: ~0.3 s in total, not 3 s
            sock.sendall(b"x" * 100)
            time.sleep(0.01)
        assert _recv_exactly(sock, 1000) == b"x" * 1000
        assert 0.3 <= time.monotonic() - started < 2.5


def test_toxics_apply_to_live_connections(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    with _connect(port) as sock:
        _round_trip(sock)
        sb.toxic({"type": "latency", "stream": "upstream", "attributes": {"latency": 250}})
        assert _round_trip(sock) >= 0.25
        assert sb.api.delete("/proxies/echo/toxics/latency_upstream").status_code == 204
        sb.toxic({"type": "reset_peer", "attributes": {"timeout": 50}})
        assert _wait_closed(sock) is ConnectionResetError


def test_bandwidth_limits_throughput(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    sb.toxic({"type": "bandwidth", "attributes": {"rate": 100}})  # 100 KB/s
    payload = b"b" * 60_000
    with _connect(port) as sock:
        assert _round_trip(sock, payload) >= 0.5


def test_timeout_stalls_then_closes(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    sb.toxic({"type": "timeout", "attributes": {"timeout": 600}})
    with _connect(port) as sock:
        sock.sendall(b"anyone?")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        assert _wait_closed(sock) is None


def test_timeout_zero_holds_until_removed(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    sb.toxic({"name": "hang", "type": "timeout", "attributes": {"timeout": 0}})
    with _connect(port) as sock:
        sock.sendall(b"held")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        sb.api.delete("/proxies/echo/toxics/hang")
        sock.settimeout(10)
        assert _recv_exactly(sock, 4) == b"held"


def test_reset_peer_resets(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    sb.toxic({"type": "reset_peer", "attributes": {"timeout": 100}})
    with _connect(port) as sock:
        assert _wait_closed(sock) is ConnectionResetError


def test_limit_data_and_slicer(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    sb.toxic({"type": "slicer", "stream": "upstream",
              "attributes": {"average_size": 10, "size_variation": 5, "delay": 100}})
    with _connect(port) as sock:
        _round_trip(sock, b"s" * 500)
    sb.toxic({"type": "limit_data", "attributes": {"bytes": 50}})
    with _connect(port) as sock:
        sock.sendall(b"l" * 80)
        assert _recv_exactly(sock, 80) == b"l" * 50


def test_disable_refuses_and_enable_restores(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    live = _connect(port)
    _round_trip(live)
    resp = sb.api.post("/proxies/echo", json={"enabled": False})
    assert resp.status_code == 200 and resp.json()["enabled"] is False
    assert _wait_closed(live) in (None, ConnectionResetError)
    live.close()
    with pytest.raises(ConnectionRefusedError):
        _connect(port)
    sb.api.post("/proxies/echo", json={"enabled": True})
    with _connect(port) as sock:
        _round_trip(sock)
    events = [e["event"] for e in read_truth(sb.ctx.dir / "truth.jsonl")]
    assert "proxy.disabled" in events


def test_reset_clears_toxics_and_enables(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    sb.toxic({"type": "latency", "attributes": {"latency": 3000}})
    sb.toxic({"type": "latency", "toxicity": 0.5, "stream": "upstream", "attributes": {"latency": 10}},
             proxy="postgres")
    sb.api.post("/proxies/echo", json={"enabled": False})
    assert sb.api.post("/reset").status_code == 204
    proxies = sb.api.get("/proxies").json()
    assert all(p["enabled"] and p["toxics"] == [] for p in proxies.values())
    with _connect(port) as sock:
        assert _round_trip(sock) < 2.5
    events = [e for e in read_truth(sb.ctx.dir / "truth.jsonl") if e["event"].startswith("toxic.")]
    assert [e["event"] for e in events] == ["toxic.added", "toxic.added", "toxic.removed", "toxic.removed"]


def test_blocked_client_hook(sb: Sandbox) -> None:
    port = sb.make_echo_proxy()
    sb.proxy.blocked_client = lambda ip, port: ip == "127.0.0.1"
    with _connect(port) as sock:
        assert _wait_closed(sock) in (None, ConnectionResetError)
    sb.proxy.blocked_client = None
    with _connect(port) as sock:
        _round_trip(sock)


def test_api_errors(sb: Sandbox) -> None:
    sb.make_echo_proxy()
    cases = [
        (sb.api.get("/proxies/nope"), 404, "proxy not found"),
        (sb.api.post("/proxies", json={"name": "echo", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}),
         409, "proxy already exists"),
        (sb.api.post("/proxies/echo/toxics", json={"type": "nope"}), 400, "invalid toxic type"),
        (sb.api.get("/proxies/echo/toxics/nope"), 404, "toxic not found"),
        (sb.api.post("/proxies", content=b"{not json"), 400, "bad request body"),
    ]
    for resp, status, message in cases:
        assert resp.status_code == status
        assert resp.json() == {"error": message, "status": status}
    sb.toxic({"type": "latency", "attributes": {"latency": 5}})
    dup = sb.api.post("/proxies/echo/toxics", json={"type": "latency"})
    assert dup.status_code == 409 and dup.json()["error"] == "toxic already exists"
    updated = sb.api.post("/proxies/echo/toxics/latency_downstream", json={"attributes": {"jitter": 2}})
    assert updated.json()["attributes"] == {"latency": 5, "jitter": 2}
    assert sb.api.delete("/proxies/echo").status_code == 204
    assert sb.api.get("/proxies/echo").status_code == 404


def test_populate_replaces(sb: Sandbox) -> None:
    resp = sb.api.post("/populate", json=[
        {"name": "one", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{sb.echo_port}"},
    ])
    assert resp.status_code == 201
    port = int(resp.json()["proxies"][0]["listen"].rsplit(":", 1)[1])
    with _connect(port) as sock:
        _round_trip(sock)
