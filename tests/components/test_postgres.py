"""The sandbox PostgreSQL component: real server, schema, seed, clean stop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.sandbox.config import SandboxConfig
from harness.sandbox.core.context import Context, new_context
from harness.sandbox.postgres import Postgres


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # a zombie waiting for init to reap it is not a running server
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Context, Postgres]]:
    ctx = new_context(SandboxConfig(products=250), tmp_path_factory.mktemp("pg"))
    pg = Postgres()
    asyncio.run(pg.start(ctx))
    try:
        yield ctx, pg
    finally:
        asyncio.run(pg.stop())
        ctx.truth.close()


def test_seeded_and_schema(started: tuple[Context, Postgres]) -> None:
    ctx, pg = started
    assert pg.health()["ok"] is True
    with psycopg.connect(ctx.endpoints["postgres"]) as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (250,)
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
        assert {"products", "carts", "cart_items", "orders", "order_items", "payments"} <= tables
        conn.execute("INSERT INTO carts (id) VALUES ('c1')")
    with psycopg.connect(ctx.endpoints["postgres_admin"]) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (True,)
    assert ctx.endpoints["postgres"].endswith(f":{ctx.ports['postgres']}/shop")


def test_restart_keeps_data_and_stop_leaves_nothing(started: tuple[Context, Postgres]) -> None:
    ctx, pg = started
    pid = pg.pid
    assert pid is not None and _alive(pid)
    asyncio.run(pg.stop())
    assert not _alive(pid)
    assert pg.health()["ok"] is False
    asyncio.run(pg.start(ctx))  # second start reuses pgdata (no initdb) and is idempotent
    with psycopg.connect(ctx.endpoints["postgres"]) as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (250,)
    assert pg.health()["ok"] is True
