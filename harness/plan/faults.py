"""What a run would hit, resolved against the live target before anything is touched: each fault of
the experiment built from its step, and each one's plan (targets, notes, blast radius, refusal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.faults.base import Fault, FaultPlan, fault_class


@dataclass
class PlanResult:
    """What a run would hit; ``refusals`` non-empty means the run must not start."""

    faults: list[tuple[Fault, FaultPlan]] = field(default_factory=list)

    @property
    def refusals(self) -> list[str]:
        return [p.refuse for _, p in self.faults if p.refuse]

    def describe(self) -> str:
        lines = []
        for fault, plan in self.faults:
            lines.append(f"- {fault.id} ({fault.kind}): {len(plan.targets)} target(s)")
            lines += [f"    {n}" for n in plan.notes]
            lines += [f"    target {t}" for t in plan.targets[:50]]
            if plan.refuse:
                lines.append(f"    REFUSED: {plan.refuse}")
        return "\n".join(lines) if lines else "(no faults)"


def build_faults(experiment: Any, env: Any) -> list[Fault]:
    """One fault object per step, carrying the step's window length (``hold_seconds``) and ``allow_empty``."""
    ids = experiment.timeline.fault_ids()
    faults = []
    for fid, step in zip(ids, experiment.timeline.faults, strict=True):
        fault = fault_class(step.kind)(fid, step.params, env)
        fault.hold_seconds, fault.allow_empty = step.held_for(), step.allow_empty
        faults.append(fault)
    return faults


async def plan_faults(faults: list[Fault]) -> PlanResult:
    """Every fault's plan, in order; nothing is changed."""
    result = PlanResult()
    for f in faults:
        result.faults.append((f, await f.plan()))
    return result
