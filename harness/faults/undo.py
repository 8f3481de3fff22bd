"""Undo records: what a fault journals (``fault.undo``) before each change, so a revert, or `harness
rollback` after a crash, can undo it from the journal alone.

One frozen pydantic model per shape, told apart by ``action``. A record is validated when it is written
(a malformed one raises before the fault acts) and parsed back into its model when read. Records
journaled before ``action`` was written (every kind but the zone faults) get it from their keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class UndoModel(BaseModel):
    """What every undo record shares: immutable, no unknown keys, and a line saying what it undoes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def describe(self) -> str:
        """What undoing this record does, for error messages (no secrets: records hold none)."""
        return f"undo {self.model_dump()!r}"


# -- pods --------------------------------------------------------------------------------------------
class PodsKilled(UndoModel):
    """``pod-kill``: nothing to restore, the pods' controller replaces them."""

    action: Literal["pods-killed"] = "pods-killed"
    namespace: str
    killed: list[str]
    note: str = "replaced by their controller"


class RestoreScale(UndoModel):
    """``deployment-scale``: set the deployment back to its previous replica count."""

    action: Literal["restore-scale"] = "restore-scale"
    namespace: str
    name: str
    replicas: int = Field(ge=0)

    def describe(self) -> str:
        return f"scale {self.namespace}/{self.name} back to {self.replicas}"


# -- zones -------------------------------------------------------------------------------------------
class Uncordon(UndoModel):
    """``zone-drain``: make a cordoned node schedulable again."""

    action: Literal["uncordon"] = "uncordon"
    node: str

    def describe(self) -> str:
        return f"uncordon {self.node}"


class StartInstance(UndoModel):
    """``zone-outage`` (stop-instances): start a stopped VM."""

    action: Literal["start"] = "start"
    zone: str
    instance: str
    deadline: float = 120.0

    def describe(self) -> str:
        return f"start {self.instance}"


class Untag(UndoModel):
    """``zone-outage`` (network): remove the fault's network tag from a VM."""

    action: Literal["untag"] = "untag"
    zone: str
    instance: str
    tag: str
    deadline: float = 60.0

    def describe(self) -> str:
        return f"untag {self.instance}"


class DeleteFirewall(UndoModel):
    """``zone-outage`` (network): delete a deny rule the fault inserted."""

    action: Literal["delete-firewall"] = "delete-firewall"
    firewall: str
    deadline: float = 60.0
    project: str | None = Field(default=None, description="The rule's project (a Shared VPC's host project); "
                                                         "none: the target's.")

    def describe(self) -> str:
        return f"delete-firewall {self.firewall}"


class RestoreMigRepair(UndoModel):
    """``zone-outage`` (stop-instances): put a managed instance group's repair settings back exactly as read
    before the fault switched repair off (else the group recreates the VMs the fault stopped)."""

    action: Literal["restore-mig-repair"] = "restore-mig-repair"
    zone: str
    mig: str
    settings: dict[str, Any] = Field(description="The group's autoHealingPolicies and instanceLifecyclePolicy "
                                                 "as the API returned them (REST JSON).")
    deadline: float = 120.0

    def describe(self) -> str:
        return f"restore the repair settings of managed instance group {self.mig}"


# -- databases ---------------------------------------------------------------------------------------
class TerminateSessions(UndoModel):
    """``pg-*`` faults that hold connections: terminate the sessions named ``application_name``."""

    action: Literal["terminate-sessions"] = "terminate-sessions"
    dsn: str = Field(description="The server, without its password.")
    application_name: str
    note: str = ""

    def describe(self) -> str:
        return f"terminate the sessions {self.application_name} on {self.dsn}"


class NothingToUndo(UndoModel):
    """A change that cannot be taken back (``pg-terminate-backends``): journaled so the window shows."""

    action: Literal["nothing"] = "nothing"
    note: str = ""


class Unfreeze(UndoModel):
    """``mongo-stepdown``: make the old primary electable again (it is by itself after ``until``)."""

    action: Literal["unfreeze"] = "unfreeze"
    uri: str = Field(description="The replica set, without its password.")
    member: str
    unfreeze: bool = True
    timeout: float = 5.0
    until: float = Field(description="When the member is electable again by itself (time.time()).")
    note: str = ""

    def describe(self) -> str:
        return f"unfreeze {self.member}"


# -- proxies -----------------------------------------------------------------------------------------
class ProxyUndo(UndoModel):
    """What the Toxiproxy faults' records share: the proxy they act on."""

    proxy: str


class RemoveToxic(ProxyUndo):
    """Toxiproxy faults: remove a toxic the fault added."""

    action: Literal["remove-toxic"] = "remove-toxic"
    toxic: str

    def describe(self) -> str:
        return f"remove toxic {self.toxic} from proxy {self.proxy!r}"


class EnableProxy(ProxyUndo):
    """Toxiproxy outages: re-enable a proxy the fault disabled."""

    action: Literal["enable-proxy"] = "enable-proxy"
    enable: Literal[True] = True

    def describe(self) -> str:
        return f"enable proxy {self.proxy!r}"


ZoneUndo = Uncordon | StartInstance | RestoreMigRepair | Untag | DeleteFirewall
UndoRecord = Annotated[
    PodsKilled | RestoreScale | ZoneUndo | TerminateSessions | NothingToUndo | Unfreeze | RemoveToxic | EnableProxy,
    Field(discriminator="action"),
]
"""Every undo record a fault can journal."""

_RECORD: TypeAdapter[UndoRecord] = TypeAdapter(UndoRecord)

_LEGACY_KEYS = (("toxic", "remove-toxic"), ("enable", "enable-proxy"), ("application_name", "terminate-sessions"),
                ("replicas", "restore-scale"), ("member", "unfreeze"), ("killed", "pods-killed"))
"""The ``action`` of a record journaled without one, by the key only its shape has."""


@dataclass(frozen=True)
class Unreadable:
    """A journaled record that fits no model (a typo, a newer harness's record): reported by the revert
    as not undone, never acted on; the fault's other records are still undone."""

    record: dict[str, Any]
    error: str

    def describe(self) -> str:
        return f"unknown undo record {self.record!r}"


Journaled = UndoRecord | Unreadable
"""An undo record as read back from the journal."""


def undo_record(data: Mapping[str, Any]) -> UndoRecord:
    """``data`` as its model; ValidationError when it fits none."""
    if "action" not in data:
        data = {"action": next((a for key, a in _LEGACY_KEYS if key in data), "nothing"), **data}
    return _RECORD.validate_python(data)


def read_undo(records: Iterable[Mapping[str, Any]]) -> list[Journaled]:
    """Journaled undo records (``fault.undo``'s ``undo``) as models, each unreadable one as Unreadable."""
    out: list[Journaled] = []
    for data in records:
        try:
            out.append(undo_record(data))
        except ValidationError as exc:
            out.append(Unreadable(dict(data), str(exc)))
    return out


def unreadable(records: Sequence[Journaled]) -> list[str]:
    """A failure line for each Unreadable of ``records``."""
    return [rec.describe() for rec in records if isinstance(rec, Unreadable)]
