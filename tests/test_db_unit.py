"""Database and dependency faults without a database: params validation, safety refusals, the
Toxiproxy client and proxy faults against the sandbox's Toxiproxy component alone, MongoDB's
refusal and connection-refused paths, and the postgres / toxiproxy probes' failure answers."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from harness.faults.params import FAULT_PARAMS  # isort: skip - params before params_databases (a cycle)
from harness.clients import postgres as pg
from harness.clients.mongo import MongoAdmin, redact_uri, uri_hosts
from harness.clients.toxiproxy import ToxiproxyClient
from harness.errors import PermanentClientError, PermanentFaultError, TransientClientError
from harness.faults import params_databases as dbp
from harness.faults.base import FaultEnv, load_all
from harness.faults.databases import MongoStepdown, PgConnectionExhaustion
from harness.sandbox.config import SandboxConfig
from harness.sandbox.context import new_context
from harness.sandbox.toxiproxy import Toxiproxy
from probes.base import ProbeEnv
from probes.params import PostgresProbeParams, ToxiproxyProbeParams
from probes.postgres import PostgresProbe
from probes.toxiproxy import ToxiproxyProbe


def _params(kind: str, **values: Any) -> Any:
    model = FAULT_PARAMS.get(kind)
    assert model is not None, kind
    return model.model_validate(values)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- params ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "values", "message"), [
    ("pg-connection-exhaustion", {"reserve": 2, "duration": "5s"}, "greater than or equal to 3"),
    ("pg-connection-exhaustion", {"hold": 0, "duration": "5s"}, "greater than or equal to 1"),
    ("pg-connection-exhaustion", {"reserve": 5}, "duration"),
    ("pg-terminate-backends", {"duration": "5s"}, "at least one of"),
    ("pg-terminate-backends", {"user": "shop", "every": "1s"}, "needs a `duration`"),
    ("pg-lock", {"table": "orders; DROP TABLE x", "duration": "5s"}, "table name"),
    ("pg-lock", {"table": "orders", "mode": "FULL", "duration": "5s"}, "ACCESS EXCLUSIVE"),
    ("pg-slow-queries", {"connections": 0, "duration": "5s"}, "greater than or equal to 1"),
    ("db-latency", {"latency": "0ms", "duration": "5s"}, "greater than 0"),
    ("db-latency", {"latency": "100ms", "duration": "5s", "stream": "sideways"}, "upstream"),
    ("db-outage", {"mode": "disable", "timeout": "1s", "duration": "5s"}, "reset_peer or timeout"),
    ("partner-outage", {"mode": "explode", "duration": "5s"}, "disable"),
    ("mongo-latency", {"latency": "100ms", "duration": "5s"}, "proxy"),
    ("mongo-stepdown", {"uri": "http://db:27017"}, "mongodb://"),
    ("mongo-stepdown", {"uri": "mongodb://db", "step_down": "10s", "catch_up": "10s"}, "shorter than"),
    ("db-bandwidth", {"rate": 10, "duration": "5s", "surprise": 1}, "Extra inputs"),
])
def test_params_are_validated(kind: str, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        _params(kind, **values)
    assert message in str(err.value)


def test_params_defaults_and_normalisation() -> None:
    assert _params("db-latency", latency="200ms", duration="5s").proxy == "postgres"
    assert _params("db-outage", duration="5s").mode == "disable"
    assert _params("partner-outage", duration="5s").proxy == "payment-partner"
    assert _params("partner-latency", latency="1s", duration="5s").latency == 1.0
    lock = _params("pg-lock", table="public.orders", mode="access_exclusive", duration="5s")
    assert lock.mode == "ACCESS EXCLUSIVE" and lock.lock_timeout == 5.0
    assert _params("pg-connection-exhaustion", duration="5s").reserve == dbp.MIN_RESERVE == 3
    assert _params("pg-terminate-backends", application_name="shop-%").every is None
    assert set(load_all().kinds()) >= set(FAULT_PARAMS.kinds()) - {"zone-drain", "zone-outage"}


# -- DSNs and the allowed-hosts rule --------------------------------------------------------------
def test_dsn_helpers() -> None:
    dsn = "postgresql://harness:s3cret@10.0.0.5:5432/shop"
    assert "s3cret" not in pg.redact_dsn(dsn) and "10.0.0.5" in pg.redact_dsn(dsn)
    assert pg.dsn_hosts("host=a,b port=1,2 dbname=x") == ["a", "b"]
    assert pg.dsn_parts(pg.with_dbname(dsn, "other"))["dbname"] == "other"
    assert pg.same_server(dsn, "postgresql://harness@10.0.0.5:5432/shop")
    assert not pg.same_server(dsn, "postgresql://harness@10.0.0.5:5432/other")
    assert pg.like_escape("harness-a_b%") == "harness-a\\_b\\%"


@pytest.mark.parametrize(("dsn", "allowed", "reason"), [
    ("postgresql://u@10.0.0.9/shop", ["10.0.0.5"], "10.0.0.9 is not in the target's allowed hosts"),
    ("host=10.0.0.5,10.0.0.9 dbname=shop", ["10.0.0.5"], "10.0.0.9 is not in"),
    ("postgresql://u@10.0.0.5/shop", [], "no allowed PostgreSQL hosts"),
    ("postgresql://u@10.0.0.5", ["10.0.0.5"], "name its database"),
    ("not a dsn at all", ["10.0.0.5"], "invalid PostgreSQL DSN"),
    ("postgresql://u@10.0.0.5/shop", ["10.0.0.5"], None),
])
def test_host_refusal(dsn: str, allowed: list[str], reason: str | None) -> None:
    got = pg.host_refusal(dsn, allowed)
    assert (got is None) if reason is None else (got is not None and reason in got), got


def _fault(kind: str, env: FaultEnv, **values: Any) -> Any:
    return load_all().get(kind)(f"{kind}-0", _params(kind, **values), env)


@pytest.mark.parametrize(("kind", "values"), [
    ("pg-connection-exhaustion", {"duration": "5s"}),
    ("pg-terminate-backends", {"application_name": "shop-%"}),
    ("pg-lock", {"table": "orders", "duration": "5s"}),
    ("pg-slow-queries", {"duration": "5s"}),
])
def test_pg_faults_refuse_a_host_not_allowed_without_connecting(kind: str, values: dict[str, Any]) -> None:
    # 192.0.2.1 (TEST-NET) is unroutable: a refusal that tried to connect would hang, not answer
    env = FaultEnv(postgres={"dsn": "postgresql://postgres@127.0.0.1:1/postgres", "allowed_hosts": ["127.0.0.1"]})
    plan = asyncio.run(_fault(kind, env, dsn="postgresql://u:pw@192.0.2.1:5432/shop", **values).plan())
    assert plan.refuse and "192.0.2.1 is not in the target's allowed hosts" in plan.refuse
    assert "pw" not in " ".join(plan.targets)
    no_dsn = asyncio.run(_fault(kind, FaultEnv(), **values).plan())
    assert no_dsn.refuse and "no DSN" in no_dsn.refuse


def test_exhaustion_reserve_is_enforced_at_plan_time_too() -> None:
    fault = PgConnectionExhaustion("x", dbp.PgConnectionExhaustionParams.model_construct(
        hold=None, reserve=1, evict=None, duration=5.0, dsn=None, dbname=None), FaultEnv())
    settings = {"max_connections": 100, "backends": 10, "superuser_reserved_connections": 3, "superuser": 1}
    assert "below the minimum of 3" in str(fault._count(settings)[1])
    ok = PgConnectionExhaustion("x", _params("pg-connection-exhaustion", reserve=5, duration="5s"), FaultEnv())
    assert ok._count(settings) == (85, None)
    held = PgConnectionExhaustion("x", _params("pg-connection-exhaustion", hold=88, duration="5s"), FaultEnv())
    assert "fewer than 3 of 100" in str(held._count(settings)[1])
    full = {**settings, "backends": 97}
    assert "nothing to hold" in str(ok._count(full)[1])


# -- MongoDB: what can be tested without a server --------------------------------------------------
def test_mongo_unreachable_is_transient_and_stepdown_plan_refuses() -> None:
    uri = f"mongodb://admin:pw@127.0.0.1:{_closed_port()}/?replicaSet=rs0"
    assert redact_uri(uri).startswith("mongodb://admin@127.0.0.1:")
    assert uri_hosts(uri) == [uri.split("@")[1].split("/")[0]]
    started = time.monotonic()
    with pytest.raises(TransientClientError):
        MongoAdmin(uri, timeout=0.5).primary()
    assert time.monotonic() - started < 20
    params = _params("mongo-stepdown", uri=uri, step_down="30s", catch_up="5s", timeout="500ms")
    fault = MongoStepdown("step", params, FaultEnv())
    plan = asyncio.run(fault.plan())
    assert plan.refuse and "cannot find the primary" in plan.refuse and "pw" not in plan.refuse


def test_mongo_undo_is_a_noop_after_the_stepdown_window_and_loud_before() -> None:
    member = f"127.0.0.1:{_closed_port()}"
    uri = f"mongodb://{member}/?serverSelectionTimeoutMS=500&connectTimeoutMS=500"
    past = [{"uri": uri, "member": member, "unfreeze": True, "until": time.time() - 1, "timeout": 0.5}]
    asyncio.run(MongoStepdown.undo(past, FaultEnv()))  # nothing to do: no connection attempted
    future = [{**past[0], "until": time.time() + 60}]
    with pytest.raises(PermanentFaultError, match="becomes electable by itself"):
        asyncio.run(MongoStepdown.undo(future, FaultEnv()))


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


def test_postgres_probe_failure_paths() -> None:
    dead = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    obs = asyncio.run(PostgresProbe("db", PostgresProbeParams(dsn=dead), ProbeEnv(), 1.0).observe())
    assert not obs.ok and "connect" in obs.detail
    no_dsn = asyncio.run(PostgresProbe("db", PostgresProbeParams(), ProbeEnv(), 1.0).observe())
    assert not no_dsn.ok and "no DSN" in no_dsn.detail
