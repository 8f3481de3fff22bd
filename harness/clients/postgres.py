"""PostgreSQL through psycopg: the allowed-hosts check, counting and terminating backends, and the
connection holders that database faults keep open (held connections, a table lock, slow queries).

Everything here is blocking; async callers use ``asyncio.to_thread``. Connections a fault holds live
in the harness process and die with it; each one carries an ``application_name`` so a rollback can
also terminate them from the server side. Errors map onto the harness tree: connection failures and
server shutdown are TransientClientError, everything else PermanentClientError.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import conninfo, sql

from harness.errors import PermanentClientError, TransientClientError

LOCK_MODES = (
    "ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
    "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE",
)
CLIENT_BACKENDS = "backend_type = 'client backend' AND pid <> pg_backend_pid()"


# -- DSNs and safety ------------------------------------------------------------------------------
def dsn_parts(dsn: str) -> dict[str, str]:
    """The DSN's keywords (host, port, dbname, user, password, ...); ValueError when unparsable."""
    try:
        return {k: str(v) for k, v in conninfo.conninfo_to_dict(dsn).items() if v is not None}
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"invalid PostgreSQL DSN: {exc}") from None


def dsn_hosts(dsn: str) -> list[str]:
    """Every host the DSN may connect to (``host`` and ``hostaddr``, comma lists split)."""
    parts = dsn_parts(dsn)
    hosts = [h.strip() for key in ("host", "hostaddr") for h in parts.get(key, "").split(",") if h.strip()]
    return hosts or ["localhost"]


def host_refusal(dsn: str, allowed_hosts: list[str]) -> str | None:
    """Why a database fault must not run against ``dsn`` (None when every host is allowed)."""
    try:
        hosts = dsn_hosts(dsn)
    except ValueError as exc:
        return str(exc)
    if not allowed_hosts:
        return "the target lists no allowed PostgreSQL hosts (postgres.allowed_hosts)"
    bad = [h for h in hosts if h not in allowed_hosts]
    if bad:
        return f"PostgreSQL host {', '.join(bad)} is not in the target's allowed hosts ({', '.join(allowed_hosts)})"
    if not dsn_parts(dsn).get("dbname"):
        return "the DSN must name its database explicitly"
    return None


def redact_dsn(dsn: str) -> str:
    """The DSN without its password (safe to journal)."""
    parts = dsn_parts(dsn)
    parts.pop("password", None)
    return conninfo.make_conninfo(**parts)


def with_dbname(dsn: str, dbname: str | None) -> str:
    """``dsn`` connecting to database ``dbname`` instead (unchanged when None)."""
    return conninfo.make_conninfo(dsn, dbname=dbname) if dbname else dsn


def like_escape(text: str) -> str:
    """``text`` as a LIKE pattern matching exactly itself."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def same_server(a: str, b: str) -> bool:
    """Whether two DSNs name the same host, port, database and user (passwords ignored)."""
    keys = ("host", "hostaddr", "port", "dbname", "user")
    pa, pb = dsn_parts(a), dsn_parts(b)
    return all(pa.get(k) == pb.get(k) for k in keys)


def _map(exc: psycopg.Error, what: str) -> Exception:
    transient = isinstance(exc, psycopg.OperationalError | psycopg.errors.AdminShutdown)
    cls = TransientClientError if transient else PermanentClientError
    return cls(f"{what}: {str(exc).strip() or type(exc).__name__}")


@contextlib.contextmanager
def mapped(what: str) -> Iterator[None]:
    """Turn psycopg errors raised inside into the harness's client errors."""
    try:
        yield
    except psycopg.Error as exc:
        raise _map(exc, what) from None


def _fetch(conn: psycopg.Connection[Any], text: str | sql.Composed, params: Any) -> list[tuple[Any, ...]]:
    """Run one statement on ``conn`` and fetch its rows (none for a statement without a result)."""
    with mapped("query"):
        cur = conn.execute(text, params)
        return list(cur.fetchall()) if cur.description else []


# -- the client -----------------------------------------------------------------------------------
class PostgresClient:
    """Short-lived connections to one server for queries, counts and terminations."""

    def __init__(self, dsn: str, connect_timeout: float = 5.0, application_name: str = "harness") -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.application_name = application_name

    def connect(self, application_name: str | None = None, **options: Any) -> psycopg.Connection[Any]:
        """A new autocommit connection (raises TransientClientError when the server refuses)."""
        with mapped(f"connect to {redact_dsn(self.dsn)}"):
            return psycopg.connect(self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout)),
                                   application_name=application_name or self.application_name, **options)

    def query(self, text: str | sql.Composed, params: Any = None, timeout: float | None = None) -> list[tuple[Any, ...]]:
        """Run one statement on a fresh connection (bounded by ``timeout`` seconds) and fetch its rows."""
        options = {"options": f"-c statement_timeout={int(timeout * 1000)}"} if timeout else {}
        with self.connect(**options) as conn:
            return _fetch(conn, text, params)

    def settings(self, leaving: Sequence[int] = ()) -> dict[str, int]:
        """``max_connections``, ``superuser_reserved_connections`` and the number of client backends,
        not counting the pids in ``leaving`` (just terminated: they stay listed until they exit)."""
        rows = self.query(
            "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int, "
            f"(SELECT count(*) FROM pg_stat_activity WHERE {CLIENT_BACKENDS} AND NOT (pid = ANY(%s))), "
            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)::int", [list(leaving)])
        mx, reserved, backends, superuser = rows[0]
        return {"max_connections": mx, "superuser_reserved_connections": reserved,
                "backends": backends, "superuser": superuser}

    def count_backends(self, application_name: str | None = None, user: str | None = None,
                       database: str | None = None) -> int:
        """Client backends matching every given filter (``application_name`` is a LIKE pattern)."""
        where, params = _filters(application_name, user, database)
        rows = self.query(f"SELECT count(*) FROM pg_stat_activity WHERE {CLIENT_BACKENDS}{where}", params)
        return int(rows[0][0])

    def terminate_backends(self, application_name: str | None = None, user: str | None = None,
                           database: str | None = None, spare: str | None = None) -> list[int]:
        """``pg_terminate_backend`` every client backend matching the filters, except those whose
        application_name matches the LIKE pattern ``spare``; the pids terminated."""
        where, params = _filters(application_name, user, database)
        if spare is not None:
            where += " AND application_name NOT LIKE %s"
            params.append(spare)
        rows = self.query(
            f"SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE {CLIENT_BACKENDS}{where}", params)
        return [int(pid) for pid, ok in rows if ok]

    def backend_values(self, column: str, spare: str | None = "harness-%") -> list[str]:
        """The distinct non-empty values of ``application_name``, ``usename`` or ``datname`` among the
        client backends (except those whose application_name matches ``spare``), sorted."""
        if column not in ("application_name", "usename", "datname"):
            raise ValueError(f"not a pg_stat_activity filter column: {column!r}")
        where, params = "", []
        if spare is not None:
            where, params = " AND application_name NOT LIKE %s", [spare]
        rows = self.query(sql.SQL("SELECT DISTINCT {c} FROM pg_stat_activity WHERE " + CLIENT_BACKENDS
                                  + " AND {c} <> ''" + where + " ORDER BY 1").format(c=sql.Identifier(column)),
                          params)
        return [str(r[0]) for r in rows if r[0] is not None]

    def table_exists(self, table: str) -> bool:
        """Whether ``table`` (optionally ``schema.table``) exists."""
        return self.query("SELECT to_regclass(%s) IS NOT NULL", (table,))[0][0] is True

    def probe(self, text: str, timeout: float) -> None:
        """Connect and run ``text`` within ``timeout`` seconds; raises a client error on failure."""
        self.query(text, timeout=timeout)


class PinnedClient(PostgresClient):
    """A client whose queries share one session, kept open: it still works when the server is full
    (the fault that fills it needs that). ``settings`` counts that session among the backends: it
    holds a slot for as long as the client lives. ``close`` ends it."""

    def __init__(self, dsn: str, connect_timeout: float = 5.0, application_name: str = "harness") -> None:
        super().__init__(dsn, connect_timeout, application_name)
        self._conn: psycopg.Connection[Any] | None = None

    def query(self, text: str | sql.Composed, params: Any = None, timeout: float | None = None) -> list[tuple[Any, ...]]:
        if timeout:
            return super().query(text, params, timeout)
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self.connect()
        return _fetch(self._conn, text, params)

    def settings(self, leaving: Sequence[int] = ()) -> dict[str, int]:
        s = super().settings(leaving)
        return {**s, "backends": s["backends"] + 1}

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


def _filters(application_name: str | None, user: str | None, database: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    for column, value, op in (("application_name", application_name, "LIKE"),
                              ("usename", user, "="), ("datname", database, "=")):
        if value is not None:
            clauses.append(f" AND {column} {op} %s")
            params.append(value)
    return "".join(clauses), params


# -- what faults hold -----------------------------------------------------------------------------
class HeldConnections:
    """Idle connections opened and kept to use up server slots; ``close`` releases them all."""

    def __init__(self, client: PostgresClient, application_name: str) -> None:
        self.client = client
        self.application_name = application_name
        self.conns: list[psycopg.Connection[Any]] = []
        self.last_error: str | None = None

    def open(self, n: int, patience: float = 0.0) -> int:
        """Open up to ``n`` more connections; how many were opened. A refusal ends it, unless
        ``patience`` seconds have not passed yet: then the next try comes 5 ms later (clients racing to
        reconnect each hold a slot while the server refuses them, so "too many clients" passes)."""
        opened, deadline = 0, time.monotonic() + patience
        while opened < n:
            try:
                self.conns.append(self.client.connect(self.application_name))
            except TransientClientError as exc:
                self.last_error = str(exc)
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.005)
                continue
            opened += 1
        return opened

    def release(self, n: int) -> int:
        """Close up to ``n`` held connections; how many were closed."""
        closed = 0
        while self.conns and closed < n:
            with contextlib.suppress(psycopg.Error):
                self.conns.pop().close()
            closed += 1
        return closed

    def close(self) -> None:
        """Close every held connection (idempotent)."""
        self.release(len(self.conns))


class TableLock:
    """A transaction holding ``LOCK TABLE <table> IN <mode> MODE`` until ``release``."""

    def __init__(self, client: PostgresClient, application_name: str) -> None:
        self.client = client
        self.application_name = application_name
        self.conn: psycopg.Connection[Any] | None = None

    def acquire(self, table: str, mode: str, lock_timeout: float) -> None:
        """Take the lock, waiting at most ``lock_timeout`` seconds for conflicting locks."""
        if mode not in LOCK_MODES:
            raise PermanentClientError(f"unknown lock mode {mode!r}; expected one of {', '.join(LOCK_MODES)}")
        conn = self.client.connect(self.application_name)
        stmt = sql.SQL("LOCK TABLE {} IN " + mode + " MODE").format(sql.Identifier(*table.split(".")))
        try:
            with mapped(f"lock {table} in {mode} mode"):
                conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(lock_timeout * 1000)}ms")))
                conn.execute("BEGIN")
                conn.execute(stmt)
        except Exception:
            conn.close()
            raise
        self.conn = conn

    def release(self) -> None:
        """Roll back (releasing the lock) and close (idempotent)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
            with contextlib.suppress(psycopg.Error):
                conn.close()


DEFAULT_SLOW_QUERY = "SELECT count(*) FROM generate_series(1, 3000000) a WHERE md5(a::text) LIKE '0%'"


class SlowQueries:
    """``k`` threads, each running ``query`` over and over on its own connection until ``stop``."""

    def __init__(self, client: PostgresClient, application_name: str, k: int, query: str = DEFAULT_SLOW_QUERY,
                 statement_timeout: float = 10.0) -> None:
        self.client = client
        self.application_name = application_name
        self.k, self.query, self.statement_timeout = k, query, statement_timeout
        self.conns: list[psycopg.Connection[Any]] = []
        self.runs = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Open the ``k`` connections (failing if any is refused) and start the query loops."""
        options = f"-c statement_timeout={int(self.statement_timeout * 1000)}"
        try:
            for _ in range(self.k):
                self.conns.append(self.client.connect(self.application_name, options=options))
        except Exception:
            self.stop()
            raise
        for i, conn in enumerate(self.conns):
            thread = threading.Thread(target=self._loop, args=(conn,), name=f"slow-query-{i}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _loop(self, conn: psycopg.Connection[Any]) -> None:
        while not self._stop.is_set():
            try:
                conn.execute(self.query).fetchall()
            except psycopg.Error as exc:
                if self._stop.is_set() or conn.closed:
                    return
                with self._lock:
                    self.errors.append(str(exc).strip()[:200])
                time.sleep(0.2)
                continue
            with self._lock:
                self.runs += 1

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the running queries, join the threads and close the connections (idempotent)."""
        self._stop.set()
        for conn in self.conns:
            with contextlib.suppress(psycopg.Error):
                conn.cancel_safe(timeout=2.0)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        while self.conns:
            with contextlib.suppress(psycopg.Error):
                self.conns.pop().close()
        self._threads.clear()
