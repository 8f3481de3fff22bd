"""Database and dependency faults without a database: params validation, safety refusals, the
Toxiproxy client and proxy faults against the sandbox's Toxiproxy component alone, MongoDB's
refusal and connection-refused paths, and the postgres / toxiproxy probes' failure answers."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from pydantic import ValidationError

from harness.clients import postgres as pg
from harness.clients.mongo import MongoAdmin, redact_uri, uri_hosts
from harness.errors import PermanentFaultError, TransientClientError
from harness.faults import databases_params as dbp
from harness.faults.base import FaultEnv, fault_class
from harness.faults.databases import PgConnectionExhaustion
from harness.faults.mongo import MongoStepdown
from harness.faults.undo import read_undo
from probes.base import ProbeEnv
from probes.postgres import PostgresProbe, PostgresProbeParams


def _params(kind: str, **values: Any) -> Any:
    model = fault_class(kind).Params
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
    return fault_class(kind)(f"{kind}-0", _params(kind, **values), env)


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
    asyncio.run(MongoStepdown.undo(read_undo(past), FaultEnv()))  # nothing to do: no connection attempted
    future = [{**past[0], "until": time.time() + 60}]
    with pytest.raises(PermanentFaultError, match="becomes electable by itself"):
        asyncio.run(MongoStepdown.undo(read_undo(future), FaultEnv()))


def test_postgres_probe_failure_paths() -> None:
    dead = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    obs = asyncio.run(PostgresProbe("db", PostgresProbeParams(dsn=dead), ProbeEnv(), 1.0).observe())
    assert not obs.ok and "connect" in obs.detail
    no_dsn = asyncio.run(PostgresProbe("db", PostgresProbeParams(), ProbeEnv(), 1.0).observe())
    assert not no_dsn.ok and "no DSN" in no_dsn.detail
