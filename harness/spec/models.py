"""Typed, frozen models of an experiment file (pydantic v2; extra keys are errors).

Durations are float seconds, ratios floats 0..1 (see ``harness.spec.fieldtypes``). Fault steps and probes
are kind-keyed (``pod-kill: {...}``, ``http: {...}``) and stored as ``kind`` + ``params``, where
``params`` is validated by the ``Params`` of the kind's entry in ``harness.spec.registry`` (``FAULTS``,
``PROBES``), declared beside the kind's implementation.
Cross-item rules (unknown probes, duplicates, namespaces) live in ``harness.spec.checks``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import (
    Field,
    SerializeAsAny,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema as cs

from harness.measure.sli import Sli
from harness.spec.fieldtypes import Duration, ObjectiveField, Ratio, Threshold
from harness.spec.frozen import Frozen as Frozen
from harness.spec.kinds import field_error, kinded_dump, kinded_json_schema, split_kind
from harness.spec.loadspec import Change as Change
from harness.spec.loadspec import LoadSpec as LoadSpec
from harness.spec.loadspec import Stage as Stage
from harness.spec.params import FaultParams, ProbeParams
from harness.spec.registry import FAULTS, PROBES, Registry
from harness.spec.sli import RECOVERY_TIME, SliField, objective_mismatch

Window = Literal["baseline", "fault", "recovery", "whole"]
SLUG = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
DEFAULT_PROTECTED = ("kube-system", "kube-public", "kube-node-lease", "gke-system", "gmp-system")


class Kinded(Frozen):
    """A model written with exactly one kind key (``http: {...}``, ``pod-kill: {...}``) beside its
    ``fixed_keys``; stored as ``kind`` + ``params`` validated by the model ``kind_registry`` names."""

    kind_registry: ClassVar[Registry[Any]]
    fixed_keys: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_kind(value, cls.kind_registry, cls.fixed_keys)

    @model_serializer(mode="wrap")
    def _dump(self, handler: cs.SerializerFunctionWrapHandler) -> dict[str, Any]:
        return kinded_dump(handler(self))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: cs.CoreSchema, handler: Any) -> JsonSchemaValue:
        ref = handler(schema)
        kinded_json_schema(handler.resolve_ref_schema(ref), cls.kind_registry)
        return ref  # type: ignore[no-any-return]


class ProbeSpec(Kinded):
    """A continuous check of the site; written with exactly one kind key, e.g. ``http: {...}``."""

    name: str = Field(pattern=SLUG, description="Unique probe name, used by SLIs as probe.<name>.<metric>.")
    every: Duration = Field(default=1.0, gt=0, description="Interval between two probes.")
    timeout: Duration = Field(default=2.0, gt=0, description="A probe slower than this fails.")
    kind: str = Field(description="Probe kind (the key used in YAML: http, kubernetes, postgres, ...).")
    params: SerializeAsAny[ProbeParams] = Field(description="The kind's parameters.")
    kind_registry: ClassVar[Registry[Any]] = PROBES

    fixed_keys: ClassVar[tuple[str, ...]] = ("name", "every", "timeout")


class SloSpec(Frozen):
    """A service level objective judged on the timeline after the run."""

    name: str = Field(min_length=1, description="Unique SLO name shown in reports.")
    sli: SliField = Field(description="load.<m>, step.<step>.<m>, probe.<probe>.<m> (m: success_ratio, "
                          "error_ratio, rps, p50, p95, p99) or recovery_time.")
    objective: ObjectiveField = Field(description="What the SLI must satisfy, e.g. '>= 99%' or '<= 800ms'.")
    window: Window = Field(default="whole", description="Part of the run judged: baseline, fault, recovery, whole.")
    consecutive: int = Field(
        default=3, ge=1, description="recovery_time: seconds in a row back within objective to count as recovered."
    )
    min_samples: int | None = Field(
        default=None, ge=1, description="Fewest samples (requests or probe results) in the window for a verdict; "
        "below it the SLO is inconclusive. Default 20 for ratios and latencies, 1 for rps.",
    )
    inconclusive: Literal["fail", "pass"] = Field(
        default="fail", description="What an inconclusive SLO (too few samples) means for the run's verdict.",
    )

    @model_validator(mode="after")
    def _units(self) -> SloSpec:
        problem = objective_mismatch(self.sli, self.objective)
        if problem:
            raise field_error("SloSpec", ("objective",), problem, self.objective.text)
        if self.sli.source == RECOVERY_TIME and "window" in self.model_fields_set:
            msg = "recovery_time takes no window: it is measured from the last revert"
            raise field_error("SloSpec", ("window",), msg, self.window, "remove `window`")
        return self


class Guard(Frozen):
    """Abort the run (revert everything) when an SLI stays beyond a threshold."""

    sli: SliField = Field(description="SLI computed per second, same grammar as SLOs (not recovery_time).")
    above: Threshold | None = Field(default=None, description="Fire when the SLI is above this value.")
    below: Threshold | None = Field(default=None, description="Fire when the SLI is below this value.")
    for_: Duration = Field(default=0.0, alias="for", description="For this long in a row; 0 = the first bad second.")

    @field_validator("sli")
    @classmethod
    def _per_second(cls, value: Sli) -> Sli:
        if value.source == RECOVERY_TIME:
            raise ValueError("recovery_time is known only after the run; a guard needs a per-second SLI")
        return value

    @model_validator(mode="after")
    def _one_bound(self) -> Guard:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of `above` or `below`")
        return self


class FaultStep(Kinded):
    """One fault on the timeline; written with exactly one kind key, e.g. ``pod-kill: {...}``."""

    at: Duration = Field(default=0.0, description="When to inject, relative to the end of the baseline.")
    name: str | None = Field(default=None, pattern=SLUG, description="Optional id of this fault in reports.")
    hold: Duration | None = Field(
        default=None, description="Keep the fault window open this long after the first action (for one-shot "
        "faults such as a single pod-kill: the time the site is watched while it heals).",
    )
    allow_empty: bool = Field(
        default=False, description="Run even when the fault would touch nothing (no pod, node, VM or connection); "
        "by default such a fault is refused at plan, since it would test nothing.",
    )
    kind: str = Field(description="Fault kind (the key used in YAML: pod-kill, deployment-scale, ...).")
    params: SerializeAsAny[FaultParams] = Field(description="The kind's parameters.")
    kind_registry: ClassVar[Registry[Any]] = FAULTS

    fixed_keys: ClassVar[tuple[str, ...]] = ("at", "name", "hold", "allow_empty")

    def held_for(self) -> float:
        """How long the fault window stays open after the first action: the kind's ``duration``, or
        ``hold`` when longer (one-shot faults have duration 0)."""
        return max(float(getattr(self.params, "duration", 0.0) or 0.0), float(self.hold or 0.0))

    def end(self) -> float:
        """Seconds after the baseline when this fault's planned window ends."""
        return self.at + self.held_for()


class TimelineSpec(Frozen):
    """Baseline, then faults on schedule, then recovery."""

    baseline: Duration = Field(description="Undisturbed time before the first fault.")
    faults: list[FaultStep] = Field(default_factory=list, description="Faults, `at` relative to the end of baseline.")
    recovery: Duration = Field(description="Time after the last revert to watch the site recover.")

    def fault_ids(self) -> list[str]:
        """One id per fault step: its name, or ``<kind>-<index>``."""
        return [f.name or f"{f.kind}-{i}" for i, f in enumerate(self.faults)]

    def planned_seconds(self) -> float:
        """Baseline + the last fault's planned end + recovery."""
        return self.baseline + max((f.end() for f in self.faults), default=0.0) + self.recovery


class SafetySpec(Frozen):
    """Rules that refuse or abort a run before it hurts too much."""

    abort_when: list[Guard] = Field(default_factory=list, description="Guards; any firing aborts and reverts.")
    max_pods_fraction: Ratio = Field(default=0.5, description="Never take out more than this share of a workload.")
    allowed_namespaces: list[str] | None = Field(
        default=None, description="When set, faults may only touch these namespaces."
    )
    protected_namespaces: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROTECTED), description="Faults here are refused."
    )
    require_capacity: bool = Field(
        default=False, description="Refuse when the remaining capacity cannot hold the workload."
    )
    max_duration: Duration = Field(default=1800.0, gt=0, description="Hard limit on the whole run.")


class SteadyStateSpec(Frozen):
    """Probes that must pass before injecting and after recovering."""

    before: bool = Field(default=True, description="Check the steady state before the baseline.")
    after: bool = Field(default=True, description="Check it again after the recovery window.")
    timeout: Duration = Field(default=20.0, description="How long to wait for the steady state.")
    probes: list[str] | None = Field(default=None, description="Probe names to check; None = all probes.")


class GateSpec(Frozen):
    """How ``harness gate`` judges a regression against the last good run (defaults: the documented rules)."""

    latency_factor: float = Field(default=1.5, gt=1.0, description="A latency SLI regresses above this × its baseline ...")
    latency_min: Duration = Field(default=0.1, ge=0, description="... and at least this much worse (e.g. 100ms).")
    time_factor: float = Field(default=1.5, gt=1.0, description="Recovery or detection time regresses above this × ...")
    time_min: Duration = Field(default=5.0, ge=0, description="... and at least this much longer (e.g. 5s).")
    ratio_points: Ratio = Field(default=0.01, description="A success ratio regresses when down more than this (1% = one point).")
    min_samples: int = Field(default=20, ge=1, description="Values measured on fewer samples (in either run) are not compared.")


class Experiment(Frozen):
    """A resilience experiment: what to break, when, under which load, and what must hold."""

    name: str = Field(pattern=SLUG, description="Slug of the experiment ([a-z0-9-]), used in run folder names.")
    title: str = Field(min_length=1, description="One-line human title.")
    description: str = Field(default="", description="What this experiment checks and why.")
    owner: str = Field(default="", description="Owning team, e.g. team-checkout.")
    tags: list[str] = Field(default_factory=list, description="Free tags, e.g. gameday, pre-release.")
    target: str = Field(default="sandbox", description="A target name from experiments/targets.yaml.")
    sla: Ratio = Field(default=0.99, description="Monthly availability promise, used for the error budget.")
    load: LoadSpec | None = Field(default=None, description="Locust load; None = no load.")
    probes: list[ProbeSpec] = Field(default_factory=list, description="Continuous probes.")
    slos: list[SloSpec] = Field(min_length=1, description="Objectives judged after the run (at least one: "
                                "an experiment without an objective cannot fail, so it proves nothing).")
    timeline: TimelineSpec = Field(description="Baseline, faults and recovery.")
    safety: SafetySpec = Field(default_factory=SafetySpec, description="Safety rules and abort guards.")
    steady_state: SteadyStateSpec = Field(
        default_factory=SteadyStateSpec, description="Steady-state checks around the run."
    )
    gate: GateSpec = Field(default_factory=GateSpec, description="Regression rules of `harness gate` for this experiment.")

    @model_validator(mode="after")
    def _fault_window_has_length(self) -> Experiment:
        if not any(s.window == "fault" and s.sli != "recovery_time" for s in self.slos):
            return self
        for i, step in enumerate(self.timeline.faults):
            if step.held_for() <= 0:
                msg = (f"an SLO judges `window: fault`, but fault `{step.name or step.kind}` is one-shot (no "
                       "duration): its fault window would last a few milliseconds")
                raise field_error("Experiment", ("timeline", "faults", i), msg, step.kind,
                                  "add `hold: 30s` to the fault step: how long to watch the site after the action")
        return self
