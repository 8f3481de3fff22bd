"""The sandbox's PostgreSQL: a real server from the ``pgserver`` wheel, on TCP loopback.

Run as a normal user, the server runs as that user on ``<sandbox dir>/pgdata``. Run as root (postgres
refuses root), it runs as the ``pgserver`` system user, and the sandbox changes no permission of the
user's folders to let it in: it makes a private folder for that user (``/tmp/harness-pg-*``, mode
0700, owned by ``pgserver``) holding a copy of the server's binaries and the data directory, and removes
it on stop. Passwords are generated per sandbox and the server only accepts scram-sha-256 logins; the
DSNs (with their passwords) are published in ``endpoints.json`` (mode 0600) and nowhere else but the
pods' own settings file. Settings favour speed over durability (fsync off). The database ``shop``
(owner ``shop``) is created with the shop's schema and ``config.products`` seeded products.

PostgreSQL binds its port itself, so it is started on a free port and, when its start finds the port
taken (another sandbox got there first), started again on a new one (`ports.start_on_free_port`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from .core.context import Context
from .core.ports import PortTaken, start_on_free_port

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


def _pginstall() -> Path:
    """The server installation shipped in the pgserver wheel (found without importing pgserver, whose
    import emits warnings)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver wheel is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall"


@dataclass(frozen=True)
class Runtime:
    """Where the server's binaries and data live, and which OS user runs it (None: ourselves).

    ``private`` is the folder the sandbox made for that user (root only), removed on stop."""

    bindir: Path
    pgdata: Path
    user: str | None = None
    private: Path | None = None

    def bin(self, name: str) -> str:
        return str(self.bindir / name)


RUNTIME_NOTE = "pg-runtime"
"""File in the sandbox dir naming the private folder of a root-run server, so a later start can clean
up after a sandbox that died."""


def make_runtime(sandbox_dir: Path) -> Runtime:
    """Our own user: the wheel's binaries and ``<sandbox dir>/pgdata``. Root: a private copy for the
    postgres system user under a fresh ``/tmp/harness-pg-*`` (no folder of the user's is touched)."""
    user = _system_user()
    if user is None:
        return Runtime(_pginstall() / "bin", sandbox_dir / "pgdata")
    import pwd

    entry = pwd.getpwnam(user)
    private = Path(tempfile.mkdtemp(prefix="harness-pg-"))  # 0700, ours until handed over
    (sandbox_dir / RUNTIME_NOTE).write_text(str(private))
    # the wheel's layout is kept: its binaries find their libraries at $ORIGIN/../../../pgserver.libs
    install = private / "pkg" / "pgserver" / "pginstall"
    for part in ("bin", "lib", "share"):
        shutil.copytree(_pginstall() / part, install / part, symlinks=True)
    libs = _pginstall().parent.parent / "pgserver.libs"
    if libs.is_dir():
        shutil.copytree(libs, private / "pkg" / "pgserver.libs", symlinks=True)
    (private / "pgdata").mkdir(mode=0o700)
    for root, dirs, files in os.walk(private):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, entry.pw_uid, entry.pw_gid)
    return Runtime(install / "bin", private / "pgdata", user, private)


def remove_runtime(runtime: Runtime | None, sandbox_dir: Path | None = None) -> None:
    """Remove a root-run server's private folder (after its server stopped)."""
    if runtime is not None and runtime.private is not None:
        shutil.rmtree(runtime.private, ignore_errors=True)
    if sandbox_dir is not None:
        (sandbox_dir / RUNTIME_NOTE).unlink(missing_ok=True)


def clean_leftover(sandbox_dir: Path) -> None:
    """Stop and remove the private server of an earlier sandbox in this dir that died without stopping."""
    note = sandbox_dir / RUNTIME_NOTE
    if not note.exists():
        return
    private = Path(note.read_text().strip())
    if private.name.startswith("harness-pg-") and private.is_dir():
        leftover = Runtime(private / "pkg" / "pgserver" / "pginstall" / "bin", private / "pgdata",
                           _system_user(), private)
        stop_server(leftover)
        remove_runtime(leftover)
    note.unlink(missing_ok=True)


def _run(args: list[str], user: str | None, timeout: float = 30) -> None:
    """Run a postgres tool, raising with its output on failure."""
    res = subprocess.run(args, user=user, capture_output=True, text=True, timeout=timeout, check=False,
                         cwd="/")
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({res.returncode}): {res.stderr or res.stdout}")


def init_pgdata(rt: Runtime, password: str) -> None:
    """initdb the data directory (unless it already holds a cluster) with scram-sha-256 logins only
    and ``password`` for the ``postgres`` superuser."""
    if (rt.pgdata / "PG_VERSION").exists():
        return
    if rt.pgdata.exists() and rt.private is None:
        shutil.rmtree(rt.pgdata)
    rt.pgdata.mkdir(mode=0o700, exist_ok=True)
    pwfile = rt.pgdata.parent / f".pw-{secrets.token_hex(4)}"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if rt.user is not None:
        import pwd

        entry = pwd.getpwnam(rt.user)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    try:
        _run([rt.bin("initdb"), "-D", str(rt.pgdata), "--auth=scram-sha-256", f"--pwfile={pwfile}",
              "--encoding=utf8", "--no-sync", "-U", "postgres"], rt.user)
    finally:
        pwfile.unlink(missing_ok=True)


def start_server(rt: Runtime, port: int, password: str) -> None:
    """Start postgres with pg_ctl and wait until it accepts connections (stopping a leftover server
    of an earlier, crashed sandbox on the same data first); `PortTaken` when it cannot listen on
    ``port``, once it has exited."""
    if _server_running(rt.pgdata):
        stop_server(rt)
    log = rt.pgdata / "server.log"
    log_from = log.stat().st_size if log.exists() else 0
    # -W: do not let pg_ctl judge readiness (it has been seen to miss it on a loaded machine);
    # we wait for a real connection instead.
    _run([rt.bin("pg_ctl"), "-D", str(rt.pgdata), "-W", "-l", str(log),
          "-o", f"-p {port} {SERVER_OPTIONS}", "start"], rt.user, timeout=40)
    _wait_accepting(admin_dsn(port, password), rt.pgdata, log_from, timeout=60)


def admin_dsn(port: int, password: str) -> str:
    """The superuser's DSN."""
    return f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"


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


def _wait_accepting(dsn: str, pgdata: Path, log_from: int, timeout: float) -> None:
    """Poll until our server answers a query on its TCP port; `PortTaken` if it logs that it
    could not listen there (then it has exited, and may be started again)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if any(msg in _log_since(pgdata, log_from) for msg in BIND_FAILED):
            _wait_exited(pgdata, deadline)
            raise PortTaken(f"postgres could not listen on {_where(dsn)}")
        try:
            with psycopg.connect(dsn, connect_timeout=2) as conn:
                if _ours(conn, pgdata):
                    return
            last = PortTaken(f"another postgres answers on {_where(dsn)}")
        except psycopg.Error as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"postgres on {_where(dsn)} not accepting connections after {timeout:.0f}s: {last}\n"
                       f"{_log_since(pgdata, log_from)[-2000:]}")


def _where(dsn: str) -> str:
    """``127.0.0.1:port`` of a DSN (never its password)."""
    return dsn.rsplit("@", 1)[-1].split("/", 1)[0]


def _wait_exited(pgdata: Path, deadline: float) -> None:
    """Wait for a postmaster that failed to start to remove its lock file and exit."""
    while _server_running(pgdata) and time.monotonic() < deadline:
        time.sleep(0.05)


def stop_server(rt: Runtime) -> None:
    """``pg_ctl stop -m fast``; kill the postmaster if that fails."""
    if not _server_running(rt.pgdata):
        return
    try:
        _run([rt.bin("pg_ctl"), "-D", str(rt.pgdata), "-w", "-t", "15", "-m", "fast", "stop"], rt.user, timeout=20)
    except (RuntimeError, subprocess.TimeoutExpired, OSError):
        pid = _postmaster_pid(rt.pgdata)
        if pid:
            os.kill(pid, 9)
            deadline = time.monotonic() + 10
            while _server_running(rt.pgdata) and time.monotonic() < deadline:
                time.sleep(0.05)


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


def setup_database(admin: str, shop_password: str, products: int) -> None:
    """Create role and database ``shop`` (with ``shop_password``), the schema, and seed the products
    (idempotent; the role's password is set to this sandbox's every time)."""
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'shop'").fetchone() is None:
            conn.execute("CREATE ROLE shop LOGIN")
        conn.execute(sql.SQL("ALTER ROLE shop PASSWORD {}").format(sql.Literal(shop_password)))
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'shop'").fetchone() is None:
            conn.execute("CREATE DATABASE shop OWNER shop")
    shop_admin = admin.rsplit("/", 1)[0] + "/shop"
    with psycopg.connect(shop_admin, autocommit=True) as conn:
        conn.execute("SET ROLE shop")
        conn.execute(SCHEMA)
        conn.execute(SEED.replace("%s", str(int(products))))


class Postgres:
    """Sandbox component: a real PostgreSQL on ``127.0.0.1:ctx.ports["postgres"]``."""

    name = "postgres"

    def __init__(self) -> None:
        self._rt: Runtime | None = None
        self._dir: Path | None = None
        self._admin_dsn = ""
        self._ok = False

    async def start(self, ctx: Context) -> None:
        """Init (first time), start (on a new port while the one tried is taken), create the shop
        database and publish the port and DSNs (with this sandbox's generated passwords)."""
        self._dir = ctx.dir
        if self._rt is None:
            await asyncio.to_thread(clean_leftover, ctx.dir)
            self._rt = await asyncio.to_thread(make_runtime, ctx.dir)
        rt = self._rt
        password, shop_password = ctx.secret("postgres_password"), ctx.secret("shop_db_password")

        async def start_on(port: int) -> None:
            await asyncio.to_thread(start_server, rt, port, password)

        try:
            await asyncio.to_thread(init_pgdata, rt, password)
            port, _ = await start_on_free_port(start_on, first=ctx.ports["postgres"])
        except BaseException:
            await self.stop()  # a failed start leaves no server and no private folder behind
            raise
        ctx.ports["postgres"] = port
        self._admin_dsn = admin_dsn(port, password)
        await asyncio.to_thread(setup_database, self._admin_dsn, shop_password, ctx.config.products)
        ctx.endpoints["postgres"] = f"postgresql://shop:{shop_password}@127.0.0.1:{port}/shop"
        ctx.endpoints["postgres_admin"] = self._admin_dsn
        ctx.endpoints["postgres_data"] = str(rt.pgdata)
        self._ok = True

    async def stop(self) -> None:
        """Stop the server (fast mode); no postgres process is left behind, and a root-run server's
        private folder is removed."""
        self._ok = False
        if self._rt is not None:
            await asyncio.to_thread(stop_server, self._rt)
            if self._rt.private is not None:
                await asyncio.to_thread(remove_runtime, self._rt, self._dir)
                self._rt = None

    @property
    def pid(self) -> int | None:
        """PID of the postmaster, when running."""
        rt = self._rt
        return _postmaster_pid(rt.pgdata) if rt and _server_running(rt.pgdata) else None

    def health(self) -> dict[str, Any]:
        """Ping with ``SELECT 1`` (short connect timeout)."""
        if not self._ok:
            return {"ok": False, "reason": "not started"}
        try:
            with psycopg.connect(self._admin_dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            return {"ok": False, "reason": str(exc)}
        return {"ok": True, "dsn": _where(self._admin_dsn), "pid": self.pid}
