"""``mongo-stepdown``: step the replica set's primary down (pymongo, documented commands); revert makes
it electable again (``replSetFreeze 0``), and it becomes electable by itself after ``step_down``.

The undo record holds the URI without its password; a revert (and ``harness rollback``) finds the
password in the run's own ``uri`` parameter (``FaultEnv.credentials``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence

from pydantic import Field, field_validator, model_validator

from harness.clients import mongo
from harness.errors import ClientError, PermanentFaultError
from harness.events import Event
from harness.spec.access import Access, Endpoint
from harness.spec.fieldtypes import Duration
from harness.spec.params import FaultParams
from harness.spec.registry import FAULTS

from .base import Fault, FaultEnv, FaultPlan, undo_each
from .undo import Journaled, Unfreeze


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


def _undo_uri(rec: Unfreeze, env: FaultEnv) -> str:
    """The MongoDB URI to undo with: the first of ``env.credentials`` that is the journaled (password-
    less) URI with its password, else the journaled one."""
    return next((c for c in env.credentials if c != rec.uri and mongo.redact_uri(c) == rec.uri), rec.uri)


@FAULTS.register
class MongoStepdown(Fault):
    """``replSetStepDown`` on the replica set's primary; revert makes it electable again."""

    kind = "mongo-stepdown"
    access = Access(reaches=(Endpoint.MONGODB,), mongo_actions=("replSetGetStatus", "replSetStateChange"),
                    other=("MongoDB: a user with replSetGetStatus, replSetStepDown and replSetFreeze (clusterManager); "
                           "the URI from a Secret",))
    Params = MongoStepdownParams

    def admin(self, uri: str | None = None) -> mongo.MongoAdmin:
        return mongo.MongoAdmin(uri or self.params.uri, timeout=self.params.timeout)

    async def plan(self) -> FaultPlan:
        p = self.params
        target = mongo.redact_uri(p.uri)
        try:
            primary = await asyncio.to_thread(self.admin().primary)
        except ClientError as exc:
            return FaultPlan([target], refuse=f"{self.kind}: cannot find the primary of {target}: {exc}")
        return FaultPlan([f"{target} primary {primary}"], blast={"primaries": 1}, notes=[
            f"steps {primary} down for {p.step_down:g}s (secondaries get {p.catch_up:g}s to catch up"
            + (", forced" if p.force else "") + ")"])

    async def inject(self) -> None:
        p = self.params
        admin = self.admin()
        primary = await asyncio.to_thread(admin.primary)
        self.record_undo(Unfreeze(uri=mongo.redact_uri(p.uri), member=primary, unfreeze=p.unfreeze_on_revert,
                                  timeout=p.timeout, until=round(time.time() + p.step_down, 3),
                                  note="the old primary is electable again after `until` by itself"))
        await asyncio.to_thread(admin.step_down, int(p.step_down), int(p.catch_up), p.force)
        self.targets.append(primary)
        self.measurements["stepped_down"] = primary
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="stepped_down", member=primary)

    async def revert(self) -> None:
        await self.undo(self._undo, dataclasses.replace(self.env, credentials=[self.params.uri, *self.env.credentials]))

    @classmethod
    async def undo(cls, records: Sequence[Journaled], env: FaultEnv) -> None:
        async def unfreeze(rec: Unfreeze) -> None:
            admin = mongo.MongoAdmin(_undo_uri(rec, env), rec.timeout)
            try:
                await asyncio.to_thread(admin.freeze, rec.member, 0)
            except ClientError as exc:
                until = time.strftime("%H:%M:%S", time.localtime(rec.until))
                raise PermanentFaultError(f"{exc}; it becomes electable by itself at {until}, "
                                          "or run replSetFreeze 0 on it") from None

        due = [rec for rec in records if not isinstance(rec, Unfreeze) or (rec.unfreeze and time.time() < rec.until)]
        await undo_each(due, Unfreeze, unfreeze)
