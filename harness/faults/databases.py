"""PostgreSQL faults: ``pg-connection-exhaustion``, ``pg-terminate-backends``, ``pg-lock`` and
``pg-slow-queries``, directly on the server (``mongo-stepdown`` is in ``harness.faults.mongo``).

Every ``pg-*`` fault refuses (at plan time) a DSN whose host is not in the target's allowed hosts.
Connections a fault holds live in the harness process, so they die with it; each carries the
application_name ``harness-<fault id>-<token>``, journaled in the undo record, so ``undo`` (revert and
``harness rollback``) also terminates them on the server.

Each kind's parameters model is in ``harness.faults.databases_params`` (kept apart for size only).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Sequence
from typing import Any

from harness.clients import postgres as pg
from harness.errors import ClientError, PermanentFaultError
from harness.events import Event
from harness.retry import retry_transient
from harness.spec.access import Access, Endpoint
from harness.spec.registry import FAULTS

from .base import Fault, FaultEnv, FaultPlan, undo_each
from .databases_params import (
    MIN_RESERVE,
    PgConnectionExhaustionParams,
    PgLockParams,
    PgSlowQueriesParams,
    PgTerminateBackendsParams,
)
from .undo import Journaled, NothingToUndo, TerminateSessions

SIGNAL_ROLES = ("pg_signal_backend", "pg_read_all_stats")
"""What terminating other sessions takes: seeing them, and signalling their backends."""
HELD_NOTE = "connections held by the harness process close when it exits; undo also terminates them by application_name"


async def _pg(env: FaultEnv, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A blocking PostgreSQL call off the event loop, through the one retry policy."""

    async def call() -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    return await retry_transient(call, deadline=20, what=what, on_retry=env.on_retry)


def _undo_dsn(rec: TerminateSessions, env: FaultEnv) -> str:
    """The DSN to undo with: the journaled one has no password, so the first of the target's DSN and
    ``env.credentials`` that names the same server and user (on the record's database) wins."""
    dbname = pg.dsn_parts(rec.dsn).get("dbname")
    for candidate in [env.postgres.get("dsn"), *env.credentials]:
        try:
            dsn = pg.with_dbname(candidate, dbname) if candidate else None
            if dsn and pg.same_server(dsn, rec.dsn):
                return str(dsn)
        except ValueError:
            continue  # not a PostgreSQL DSN (a MongoDB URI)
    return rec.dsn


class PgFault(Fault):
    """A fault acting directly on PostgreSQL; holds ``self.app`` connections when it holds any."""

    access = Access(reaches=(Endpoint.POSTGRES,), other=("PostgreSQL: a role allowed to see and terminate other sessions (pg_signal_backend, "
                           "pg_read_all_stats) and to lock the tables named; the DSN from a Secret",))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = f"harness-{self.id}-{uuid.uuid4().hex[:6]}"

    @property
    def dsn(self) -> str | None:
        """The DSN this fault connects with (its own, else the target's), on ``dbname`` if given."""
        dsn = self.params.dsn or self.env.postgres.get("dsn")
        return pg.with_dbname(dsn, self.params.dbname) if dsn else None

    def refusal(self) -> str | None:
        """Why this fault must not run (no DSN, or a host the target does not allow)."""
        if not self.dsn:
            return f"{self.kind}: no DSN: give `dsn` or set the target's postgres.dsn"
        reason = pg.host_refusal(self.dsn, list(self.env.postgres.get("allowed_hosts") or []))
        return f"{self.kind}: {reason}" if reason else None

    def client(self) -> pg.PostgresClient:
        """A client for this fault's short control queries (holders name their sessions ``self.app``)."""
        assert self.dsn is not None
        return pg.PostgresClient(self.dsn, application_name=f"harness-ctl-{self.id}")

    async def plan(self) -> FaultPlan:
        refusal = self.refusal()
        if refusal:
            return FaultPlan([self.dsn and pg.redact_dsn(self.dsn) or "postgres"], refuse=refusal)
        plan = FaultPlan([pg.redact_dsn(str(self.dsn))])
        await self.plan_more(plan)
        return plan

    async def plan_more(self, plan: FaultPlan) -> None:
        """Add notes, blast radius or a refusal, reading the server (never changing it)."""

    def record_held(self) -> None:
        """Journal how to undo held connections (before opening them)."""
        self.record_undo(TerminateSessions(dsn=pg.redact_dsn(str(self.dsn)), application_name=self.app, note=HELD_NOTE))
        self.targets.append(pg.redact_dsn(str(self.dsn)))

    async def release(self) -> None:
        """Close what this process holds (the live half of revert)."""

    async def revert(self) -> None:
        await self.release()
        own = [str(self.dsn)] if self.dsn else []  # its own DSN has the password the record lacks
        await type(self).undo(self._undo, dataclasses.replace(self.env, credentials=[*own, *self.env.credentials]))

    @classmethod
    async def undo(cls, records: Sequence[Journaled], env: FaultEnv) -> None:
        async def terminate(rec: TerminateSessions) -> None:
            client = pg.PostgresClient(_undo_dsn(rec, env), application_name="harness-undo")
            await _pg(env, f"terminate {rec.application_name}", client.terminate_backends,
                      application_name=pg.like_escape(rec.application_name))

        await undo_each(list(reversed(records)), TerminateSessions, terminate)


#: how long a top-up keeps trying for the slots evicted clients race it for (seconds)
TOP_UP_PATIENCE = 0.2


@FAULTS.register
class PgConnectionExhaustion(PgFault):
    """Hold connections until only ``reserve`` are free under max_connections (or hold ``hold``)."""

    kind = "pg-connection-exhaustion"
    access = dataclasses.replace(PgFault.access, postgres_roles=SIGNAL_ROLES)
    Params = PgConnectionExhaustionParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held: pg.HeldConnections | None = None
        self._terminated: set[int] = set()
        self.control: pg.PinnedClient | None = None

    def _count(self, s: dict[str, int]) -> tuple[int, str | None]:
        """How many to hold given the server's settings, and a refusal when that breaks the reserve."""
        p = self.params
        if p.reserve < MIN_RESERVE:
            return 0, f"{self.kind}: reserve {p.reserve} is below the minimum of {MIN_RESERVE}"
        room = s["max_connections"] - p.reserve - s["backends"]
        n = p.hold if p.hold is not None else room
        if n > room:
            return n, (f"{self.kind}: holding {n} would leave fewer than {p.reserve} of "
                       f"{s['max_connections']} connections free ({s['backends']} in use)")
        if n <= 0:
            return 0, (f"{self.kind}: nothing to hold: {s['backends']} of {s['max_connections']} connections are "
                       f"in use and {p.reserve} must stay free")
        return n, None

    def _nothing_to_hold(self, s: dict[str, int]) -> bool:
        """The server has no slot to take (an empty fault, not an unsafe one)."""
        p = self.params
        return p.hold is None and p.reserve >= MIN_RESERVE and s["max_connections"] - p.reserve - s["backends"] <= 0

    async def plan_more(self, plan: FaultPlan) -> None:
        s = await _pg(self.env, "read settings", self.client().settings)
        n, refusal = self._count(s)
        if refusal and self._nothing_to_hold(s):
            plan.empty(refusal, self.allow_empty)
        else:
            plan.refuse = refusal
        plan.blast = {"connections": n, "max_connections": s["max_connections"], "in_use": s["backends"],
                      "reserve": self.params.reserve}
        plan.notes.append(f"holds {n} connections ({s['backends']} in use of {s['max_connections']}, "
                          f"{self.params.reserve} left free) for {self.params.duration:g}s"
                          + (f", evicting sessions matching {self.params.evict!r}" if self.params.evict else ""))

    async def inject(self) -> None:
        p, client = self.params, self.client()
        # one control session for the whole hold: a full server (or evicted clients racing to get
        # back in) would refuse a new one, and a top-up that cannot connect lets them back in
        self.control = pg.PinnedClient(client.dsn, application_name=client.application_name)
        s = await _pg(self.env, "read settings", self.control.settings)
        n, refusal = self._count(s)
        if refusal and not (self.allow_empty and self._nothing_to_hold(s)):
            await asyncio.to_thread(self.control.close)
            raise PermanentFaultError(refusal)
        self.record_held()
        self.held = pg.HeldConnections(client, self.app)
        opened = await asyncio.to_thread(self.held.open, n)
        self.measurements.update({"held": opened, "held_max": opened, "max_connections": s["max_connections"],
                                  "backends_before": s["backends"], "reserve": p.reserve})
        if p.evict:
            pids = await _pg(self.env, "evict sessions", self.control.terminate_backends,
                             application_name=p.evict, spare="harness-%")
            self.measurements["evicted"] = len(pids)
            await asyncio.to_thread(self._top_up, pids)
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="holding", connections=opened,
                        evicted=self.measurements.get("evicted", 0))

    def _top_up(self, evicted: Sequence[int] = ()) -> None:
        """Take the slots other clients gave back, keeping exactly ``reserve`` free (or ``hold`` held);
        with ``evict``, first terminate the matching sessions that got back in.

        A terminated session stays in pg_stat_activity until its process exits, so the count leaves out
        the ones terminated now (the first time only: one that never leaves is counted next time);
        otherwise its slot would go uncounted and an evicted client would reconnect into it, every
        time. Holding more than leaves ``reserve`` free (another client came in) gives slots back."""
        assert self.held is not None and self.control is not None
        p = self.params
        try:
            leaving = [pid for pid in evicted if pid not in self._terminated]
            if p.evict:  # evicted clients that slipped back in lose their session again
                pids = self.control.terminate_backends(application_name=p.evict, spare="harness-%")
                self.measurements["evicted"] = self.measurements.get("evicted", 0) + len(pids)
                leaving += [pid for pid in pids if pid not in self._terminated]
            self._terminated.update(leaving)
            s = self.control.settings(leaving)
        except ClientError:
            return  # full even for us: nothing to take
        room = s["max_connections"] - p.reserve - s["backends"]
        want = room if p.hold is None else min(room, p.hold - len(self.held.conns))
        if want > 0:
            self.held.open(want, patience=TOP_UP_PATIENCE if p.evict else 0.0)
        elif room < 0:
            self.held.release(-room)
        self.measurements["held_max"] = max(self.measurements.get("held_max", 0), len(self.held.conns))

    async def hold(self, until: float) -> None:
        """Keep the server full until ``until``: re-take every slot another client gives back (often
        in the first seconds after an eviction, when the evicted clients race to reconnect)."""
        fast_until = time.time() + (2.0 if self.params.evict else 0.0)
        while time.time() < until:
            await asyncio.to_thread(self._top_up)
            every = 0.05 if time.time() < fast_until else 0.25
            await asyncio.sleep(max(0.0, min(every, until - time.time())))

    async def release(self) -> None:
        if self.held is not None:
            self.measurements["stopped_by"] = self.held.last_error
            await asyncio.to_thread(self.held.close)
        if self.control is not None:
            await asyncio.to_thread(self.control.close)


@FAULTS.register
class PgTerminateBackends(PgFault):
    """Terminate matching sessions once, or every ``every`` seconds for ``duration``."""

    kind = "pg-terminate-backends"
    access = dataclasses.replace(PgFault.access, postgres_roles=SIGNAL_ROLES)
    Params = PgTerminateBackendsParams

    def _filters(self) -> dict[str, Any]:
        p = self.params
        return {"application_name": p.application_name, "user": p.user, "database": p.database}

    async def plan_more(self, plan: FaultPlan) -> None:
        p = self.params
        n = await _pg(self.env, "count backends", self.client().count_backends, **self._filters())
        what = ", ".join(f"{k}={v!r}" for k, v in self._filters().items() if v is not None)
        repeat = f", every {p.every:g}s for {p.duration:g}s" if p.every else ""
        plan.notes.append(f"terminates the sessions matching {what} ({n} now){repeat}")
        plan.blast = {"sessions": n}
        if n == 0:
            plan.empty(await self._no_match(what), self.allow_empty)

    async def _no_match(self, what: str) -> str:
        """Why no session matches, with the values each filter's column has now."""
        reason = f"{self.kind}: no session matches {what}"
        columns = {"application_name": "application_name", "user": "usename", "database": "datname"}
        for key, value in self._filters().items():
            if value is not None:
                values = await _pg(self.env, f"list {key} values", self.client().backend_values, columns[key])
                reason += f"; {key} values now: {', '.join(values) or 'none'}"
        return reason

    async def inject(self) -> None:
        if not self._undo:
            self.record_undo(NothingToUndo(note="terminated sessions are not restored: their clients reconnect"))
            self.targets.append(pg.redact_dsn(str(self.dsn)))
        pids = await _pg(self.env, "terminate backends", self.client().terminate_backends,
                         spare="harness-%", **self._filters())
        self.measurements["terminated"] = self.measurements.get("terminated", 0) + len(pids)
        self.measurements["rounds"] = self.measurements.get("rounds", 0) + 1
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="terminated", pids=pids)


@FAULTS.register
class PgLock(PgFault):
    """Hold ``LOCK TABLE <table> IN <mode> MODE`` in an open transaction for the duration."""

    kind = "pg-lock"
    Params = PgLockParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock: pg.TableLock | None = None

    async def plan_more(self, plan: FaultPlan) -> None:
        p = self.params
        db = pg.dsn_parts(str(self.dsn)).get("dbname")
        if not await _pg(self.env, "check table", self.client().table_exists, p.table):
            plan.refuse = f"{self.kind}: table {p.table!r} does not exist in database {db!r}"
        plan.targets = [f"{pg.redact_dsn(str(self.dsn))} table {p.table}"]
        plan.notes.append(f"locks {db}.{p.table} in {p.mode} mode for {p.duration:g}s")

    async def inject(self) -> None:
        p = self.params
        self.record_held()
        self.lock = pg.TableLock(self.client(), self.app)
        started = time.monotonic()
        await asyncio.to_thread(self.lock.acquire, p.table, p.mode, p.lock_timeout)
        self.measurements.update({"table": p.table, "mode": p.mode,
                                  "acquired_after_s": round(time.monotonic() - started, 3)})
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="locked", table=p.table, mode=p.mode)

    async def release(self) -> None:
        if self.lock is not None:
            await asyncio.to_thread(self.lock.release)


@FAULTS.register
class PgSlowQueries(PgFault):
    """Run an expensive query over and over on ``connections`` connections."""

    kind = "pg-slow-queries"
    Params = PgSlowQueriesParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load: pg.SlowQueries | None = None

    async def plan_more(self, plan: FaultPlan) -> None:
        p = self.params
        plan.notes.append(f"runs {'the given' if p.query else 'a CPU-heavy'} query on {p.connections} "
                          f"connections for {p.duration:g}s (each cancelled after {p.statement_timeout:g}s)")
        plan.blast = {"connections": p.connections}

    async def inject(self) -> None:
        p = self.params
        self.record_held()
        self.load = pg.SlowQueries(self.client(), self.app, p.connections, p.query or pg.DEFAULT_SLOW_QUERY,
                                   p.statement_timeout)
        await asyncio.to_thread(self.load.start)
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="querying", connections=p.connections)

    async def release(self) -> None:
        if self.load is not None:
            await asyncio.to_thread(self.load.stop)
            self.measurements.update({"queries": self.load.runs, "errors": len(self.load.errors)})
