"""Parameter models of the database and dependency fault kinds (validated by the spec).

Proxy faults (``db-*``, ``partner-*``, ``mongo-latency``) act through the target's Toxiproxy on a named
proxy; the proxy names default to the sandbox's ``postgres`` and ``payment-partner``. ``pg-*`` faults
act directly on PostgreSQL with ``dsn`` (default: the target's postgres DSN; ``${env:NAME}`` for
secrets), optionally on another database of the same server (``dbname``). ``mongo-stepdown`` needs an
explicit ``uri``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.spec.fieldtypes import Duration
from harness.spec.registry import KindRegistry

from .params_base import FaultParams

Stream = Literal["upstream", "downstream", "both"]
LockMode = Literal[
    "ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
    "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE",
]
MIN_RESERVE = 3
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


# -- through the fault proxy ----------------------------------------------------------------------
class ProxyFaultParams(FaultParams):
    """Common to every fault done through a Toxiproxy proxy."""

    proxy: str = Field(min_length=1, description="Name of the Toxiproxy proxy to act on.")
    duration: Duration = Field(gt=0, description="How long the fault stays in place.")


class LatencyParams(ProxyFaultParams):
    """Add latency (with jitter) to a proxy's traffic."""

    latency: Duration = Field(gt=0, description="Added delay per chunk of data, e.g. 200ms.")
    jitter: Duration = Field(default=0.0, description="Random +/- variation around `latency`.")
    stream: Stream = Field(default="downstream", description="Which direction: upstream, downstream or both.")
    toxicity: float = Field(default=1.0, gt=0, le=1, description="Share of connections affected (0 < t <= 1).")


class BandwidthParams(ProxyFaultParams):
    """Limit a proxy's throughput."""

    rate: int = Field(ge=0, description="Bandwidth limit in KB/s (0 stops the data flowing).")
    stream: Stream = Field(default="downstream", description="Which direction: upstream, downstream or both.")
    toxicity: float = Field(default=1.0, gt=0, le=1, description="Share of connections affected (0 < t <= 1).")


class OutageParams(ProxyFaultParams):
    """Make a dependency unreachable: disable the proxy, reset connections, or let them time out."""

    mode: Literal["disable", "reset_peer", "timeout"] = Field(
        default="disable",
        description="disable: refuse and drop every connection; reset_peer: TCP RST; timeout: data stops.",
    )
    timeout: Duration = Field(
        default=0.0,
        description="reset_peer/timeout: delay before the connection is reset/closed; 0 = at once (reset_peer) "
                    "or never (timeout: data is held until the fault ends).",
    )
    stream: Literal["upstream", "downstream"] = Field(
        default="downstream", description="reset_peer/timeout: the direction the toxic sits on."
    )

    @model_validator(mode="after")
    def _timeout_needs_toxic(self) -> OutageParams:
        if self.mode == "disable" and self.timeout:
            raise ValueError("`timeout` applies to mode reset_peer or timeout, not disable")
        return self


class DbLatencyParams(LatencyParams):
    """Latency on the database proxy."""

    proxy: str = Field(default="postgres", min_length=1, description="Proxy in front of the database.")


class DbBandwidthParams(BandwidthParams):
    """Bandwidth limit on the database proxy."""

    proxy: str = Field(default="postgres", min_length=1, description="Proxy in front of the database.")


class DbOutageParams(OutageParams):
    """The database becomes unreachable through its proxy."""

    proxy: str = Field(default="postgres", min_length=1, description="Proxy in front of the database.")


class PartnerLatencyParams(LatencyParams):
    """Latency on an external partner's proxy."""

    proxy: str = Field(default="payment-partner", min_length=1, description="Proxy in front of the partner.")


class PartnerOutageParams(OutageParams):
    """An external partner becomes unreachable through its proxy."""

    proxy: str = Field(default="payment-partner", min_length=1, description="Proxy in front of the partner.")


class MongoLatencyParams(LatencyParams):
    """Latency on the proxy in front of MongoDB (named explicitly: the sandbox has no MongoDB)."""


# -- directly on PostgreSQL -----------------------------------------------------------------------
class PgFaultParams(FaultParams):
    """Common to every fault done directly on PostgreSQL."""

    dsn: str | None = Field(
        default=None, description="Connection string; default the target's postgres DSN. Use ${env:NAME} for secrets."
    )
    dbname: str | None = Field(default=None, description="Connect to this database instead of the DSN's.")


class PgConnectionExhaustionParams(PgFaultParams):
    """Hold connections until only `reserve` are left under max_connections (or hold exactly `hold`)."""

    hold: int | None = Field(default=None, ge=1, description="Hold exactly this many connections.")
    reserve: int = Field(
        default=MIN_RESERVE, ge=MIN_RESERVE,
        description=f"Connections left free under max_connections, so operators can log in (>= {MIN_RESERVE}).",
    )
    evict: str | None = Field(
        default=None,
        description="Once the connections are held, terminate the sessions whose application_name matches this "
                    "SQL LIKE pattern (e.g. 'shop-%'), and again whenever one gets back in, so their clients "
                    "face a full server for the whole duration.",
    )
    duration: Duration = Field(gt=0, description="How long the connections are held (slots given back are re-taken).")


class PgTerminateBackendsParams(PgFaultParams):
    """Terminate the sessions matching an application name, user and/or database, once or every N s."""

    application_name: str | None = Field(
        default=None, description="Sessions whose application_name matches (SQL LIKE, e.g. 'shop-%')."
    )
    user: str | None = Field(default=None, description="Sessions of this user.")
    database: str | None = Field(default=None, description="Sessions connected to this database.")
    every: Duration | None = Field(default=None, description="Repeat the termination this often during `duration`.")
    duration: Duration = Field(default=0.0, description="How long the fault lasts; 0 = a single shot.")

    @model_validator(mode="after")
    def _something_to_match(self) -> PgTerminateBackendsParams:
        if self.application_name is None and self.user is None and self.database is None:
            raise ValueError("give at least one of `application_name`, `user` or `database`")
        if self.every is not None and self.every <= 0:
            raise ValueError("`every` must be greater than 0")
        if self.every is not None and self.duration <= 0:
            raise ValueError("`every` needs a `duration` > 0 to repeat within")
        return self


class PgLockParams(PgFaultParams):
    """Hold a lock of a given mode on a table for the duration."""

    table: str = Field(description="Table to lock, optionally schema-qualified (e.g. orders, public.orders).")
    mode: LockMode = Field(default="ACCESS EXCLUSIVE", description="PostgreSQL table lock mode.")
    lock_timeout: Duration = Field(default=5.0, gt=0, description="Give up when the lock is not granted in this time.")
    duration: Duration = Field(gt=0, description="How long the lock is held.")

    @field_validator("mode", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper().replace("_", " ") if isinstance(value, str) else value

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str) -> str:
        if not _TABLE_RE.match(value):
            raise ValueError("expected a table name like `orders` or `public.orders`")
        return value


class PgSlowQueriesParams(PgFaultParams):
    """Run expensive queries on K connections to load the server."""

    connections: int = Field(default=2, ge=1, le=32, description="How many connections run queries at once.")
    query: str | None = Field(default=None, description="The expensive query; default a CPU-heavy generate_series.")
    statement_timeout: Duration = Field(default=10.0, gt=0, description="Each query is cancelled after this long.")
    duration: Duration = Field(gt=0, description="How long the queries keep running.")


# -- MongoDB ---------------------------------------------------------------------------------------
class MongoStepdownParams(FaultParams):
    """Step the replica set's primary down (``replSetStepDown`` with a catch-up period)."""

    uri: str = Field(description="mongodb:// URI of the replica set; use ${env:NAME} for credentials.")
    step_down: Duration = Field(default=60.0, ge=1, description="How long the old primary stays ineligible.")
    catch_up: Duration = Field(default=10.0, ge=0, description="How long to wait for a secondary to catch up.")
    force: bool = Field(default=False, description="Step down even when no secondary has caught up.")
    unfreeze_on_revert: bool = Field(
        default=True, description="On revert, make the old primary electable again (replSetFreeze 0)."
    )
    timeout: Duration = Field(default=5.0, gt=0, description="How long to wait for the replica set to answer.")
    duration: Duration = Field(default=0.0, description="How long the fault counts as active.")

    @field_validator("uri")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("expected a mongodb:// or mongodb+srv:// URI")
        return value

    @model_validator(mode="after")
    def _catch_up_shorter(self) -> MongoStepdownParams:
        if self.catch_up >= self.step_down:
            raise ValueError("`catch_up` must be shorter than `step_down` (MongoDB refuses otherwise)")
        return self


KINDS: dict[str, type[FaultParams]] = {
    "db-latency": DbLatencyParams,
    "db-bandwidth": DbBandwidthParams,
    "db-outage": DbOutageParams,
    "partner-latency": PartnerLatencyParams,
    "partner-outage": PartnerOutageParams,
    "mongo-latency": MongoLatencyParams,
    "pg-connection-exhaustion": PgConnectionExhaustionParams,
    "pg-terminate-backends": PgTerminateBackendsParams,
    "pg-lock": PgLockParams,
    "pg-slow-queries": PgSlowQueriesParams,
    "mongo-stepdown": MongoStepdownParams,
}
"""Every database / dependency fault kind and its params model."""


def register_all(registry: KindRegistry) -> None:
    """Register every databases fault kind's params model."""
    for kind, model in KINDS.items():
        registry.register(kind, model)
