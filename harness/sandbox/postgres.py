"""The sandbox's PostgreSQL: a real server from the ``pgserver`` wheel, on TCP loopback.

Data lives under ``<sandbox dir>/pgdata``. When we run as root, initdb and the server run as the
``pgserver`` system user (pgserver's own trick). Settings favour speed over durability (fsync off).
The database ``shop`` (owner ``shop``, password ``shop``) is created with the shop's schema and
``config.products`` seeded products.

PostgreSQL binds its port itself, so it is started on a free port and, when its start finds the port
taken (another sandbox got there first), started again on a new one (`ports.start_on_free_port`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from .context import Context
from .ports import PortTaken, start_on_free_port

SYSTEM_USER = "pgserver"
#: What the postmaster logs when it cannot listen on its port.
BIND_FAILED = ("could not create any TCP/IP sockets", "Address already in use")
SERVER_OPTIONS = (
    "-c max_connections=100 -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c shared_buffers=32MB -c unix_socket_directories='' -c listen_addresses=127.0.0.1"
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id serial PRIMARY KEY, sku text UNIQUE NOT NULL, name text NOT NULL, description text NOT NULL,
    price_cents integer NOT NULL, stock integer NOT NULL, category text NOT NULL);
CREATE TABLE IF NOT EXISTS carts (id text PRIMARY KEY, created timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS cart_items (
    cart_id text NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
    product_id integer NOT NULL REFERENCES products(id), qty integer NOT NULL,
    PRIMARY KEY (cart_id, product_id));
CREATE TABLE IF NOT EXISTS orders (
    id serial PRIMARY KEY, cart_id text NOT NULL, total_cents integer NOT NULL, status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS order_items (
    order_id integer NOT NULL REFERENCES orders(id), product_id integer NOT NULL,
    qty integer NOT NULL, price_cents integer NOT NULL);
CREATE TABLE IF NOT EXISTS payments (
    id serial PRIMARY KEY, order_id integer NOT NULL REFERENCES orders(id), partner_id text,
    amount_cents integer NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
"""

SEED = """
INSERT INTO products (sku, name, description, price_cents, stock, category)
SELECT 'SKU-' || lpad(i::text, 6, '0'),
       (ARRAY['Red','Blue','Green','Black','White'])[1 + i % 5] || ' '
       || (ARRAY['Shirt','Shoe','Lamp','Mug','Chair','Watch','Bag'])[1 + i % 7] || ' ' || i,
       'A fine product number ' || i,
       199 + (i * 37) % 20000, 100 + i % 50,
       (ARRAY['fashion','home','kitchen','garden'])[1 + i % 4]
FROM generate_series(1, %s) AS i
ON CONFLICT (sku) DO NOTHING
"""


def _system_user() -> str | None:
    """The OS user postgres runs as: ``pgserver`` when we are root (postgres refuses root)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/bash", SYSTEM_USER], check=True, capture_output=True)
    return SYSTEM_USER


def _bin(name: str) -> str:
    """Path of a postgres binary shipped in the pgserver wheel (found without importing pgserver,
    whose import emits warnings)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver wheel is not installed")
    return str(Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin" / name)


def _run(args: list[str], user: str | None, timeout: float = 30) -> None:
    """Run a postgres tool, raising with its output on failure."""
    res = subprocess.run(args, user=user, capture_output=True, text=True, timeout=timeout, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({res.returncode}): {res.stderr or res.stdout}")


def _give_access(pgdata: Path, user: str | None) -> None:
    """Let the postgres system user reach and own ``pgdata``."""
    if user is None:
        return
    import pwd

    for parent in pgdata.parents:
        parent.chmod(parent.stat().st_mode | 0o055)
    entry = pwd.getpwnam(user)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def init_pgdata(pgdata: Path, user: str | None) -> None:
    """initdb ``pgdata`` unless it already holds a cluster."""
    if (pgdata / "PG_VERSION").exists():
        return
    if pgdata.exists():
        shutil.rmtree(pgdata)
    pgdata.mkdir(parents=True)
    _give_access(pgdata, user)
    _run([_bin("initdb"), "-D", str(pgdata), "--auth=trust", "--encoding=utf8", "--no-sync",
          "-U", "postgres"], user)


def start_server(pgdata: Path, port: int, user: str | None) -> None:
    """Start postgres with pg_ctl and wait until it accepts connections (stopping a leftover server
    of an earlier, crashed sandbox on the same data first); `PortTaken` when it cannot listen on
    ``port``, once it has exited."""
    if _server_running(pgdata):
        stop_server(pgdata, user)
    _give_access(pgdata, user)
    log = pgdata / "server.log"
    log_from = log.stat().st_size if log.exists() else 0
    # -W: do not let pg_ctl judge readiness (it has been seen to miss it on a loaded machine);
    # we wait for a real connection instead.
    _run([_bin("pg_ctl"), "-D", str(pgdata), "-W", "-l", str(log),
          "-o", f"-p {port} {SERVER_OPTIONS}", "start"], user, timeout=40)
    _wait_accepting(port, pgdata, log_from, timeout=60)


def _log_since(pgdata: Path, offset: int) -> str:
    try:
        with open(pgdata / "server.log", "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _ours(conn: psycopg.Connection[Any], pgdata: Path) -> bool:
    """Whether the server behind ``conn`` runs on ``pgdata`` (not another sandbox's on the same port)."""
    row = conn.execute("SHOW data_directory").fetchone()
    return row is not None and Path(str(row[0])).resolve() == pgdata.resolve()


def _wait_accepting(port: int, pgdata: Path, log_from: int, timeout: float) -> None:
    """Poll until our server answers a query on its TCP port; `PortTaken` if it logs that it
    could not listen there (then it has exited, and may be started again)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if any(msg in _log_since(pgdata, log_from) for msg in BIND_FAILED):
            _wait_exited(pgdata, deadline)
            raise PortTaken(f"postgres could not listen on 127.0.0.1:{port}")
        try:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2) as conn:
                if _ours(conn, pgdata):
                    return
            last = PortTaken(f"another postgres answers on port {port}")
        except psycopg.Error as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"postgres on port {port} not accepting connections after {timeout:.0f}s: {last}\n"
                       f"{_log_since(pgdata, log_from)[-2000:]}")


def _wait_exited(pgdata: Path, deadline: float) -> None:
    """Wait for a postmaster that failed to start to remove its lock file and exit."""
    while _server_running(pgdata) and time.monotonic() < deadline:
        time.sleep(0.05)


def stop_server(pgdata: Path, user: str | None) -> None:
    """``pg_ctl stop -m fast``; kill the postmaster if that fails."""
    if not _server_running(pgdata):
        return
    try:
        _run([_bin("pg_ctl"), "-D", str(pgdata), "-w", "-t", "15", "-m", "fast", "stop"], user, timeout=20)
    except (RuntimeError, subprocess.TimeoutExpired):
        pid = _postmaster_pid(pgdata)
        if pid:
            os.kill(pid, 9)


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def _server_running(pgdata: Path) -> bool:
    pid = _postmaster_pid(pgdata)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def setup_database(admin_dsn: str, products: int) -> None:
    """Create role and database ``shop``, the schema, and seed the products (idempotent)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'shop'").fetchone() is None:
            conn.execute("CREATE ROLE shop LOGIN PASSWORD 'shop'")
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'shop'").fetchone() is None:
            conn.execute("CREATE DATABASE shop OWNER shop")
    shop_admin = admin_dsn.rsplit("/", 1)[0] + "/shop"
    with psycopg.connect(shop_admin, autocommit=True) as conn:
        conn.execute("SET ROLE shop")
        conn.execute(SCHEMA)
        conn.execute(SEED.replace("%s", str(int(products))))


class Postgres:
    """Sandbox component: a real PostgreSQL on ``127.0.0.1:ctx.ports["postgres"]``."""

    name = "postgres"

    def __init__(self) -> None:
        self._pgdata: Path | None = None
        self._user: str | None = None
        self._admin_dsn = ""
        self._ok = False

    async def start(self, ctx: Context) -> None:
        """Init (first time), start (on a new port while the one tried is taken), create the shop
        database and publish the port and DSNs."""
        pgdata = self._pgdata = ctx.dir / "pgdata"
        self._user = await asyncio.to_thread(_system_user)
        await asyncio.to_thread(init_pgdata, pgdata, self._user)

        async def start_on(port: int) -> None:
            await asyncio.to_thread(start_server, pgdata, port, self._user)

        port, _ = await start_on_free_port(start_on, first=ctx.ports["postgres"])
        ctx.ports["postgres"] = port
        self._admin_dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        await asyncio.to_thread(setup_database, self._admin_dsn, ctx.config.products)
        ctx.endpoints["postgres"] = f"postgresql://shop:shop@127.0.0.1:{port}/shop"
        ctx.endpoints["postgres_admin"] = self._admin_dsn
        self._ok = True

    async def stop(self) -> None:
        """Stop the server (fast mode); no postgres process is left behind."""
        self._ok = False
        if self._pgdata is not None:
            await asyncio.to_thread(stop_server, self._pgdata, self._user)

    @property
    def pid(self) -> int | None:
        """PID of the postmaster, when running."""
        return _postmaster_pid(self._pgdata) if self._pgdata and _server_running(self._pgdata) else None

    def health(self) -> dict[str, Any]:
        """Ping with ``SELECT 1`` (short connect timeout)."""
        if not self._ok:
            return {"ok": False, "reason": "not started"}
        try:
            with psycopg.connect(self._admin_dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return {"ok": False, "reason": str(exc)}
        return {"ok": True, "dsn": self._admin_dsn, "pid": self.pid}
