"""The Toxiproxy client and the proxy faults against the sandbox's Toxiproxy component alone."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.clients.toxiproxy import ToxiproxyClient
from harness.errors import PermanentClientError, TransientClientError
from harness.faults.base import FaultEnv, fault_class
from harness.sandbox.config import SandboxConfig
from harness.sandbox.core.context import new_context
from harness.sandbox.network.toxiproxy import Toxiproxy
from probes.base import ProbeEnv
from probes.toxiproxy import ToxiproxyProbe, ToxiproxyProbeParams


def _params(kind: str, **values: Any) -> Any:
    model = fault_class(kind).Params
    return model.model_validate(values)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])




def _fault(kind: str, env: FaultEnv, **values: Any) -> Any:
    return fault_class(kind)(f"{kind}-0", _params(kind, **values), env)


# -- Toxiproxy: the client and the proxy faults against the sandbox's component ---------------------
class ToxiproxyServer:
    """The sandbox's Toxiproxy component alone, on a loop in a background thread."""

    def __init__(self, tmp: Path) -> None:
        self.ctx = new_context(SandboxConfig(), tmp)
        self.component = Toxiproxy()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.component.start(self.ctx), self.loop).result(timeout=30)
        self.url = self.ctx.url("toxiproxy")

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.component.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        self.ctx.truth.close()


@pytest.fixture
def toxi(tmp_path: Path) -> Iterator[tuple[ToxiproxyServer, ToxiproxyClient]]:
    server = ToxiproxyServer(tmp_path)
    client = ToxiproxyClient(server.url)
    yield server, client
    client.close()
    server.close()


def test_client_maps_errors(toxi: tuple[ToxiproxyServer, ToxiproxyClient]) -> None:
    _, client = toxi
    assert client.version()
    assert client.proxy("nope") is None
    client.add_toxic("postgres", "t1", "latency", {"latency": 10})
    with pytest.raises(PermanentClientError) as err:
        client.add_toxic("postgres", "t1", "latency", {"latency": 10})
    assert err.value.status == 409
    assert client.remove_toxic("postgres", "t1") is True
    assert client.remove_toxic("postgres", "t1") is False  # idempotent
    assert client.remove_toxic("nope", "t1") is False
    with ToxiproxyClient(f"http://127.0.0.1:{_closed_port()}", timeout=2) as dead, \
            pytest.raises(TransientClientError):
        dead.proxies()


def _run_fault(fault: Any) -> None:
    async def go() -> None:
        plan = await fault.plan()
        assert plan.refuse is None, plan.refuse
        await fault.inject()
    asyncio.run(go())


def test_proxy_faults_revert_exactly_what_they_did(toxi: tuple[ToxiproxyServer, ToxiproxyClient]) -> None:
    _, client = toxi
    env = FaultEnv(toxiproxy=client)
    client.add_toxic("postgres", "someone-elses", "latency", {"latency": 5})
    lat = _fault("db-latency", env, latency="200ms", jitter="20ms", stream="both", duration="5s")
    _run_fault(lat)
    toxics = {t["name"]: t for t in client.toxics("postgres")}
    ours = [n for n in toxics if n.startswith("harness-db-latency-0-")]
    assert len(ours) == 2 and {toxics[n]["stream"] for n in ours} == {"upstream", "downstream"}
    assert all(toxics[n]["attributes"] == {"latency": 200, "jitter": 20} for n in ours)
    out = _fault("partner-outage", env, duration="5s")
    _run_fault(out)
    assert client.proxy("payment-partner")["enabled"] is False  # type: ignore[index]
    asyncio.run(lat.revert())
    asyncio.run(out.revert())
    asyncio.run(out.revert())  # idempotent
    assert [t["name"] for t in client.toxics("postgres")] == ["someone-elses"]
    assert client.proxy("payment-partner")["enabled"] is True  # type: ignore[index]
    # undo from the journaled records alone (what `harness rollback` does)
    reset = _fault("db-outage", env, mode="reset_peer", timeout="100ms", duration="5s")
    _run_fault(reset)
    assert [t["type"] for t in client.toxics("postgres") if t["name"].startswith("harness-")] == ["reset_peer"]
    asyncio.run(type(reset).undo(list(reset._undo), FaultEnv(toxiproxy=client)))
    assert [t["name"] for t in client.toxics("postgres")] == ["someone-elses"]


def test_outage_does_not_enable_a_proxy_it_did_not_disable(toxi: tuple[ToxiproxyServer, ToxiproxyClient]) -> None:
    _, client = toxi
    env = FaultEnv(toxiproxy=client)
    client.set_enabled("postgres", False)
    fault = _fault("db-outage", env, duration="5s")
    plan = asyncio.run(fault.plan())
    assert plan.refuse is None and any("already disabled" in n for n in plan.notes)
    asyncio.run(fault.inject())
    asyncio.run(fault.revert())
    assert client.proxy("postgres")["enabled"] is False  # type: ignore[index]
    missing = asyncio.run(_fault("db-latency", env, proxy="mongodb", latency="1s", duration="5s").plan())
    assert missing.refuse and "no proxy named 'mongodb'" in missing.refuse
    none = asyncio.run(_fault("db-latency", FaultEnv(), latency="1s", duration="5s").plan())
    assert none.refuse and "no Toxiproxy URL" in none.refuse


def test_toxiproxy_probe_shows_what_is_active(toxi: tuple[ToxiproxyServer, ToxiproxyClient]) -> None:
    server, client = toxi
    probe = ToxiproxyProbe("tp", ToxiproxyProbeParams(proxies=["postgres"]), ProbeEnv(toxiproxy=client), 2.0)
    assert asyncio.run(probe.observe()).ok
    client.add_toxic("postgres", "slow", "latency", {"latency": 100})
    obs = asyncio.run(probe.observe())
    assert obs.ok and "postgres: slow(latency downstream latency=100" in obs.detail
    client.set_enabled("postgres", False)
    obs = asyncio.run(probe.observe())
    assert not obs.ok and "postgres disabled" in obs.detail
    own = ToxiproxyProbe("tp2", ToxiproxyProbeParams(url=server.url, proxies=["nope"]), ProbeEnv(), 2.0)
    assert "nope missing" in asyncio.run(own.observe()).detail
    asyncio.run(own.close())
    assert not asyncio.run(ToxiproxyProbe("x", ToxiproxyProbeParams(), ProbeEnv(), 1.0).observe()).ok


