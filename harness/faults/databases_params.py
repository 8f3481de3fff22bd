"""Parameter models of the PostgreSQL fault kinds (``harness.faults.databases`` declares each kind with
its model; they sit in their own module only to keep that one short).

``dsn`` defaults to the target's postgres DSN (``${env:NAME}`` for secrets), optionally on another
database of the same server (``dbname``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.spec.fieldtypes import Duration
from harness.spec.params import FaultParams

LockMode = Literal[
    "ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
    "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE",
]
MIN_RESERVE = 3
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


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
