"""The fault interface. Fault kinds register into ``harness.spec.registry.FAULTS`` (one class per kind
declaring ``kind`` and ``Params``); ``fault_class`` looks an implementation up.

A fault is planned (targets resolved, nothing touched), injected (its undo journaled *before* it acts),
held for its duration, and reverted. ``undo`` is a classmethod that needs only the journaled undo
records, so `harness rollback` can revert after a crash with no live fault object. Reverts are
idempotent: running one twice is harmless.
"""

from __future__ import annotations

import asyncio
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from harness.clients.redact import strip_passwords
from harness.errors import PermanentFaultError, RevertFailed
from harness.events import Event
from harness.spec.access import NONE, Access
from harness.spec.params import FaultParams
from harness.spec.registry import FAULTS

from .ports import ComputeApi, KubeApi, Recorder, ToxiproxyApi, no_record
from .undo import Journaled, UndoModel, UndoRecord, Unreadable, read_undo, undo_record

R = TypeVar("R", bound=UndoModel)


class UndoFailed(RevertFailed, PermanentFaultError):
    """Some undo records of one fault could not be reverted; ``still_injected`` names each with its error.

    A RevertFailed (a human must act) and a PermanentFaultError (every record already went through the
    retry policy)."""


async def undo_each(records: Sequence[Journaled], model: type[R],
                    action: Callable[[R], Awaitable[None]]) -> None:
    """Run ``action`` on every record of ``model``, in order, whatever fails on the way; then raise one
    UndoFailed naming each record that failed (``record.describe(): error``) and each unreadable one.
    Records of other models are not this action's to undo."""
    failures = []
    for rec in records:
        if isinstance(rec, Unreadable):
            failures.append(rec.describe())
        elif isinstance(rec, model):
            try:
                await action(rec)
            except Exception as exc:  # noqa: BLE001 - every record is tried, every failure reported
                failures.append(f"{rec.describe()}: {exc}")
    if failures:
        raise UndoFailed(failures)


@dataclass
class FaultEnv:
    """What faults reach the world through (built by harness.faults.env for run and rollback). A client
    the target lacks is None; ``need_*`` raise a PermanentFaultError saying so."""

    record: Recorder = no_record
    """Journals an event (the run's ``Journal.write``; records nothing by default)."""
    kube: KubeApi | None = None
    compute: ComputeApi | None = None
    toxiproxy: ToxiproxyApi | None = None
    postgres: dict[str, Any] = field(default_factory=dict)  # dsn, allowed_hosts
    credentials: list[str] = field(default_factory=list)
    """More connection strings with their secrets (DSNs, MongoDB URIs) a revert may log in with: the
    run's own ``dsn``/``uri`` parameters, resolved from the environment. Never journaled."""
    project: str | None = None
    region: str | None = None
    network: str | None = None
    """The VPC network of the cluster's VMs (a name or ``projects/P/global/networks/N``); none: read from the VMs."""
    network_project: str | None = None
    """The network's host project on a Shared VPC; none: ``project``."""
    rng: random.Random = field(default_factory=random.Random)
    max_pods_fraction: float = 1.0
    require_capacity: bool = False  # safety.require_capacity: zone faults refuse when capacity fails

    def need_kube(self) -> KubeApi:
        """The Kubernetes client; PermanentFaultError when the target has none."""
        if self.kube is None:
            raise PermanentFaultError("the target has no Kubernetes API")
        return self.kube

    def need_compute(self) -> ComputeApi:
        """The Compute Engine client; PermanentFaultError when the target has none (no project)."""
        if self.compute is None:
            raise PermanentFaultError("the target has no Compute Engine client")
        return self.compute

    def need_toxiproxy(self) -> ToxiproxyApi:
        """The Toxiproxy client; PermanentFaultError when the target has none (no toxiproxy_url)."""
        if self.toxiproxy is None:
            raise PermanentFaultError("the target has no Toxiproxy URL")
        return self.toxiproxy

    def on_retry(self, what: str, exc: BaseException, attempt: int) -> None:
        self.record(Event.RETRY, what=what, error=str(exc), attempt=attempt)


@dataclass
class FaultPlan:
    """What a fault would hit, said plainly; nothing was touched to learn it."""

    targets: list[str]
    notes: list[str] = field(default_factory=list)
    blast: dict[str, Any] = field(default_factory=dict)
    refuse: str | None = None  # a reason to refuse the run (exit 2)

    def empty(self, reason: str, allow: bool) -> FaultPlan:
        """The fault would touch nothing: refuse (it would test nothing), or, with ``allow_empty``,
        say so in a note. A refusal already given stays."""
        if allow:
            self.notes.append(f"{reason}; it runs anyway (allow_empty: true)")
        elif self.refuse is None:
            self.refuse = f"{reason} (the fault would test nothing; set allow_empty: true on the step to run it anyway)"
        return self


class Fault(ABC):
    """One fault of one experiment step. A kind subclasses it with ``kind`` (its YAML key) and ``Params``
    (its parameters model) and registers with ``@FAULTS.register``."""

    kind: ClassVar[str]
    Params: ClassVar[type[FaultParams]]
    access: ClassVar[Access] = NONE
    """The permissions this kind needs (harness rbac prints them as RBAC)."""

    def __init__(self, fault_id: str, params: Any, env: FaultEnv) -> None:
        self.id = fault_id
        self.params = params
        self.env = env
        self.targets: list[str] = []
        self.measurements: dict[str, Any] = {}
        self._undo: list[UndoRecord] = []
        self.hold_seconds: float = self.duration
        """How long the fault window stays open after the first action (the step's duration or hold)."""
        self.allow_empty = False
        """The step's ``allow_empty``: run even when ``plan`` finds nothing to touch."""
        self.on_first_action: Callable[[], None] | None = None
        """Called once, right after the first undo record is journaled (the fault window opens there, not
        when ``inject`` returns: a pod-kill of 1,500 pods is seconds of deletes)."""

    # -- the lifecycle -----------------------------------------------------------------------------
    @abstractmethod
    async def plan(self) -> FaultPlan:
        """Resolve targets against the live system without changing anything."""

    @abstractmethod
    async def inject(self) -> None:
        """Act. Must call ``record_undo`` before every change it makes."""

    async def hold(self, until: float) -> None:
        """Keep the fault in place until ``until`` (time.time()). A fault whose params have ``every``
        (pod-kill, pg-terminate-backends) injects again every that many seconds."""
        every = getattr(self.params, "every", None)
        repeat_until = until - self.hold_seconds + self.duration  # repeats stop with the kind's duration
        while every and time.time() + every <= repeat_until + 1e-6:
            await asyncio.sleep(every)
            await self.inject()
        await asyncio.sleep(max(0.0, until - time.time()))

    async def revert(self) -> None:
        """Undo everything this fault did (idempotent)."""
        await type(self).undo(self._undo, self.env)

    @classmethod
    async def undo(cls, records: Sequence[Journaled], env: FaultEnv) -> None:
        """Revert from journaled undo records alone (used by revert and by `harness rollback`, which
        reads them back with ``read_undo``).

        The default has nothing to restore (e.g. a killed pod is replaced by its controller)."""
        return None

    @property
    def duration(self) -> float:
        return float(getattr(self.params, "duration", 0.0) or 0.0)

    # -- helpers -----------------------------------------------------------------------------------
    def record_undo(self, record: UndoRecord) -> None:
        """Journal how to undo the next change, before making it; a record that does not validate raises
        (ValidationError) before anything is journaled. Passwords never reach the record (a revert takes
        its credentials from the target, `harness rollback` too)."""
        clean = undo_record(strip_passwords(record.model_dump(mode="json")))
        self._undo.append(clean)
        self.env.record(Event.FAULT_UNDO, id=self.id, kind=self.kind, undo=clean.model_dump(mode="json"))
        if len(self._undo) == 1 and self.on_first_action is not None:
            self.on_first_action()


def fault_class(kind: str) -> type[Fault]:
    """The implementation of fault ``kind``; UnknownKind (a KeyError, with a did-you-mean) when none."""
    cls = FAULTS[kind]
    if not issubclass(cls, Fault):
        raise TypeError(f"fault kind {kind!r} is declared by {cls.__qualname__}, which is not a Fault")
    return cls


class Pending(Protocol):
    """A fault the journal shows as still injected (``harness.journal.PendingFault``)."""

    id: str
    kind: str
    undo: list[dict[str, Any]]


P = TypeVar("P", bound=Pending)


async def revert_pending(pending: Sequence[P], env: FaultEnv, by: str) -> list[tuple[P, Exception]]:
    """Revert journaled-but-unreverted faults from their undo records alone (read back into their
    models), newest first, journaling each outcome with ``env.record`` (``by`` says who: rollback,
    reconcile); every fault is tried. Returns the ``(pending fault, error)`` pairs that failed."""
    failed: list[tuple[P, Exception]] = []
    for pf in reversed(pending):
        try:
            await fault_class(pf.kind).undo(read_undo(pf.undo), env)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none hides another
            env.record(Event.FAULT_REVERT_FAILED, id=pf.id, kind=pf.kind, error=str(exc), by=by)
            failed.append((pf, exc))
            continue
        env.record(Event.FAULT_REVERTED, id=pf.id, kind=pf.kind, by=by)
    return failed
