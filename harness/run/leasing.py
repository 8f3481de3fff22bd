"""The run's hold on its target (``harness.clients.lease``): taken before anything is created or
injected, renewed in the background, journaled, and given back at the very end of the cleanup.

A refusal (another run holds the target) raises ``Refused`` before the run folder exists: exit 2,
nothing injected. A renewal that fails is journaled (``lease.renew_failed``) and retried at the next
beat; the run goes on (its faults are reverted on their own schedule either way).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import socket

from harness.clients.connect import Connection, kube_client
from harness.clients.lease import TargetLease
from harness.events import Event
from harness.faults.ports import Recorder, no_record
from harness.retry import retry_transient
from harness.spec.targets import LeaseSpec


def holder_identity(experiment: str) -> str:
    """Who holds the target, as the refused run will read it: user, host, pid and experiment."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}: {experiment}"


class RunLease:
    """Take, renew and give back the target's lease for one run."""

    def __init__(self, conn: Connection, spec: LeaseSpec, target: str, experiment: str) -> None:
        self.lease = TargetLease(kube_client(conn), holder_identity(experiment), target,
                                 namespace=spec.namespace, seconds=spec.seconds)
        self.record: Recorder = no_record
        self._beat: asyncio.Task[None] | None = None

    async def take(self) -> None:
        """Acquire (Refused when another run holds it), then renew every third of the duration."""
        await asyncio.to_thread(self.lease.acquire)
        self._beat = asyncio.create_task(self._renewals(), name="lease-renewal")

    def journal(self, record: Recorder) -> None:
        """From now on, journal through ``record``; says who holds which lease."""
        self.record = record
        took_over = {"took_over_from": self.lease.took_over} if self.lease.took_over else {}
        record(Event.LEASE_ACQUIRED, holder=self.lease.holder, namespace=self.lease.namespace,
               name=self.lease.name, seconds=self.lease.seconds, **took_over)

    async def _renewals(self) -> None:
        while True:
            await asyncio.sleep(self.lease.seconds / 3)
            try:
                await asyncio.to_thread(self.lease.renew)
            except Exception as exc:  # noqa: BLE001 - a missed renewal must never break the run
                self.record(Event.LEASE_RENEW_FAILED, error=f"{type(exc).__name__}: {exc}")

    async def give_back(self) -> None:
        """Stop renewing and release (best effort: a lease not released expires after its duration)."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
            self._beat = None
        async def release() -> None:
            await asyncio.to_thread(self.lease.release)

        try:  # a 5xx or a dropped connection is retried: a lease left behind blocks the next run until it expires
            await retry_transient(release, deadline=min(10.0, self.lease.seconds / 2), what="release the lease")
        except Exception as exc:  # noqa: BLE001 - reported; the lease expires on its own
            self.record(Event.LEASE_RENEW_FAILED, error=f"release: {type(exc).__name__}: {exc}")
            return
        self.record(Event.LEASE_RELEASED, holder=self.lease.holder)
