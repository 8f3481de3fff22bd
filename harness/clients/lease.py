"""One run at a time per target: a ``coordination.k8s.io/v1`` Lease held for a run's whole life.

A run takes the Lease ``shop-resilience-harness`` (in the target's ``lease.namespace``) before it
touches anything, renews it every third of its duration while it runs, and releases it at the end
(holder removed, duration 1 s). A second run finds it held and is refused (exit 2), naming the holder
and since when. A holder that died stops renewing: once ``renewTime + leaseDurationSeconds`` has passed,
the next run takes it over (``leaseTransitions`` + 1). Writes go through the Lease's
``resourceVersion``, so two runs racing for a free Lease cannot both win. Expiry is judged on this
machine's clock against the holder's ``renewTime``: runners' clocks must be in sync (NTP), as
client-go's leader election also assumes.

A holder that ran on this very machine (the Lease carries the holder's boot id) and whose process is
gone (killed -9, or its release was lost to API errors) does not make the next run wait for the
expiry: its lease is taken over at once, and the run journals whom it took it from.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from harness.errors import HarnessError, PermanentClientError, Refused

LEASE_NAME = "shop-resilience-harness"
BOOT_ANNOTATION = "harness.shop/holder-boot-id"
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
Obj = dict[str, Any]


def boot_id() -> str | None:
    """This machine's current boot (Linux); None elsewhere, and then no holder is ever judged gone."""
    try:
        with open(BOOT_ID_FILE) as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def holder_gone(lease: Obj) -> bool:
    """The lease's holder was a process of this machine's current boot that no longer exists."""
    ours = boot_id()
    if ours is None or ((lease.get("metadata") or {}).get("annotations") or {}).get(BOOT_ANNOTATION) != ours:
        return False
    found = re.search(r" pid (\d+):", str((lease.get("spec") or {}).get("holderIdentity") or ""))
    if found is None:
        return False
    try:
        os.kill(int(found[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: alive, someone else's
        return False
    return False


class LeaseAPI(Protocol):
    """The reads and writes a lease needs (harness.clients.kube.KubeClient has them)."""

    def get_lease(self, namespace: str, name: str) -> Obj | None: ...
    def create_lease(self, namespace: str, body: Obj) -> Obj: ...
    def replace_lease(self, namespace: str, name: str, body: Obj) -> Obj: ...


class LeaseLost(HarnessError):
    """Someone else holds the lease this run held (it expired while renewals failed)."""


def micro_time(ts: float) -> str:
    """A Kubernetes MicroTime: RFC 3339, UTC, microseconds."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _conflict(exc: PermanentClientError) -> bool:
    return exc.status == 409


class TargetLease:
    """Acquire, renew and release the target's lease as ``holder``."""

    def __init__(self, api: LeaseAPI, holder: str, target: str, namespace: str = "default",
                 seconds: int = 30, name: str = LEASE_NAME, clock: Callable[[], float] = time.time) -> None:
        self.api, self.holder, self.target = api, holder, target
        self.namespace, self.name, self.seconds, self.clock = namespace, name, seconds, clock
        self._lease: Obj | None = None
        self.took_over: str | None = None
        """The holder whose unexpired lease this one took because its process was gone."""

    @property
    def where(self) -> str:
        return f"lease {self.namespace}/{self.name}"

    def _spec(self, now: float, transitions: int, acquired: float) -> Obj:
        return {"holderIdentity": self.holder, "leaseDurationSeconds": self.seconds,
                "acquireTime": micro_time(acquired), "renewTime": micro_time(now), "leaseTransitions": transitions}

    def _refusal(self, spec: Obj, now: float) -> Refused:
        renewed = parse_micro_time(spec.get("renewTime")) or now
        left = renewed + float(spec.get("leaseDurationSeconds") or 0) - now
        acquired = parse_micro_time(spec.get("acquireTime"))
        since = datetime.fromtimestamp(acquired, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if acquired else "unknown"
        return Refused(f"target {self.target} is busy: {spec.get('holderIdentity')} holds the {self.where} since "
                       f"{since} (renewed {now - renewed:.0f} s ago; if that run died, the lease "
                       f"expires in {max(0.0, left):.0f} s). One run at a time per target: nothing was injected.")

    @staticmethod
    def _mark(metadata: Obj) -> Obj:
        """``metadata`` with this machine's boot id as the holder's (see ``holder_gone``)."""
        annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != BOOT_ANNOTATION}
        ours = boot_id()
        if ours:
            annotations[BOOT_ANNOTATION] = ours
        return {**metadata, "annotations": annotations}

    def held_by_other(self, spec: Obj, now: float) -> bool:
        holder = spec.get("holderIdentity")
        if not holder or holder == self.holder:
            return False
        renewed = parse_micro_time(spec.get("renewTime"))
        return renewed is not None and now < renewed + float(spec.get("leaseDurationSeconds") or 0)

    def acquire(self) -> None:
        """Take the lease, or raise Refused naming its holder (nothing is injected before this)."""
        now = self.clock()
        current = self.api.get_lease(self.namespace, self.name)
        if current is None:
            metadata: Obj = {"name": self.name, "namespace": self.namespace}
            body: Obj = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": self._mark(metadata),
                         "spec": self._spec(now, 0, now)}
            try:
                self._lease = self.api.create_lease(self.namespace, body)
                return
            except PermanentClientError as exc:
                if not _conflict(exc):
                    raise
                current = self.api.get_lease(self.namespace, self.name) or {}
        spec = current.get("spec") or {}
        if self.held_by_other(spec, now):
            if not holder_gone(current):
                raise self._refusal(spec, now)
            self.took_over = str(spec.get("holderIdentity"))
        transitions = int(spec.get("leaseTransitions") or 0) + (1 if spec.get("holderIdentity") else 0)
        body = copy.deepcopy(current)
        existing: Obj = dict(body.get("metadata") or {})
        body.update(metadata=self._mark(existing), spec=self._spec(now, transitions, now))
        try:
            self._lease = self.api.replace_lease(self.namespace, self.name, body)
        except PermanentClientError as exc:
            if not _conflict(exc):
                raise
            raced = (self.api.get_lease(self.namespace, self.name) or {}).get("spec") or {}
            raise self._refusal(raced, self.clock()) from None

    def renew(self) -> None:
        """Push ``renewTime`` forward; LeaseLost when another holder took it meanwhile."""
        if self._lease is None:
            raise LeaseLost(f"{self.where} was never acquired")
        for _ in range(2):  # a conflict with our own lease (a renewal that timed out but landed): once more
            body = copy.deepcopy(self._lease)
            body["spec"]["renewTime"] = micro_time(self.clock())
            try:
                self._lease = self.api.replace_lease(self.namespace, self.name, body)
                return
            except PermanentClientError as exc:
                if not _conflict(exc):
                    raise
            current = self.api.get_lease(self.namespace, self.name) or {}
            holder = (current.get("spec") or {}).get("holderIdentity")
            if holder != self.holder:
                raise LeaseLost(f"{self.where} is now held by {holder or 'nobody'}")
            self._lease = current

    def release(self) -> None:
        """Give the lease up (best effort: an expired lease is free anyway)."""
        current = self.api.get_lease(self.namespace, self.name)
        if current is None or (current.get("spec") or {}).get("holderIdentity") != self.holder:
            return
        spec = {k: v for k, v in current["spec"].items() if k != "holderIdentity"}
        spec.update(leaseDurationSeconds=1, renewTime=micro_time(self.clock()))
        with contextlib.suppress(PermanentClientError):
            self.api.replace_lease(self.namespace, self.name, {**current, "spec": spec})
        self._lease = None
