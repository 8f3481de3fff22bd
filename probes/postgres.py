"""``postgres`` probe: connect and run a query within the probe timeout; success and latency.

A fresh connection per observation, so a server out of connection slots (or unreachable behind a
disabled proxy) shows as a failure, as it would for a new client. The DSN is the probe's own, else
the target's (``ProbeEnv.extra["postgres_dsn"]``).
"""

from __future__ import annotations

import asyncio
import time

from pydantic import Field

from harness.clients.postgres import PostgresClient
from harness.errors import ClientError
from harness.spec.access import Access, Endpoint
from harness.spec.params import ProbeParams
from harness.spec.registry import PROBES

from .base import Observation, Probe


class PostgresProbeParams(ProbeParams):
    """Runs a query against PostgreSQL; success when it answers within the probe timeout."""

    dsn: str | None = Field(
        default=None, description="Connection string (default: the target's); use ${env:NAME} for secrets."
    )
    query: str = Field(default="SELECT 1", description="Query to run.")


@PROBES.register
class PostgresProbe(Probe):
    kind = "postgres"
    access = Access(reaches=(Endpoint.POSTGRES,), other=("PostgreSQL: a role that can connect (the DSN from a Secret)",))
    Params = PostgresProbeParams

    @property
    def dsn(self) -> str | None:
        """The probe's DSN, else the target's."""
        return getattr(self.params, "dsn", None) or self.env.extra.get("postgres_dsn")

    async def observe(self) -> Observation:
        dsn = self.dsn
        if not dsn:
            return Observation(False, None, "no DSN: give `dsn` or set the target's postgres.dsn")
        client = PostgresClient(dsn, connect_timeout=self.timeout, application_name=f"harness-probe-{self.name}")
        start = time.perf_counter()
        try:
            await asyncio.to_thread(client.probe, self.params.query, self.timeout)
        except ClientError as exc:
            return Observation(False, (time.perf_counter() - start) * 1000, str(exc)[:300])
        return Observation(True, (time.perf_counter() - start) * 1000)
