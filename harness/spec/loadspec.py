"""The ``load:`` section: Locust users, stages (steps and spikes), a requests-per-second target, and
remote workers. Re-exported by :mod:`harness.spec.models`.

A stage is either a **step** (``{at, users, spawn_rate}``: from ``at`` on, this many users) or a
**spike** (``{at, ramp_to, in, hold}``: from ``at``, ramp to ``ramp_to`` users within ``in`` seconds,
hold them ``hold`` seconds, then ramp back within ``in`` to the user count before the spike; without
``hold`` the spike's level stays). Either may set ``target_rps``. :meth:`LoadSpec.schedule` flattens
them into plain user-count changes for the load runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from pydantic import Field, field_validator, model_validator

from harness.spec.fieldtypes import Duration, ThinkTime
from harness.spec.frozen import Frozen


class Change(NamedTuple):
    """One user-count change of the load, ``at`` seconds after the load started."""

    at: float
    users: int
    spawn_rate: float | None
    target_rps: float | None


class Stage(Frozen):
    """A change of the load during the run: a step (``users``) or a spike (``ramp_to`` + ``in``)."""

    at: Duration = Field(description="When, in seconds after the load started.")
    users: int | None = Field(default=None, ge=0, description="Step: the number of simulated users from then on.")
    spawn_rate: float | None = Field(default=None, gt=0, description="Step: users started per second; default the load's.")
    ramp_to: int | None = Field(default=None, ge=0, description="Spike: the user count to reach within `in`.")
    in_: Duration | None = Field(default=None, alias="in", gt=0, description="Spike: how long the ramp takes, e.g. 10s.")
    hold: Duration | None = Field(default=None, ge=0, description="Spike: how long the spike's users stay before "
                                  "ramping back to the count before it; omitted = they stay.")
    target_rps: float | None = Field(default=None, gt=0, description="Requests per second the users are paced to "
                                     "from this stage on (Locust constant_throughput per user); default the load's.")

    @model_validator(mode="after")
    def _one_shape(self) -> Stage:
        if (self.users is None) == (self.ramp_to is None):
            raise ValueError("give exactly one of `users` (a step) or `ramp_to` (a spike, with `in` and `hold`)")
        if self.ramp_to is not None:
            if self.in_ is None:
                raise ValueError("a spike (`ramp_to`) needs `in`: how long the ramp takes, e.g. `in: 10s`")
            if self.spawn_rate is not None:
                raise ValueError("a spike's spawn rate comes from `in`; remove `spawn_rate`")
        elif self.in_ is not None or self.hold is not None:
            raise ValueError("`in` and `hold` belong to a spike: write `ramp_to: USERS` instead of `users`")
        return self

    def end(self) -> float:
        """When the stage's own changes are over (a spike: after ramp, hold and ramp back)."""
        if self.ramp_to is None or self.hold is None:
            return self.at + (self.in_ or 0.0)
        return self.at + 2 * (self.in_ or 0.0) + self.hold


class LoadSpec(Frozen):
    """Locust load run through the whole experiment."""

    journeys: Path = Field(
        default=Path("probes/journeys/storefront.py"),
        description="Locust file with the shopper journeys, relative to the repository root.",
    )
    users: int = Field(ge=1, description="Number of simulated users.")
    spawn_rate: float = Field(gt=0, description="Users started per second.")
    workers: int | None = Field(default=None, ge=0, description="Local Locust worker processes; default one per "
                                "core (0 only with `remote_workers`).")
    think_time: ThinkTime = Field(default=(0.5, 2.0), description="Wait between actions, 'MIN..MAX' like '0.5s..2s'.")
    stages: list[Stage] = Field(default_factory=list, description="User count changes over time (sorted by `at`).")
    host: str | None = Field(default=None, description="Base URL to load; default the target's site URL.")
    target_rps: float | None = Field(default=None, gt=0, description="Requests per second to offer: each user is "
                                     "paced to target_rps / users task runs per second (Locust constant_throughput) "
                                     "instead of think_time. The timeline records offered vs achieved.")
    remote_workers: int = Field(default=0, ge=0, description="Locust workers started elsewhere with `harness "
                                "load-worker --master HOST:PORT`; the load starts once all have connected.")
    master_bind: str = Field(default="127.0.0.1", description="Address the Locust master listens on; loopback by "
                             "default, `0.0.0.0` to accept remote workers from other machines or pods.")
    master_port: int = Field(default=0, ge=0, le=65535, description="Port the Locust master listens on (and the "
                             "next one); 0 = any free port (fine for local workers only; remote workers need a "
                             "fixed one, e.g. 5557).")
    remote_worker_wait: Duration = Field(default=60.0, gt=0, description="How long to wait for the remote workers "
                                         "before the run is refused (nothing injected yet).")
    max_lost_workers: int = Field(default=0, ge=0, description="Workers that may disconnect or go missing during "
                                  "the run; one more aborts it (every fault reverted).")

    @field_validator("stages")
    @classmethod
    def _sorted(cls, stages: list[Stage]) -> list[Stage]:
        ordered = sorted(stages, key=lambda s: s.at)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if before.ramp_to is not None and after.at < before.end():
                raise ValueError(f"the stage at {after.at:g}s starts inside the spike at {before.at:g}s "
                                 f"(ramp, hold and ramp back end at {before.end():g}s)")
        return ordered

    @model_validator(mode="after")
    def _workers(self) -> LoadSpec:
        if self.workers == 0 and not self.remote_workers:
            raise ValueError("`workers: 0` leaves no one to run the users: set `remote_workers`, or workers >= 1")
        if self.remote_workers and self.master_port == 0:
            raise ValueError("remote workers need a fixed `master_port` (e.g. 5557) to connect to")
        return self

    def schedule(self) -> list[Change]:
        """The stages as plain user-count changes (a spike becomes its ramp up and ramp back)."""
        changes: list[Change] = []
        users, rps = self.users, self.target_rps
        for stage in self.stages:
            rps = stage.target_rps or rps
            if stage.ramp_to is None:
                users = stage.users if stage.users is not None else users
                changes.append(Change(stage.at, users, stage.spawn_rate, rps))
                continue
            ramp = stage.in_ or 1.0
            rate = max(abs(stage.ramp_to - users), 1) / ramp
            changes.append(Change(stage.at, stage.ramp_to, rate, rps))
            if stage.hold is None:
                users = stage.ramp_to
            else:
                changes.append(Change(stage.at + ramp + stage.hold, users, rate, rps))
        return changes
