"""What a run will do, worked out from the experiment alone: action times, phase lengths, the expected
run time, the planned load, and per SLO the samples its window should hold and the failures it allows.

Pure: nothing is contacted. ``harness plan`` prints it; ``harness validate`` prints its warnings (an SLO
whose window cannot gather its minimum samples at the planned load would end inconclusive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.measure.sli import RECOVERY_TIME, Kind, parse_sli
from harness.measure.slo import default_min_samples


@dataclass(frozen=True)
class SloExpectation:
    """What one SLO's window should hold at the planned load (None: cannot be told in advance)."""

    name: str
    window: str
    seconds: float
    samples: float | None
    needed: int
    allowed_failures: int | None
    note: str

    @property
    def short(self) -> bool:
        return self.samples is not None and self.samples < self.needed


def action_times(step: Any) -> list[float]:
    """Seconds after the baseline at which a fault step acts: once, or every ``every`` within its duration."""
    duration = float(getattr(step.params, "duration", 0.0) or 0.0)
    every = getattr(step.params, "every", None)
    times = [float(step.at)]
    while every and times[-1] - step.at + every <= duration + 1e-6:
        times.append(times[-1] + float(every))
    return times


def fault_window(experiment: Any) -> tuple[float, float] | None:
    """The planned fault window, in seconds after the baseline (None without faults)."""
    faults = experiment.timeline.faults
    if not faults:
        return None
    return min(f.at for f in faults), max(f.end() for f in faults)


def window_seconds(experiment: Any, window: str) -> float:
    """A window's planned length in seconds."""
    tl = experiment.timeline
    span = fault_window(experiment)
    fault = span[1] - span[0] if span else 0.0
    lengths = {"baseline": tl.baseline + (span[0] if span else 0.0), "fault": fault,
               "recovery": tl.recovery if span else 0.0, "whole": tl.planned_seconds()}
    return float(lengths[window])


def load_rate(experiment: Any) -> float | None:
    """Planned requests per second: the highest ``target_rps``, else users / mean think time (each user
    makes about one request per think time). None without load."""
    load = experiment.load
    if load is None:
        return None
    rates = [load.target_rps] + [s.target_rps for s in load.stages]
    if any(rates):
        return float(max(r for r in rates if r))
    low, high = load.think_time
    users = max([load.users] + [s.users if s.users is not None else s.ramp_to or 0 for s in load.stages])
    return float(users / max(0.05, (low + high) / 2))


def _rate(experiment: Any, sli: Any) -> tuple[float | None, str]:
    if sli.source == "probe":
        probe = next((p for p in experiment.probes if p.name == sli.name), None)
        return (1.0 / probe.every if probe else None), "probe results"
    rate = load_rate(experiment)
    if sli.source == "step":
        return None, f"requests of step {sli.name} (a share of ~{rate or 0:.0f} req/s; known after the run)"
    return rate, "requests"


def expectations(experiment: Any) -> list[SloExpectation]:
    """Per SLO (recovery_time aside): window length, expected samples, the minimum, failures allowed."""
    out = []
    for slo in experiment.slos:
        sli = parse_sli(slo.sli)
        if sli.source == RECOVERY_TIME:
            continue
        seconds = window_seconds(experiment, slo.window)
        rate, what = _rate(experiment, sli)
        samples = None if rate is None else rate * seconds
        needed = slo.min_samples or default_min_samples(sli)
        allowed = None
        if samples is not None and sli.kind is Kind.RATIO:
            share = 1 - slo.objective.value if sli.metric == "success_ratio" else slo.objective.value
            allowed = math.floor(samples * share + 1e-9)
        out.append(SloExpectation(slo.name, slo.window, seconds, samples, needed, allowed, what))
    return out


def warnings(experiment: Any) -> list[str]:
    """SLOs whose window cannot gather their minimum samples at the planned load."""
    return [f"SLO `{e.name}`: about {e.samples:.0f} {e.note} expected in the {e.window} window "
            f"({e.seconds:g} s), {e.needed} needed: it will end inconclusive; raise the load, lengthen "
            "the window or set `min_samples`" for e in expectations(experiment) if e.short]


def describe(experiment: Any) -> list[str]:
    """The schedule, the load and the SLO expectations, as lines for `harness plan`."""
    tl = experiment.timeline
    lines = [f"phases: baseline {tl.baseline:g} s, faults until +{(fault_window(experiment) or (0, 0))[1]:g} s, "
             f"recovery {tl.recovery:g} s; expected run time ~{tl.planned_seconds():g} s "
             "(plus steady-state checks and load start-up)"]
    for fid, step in zip(tl.fault_ids(), tl.faults, strict=True):
        times = action_times(step)
        at = ", ".join(f"+{t:g} s" for t in times)
        lines.append(f"- {fid}: {len(times)} action(s) at {at} after the baseline; window held until "
                     f"+{step.end():g} s, then reverted")
    rate = load_rate(experiment)
    if rate is not None:
        load = experiment.load
        lines.append(f"load: {load.users} users (spawn {load.spawn_rate:g}/s), think time "
                     f"{load.think_time[0]:g}-{load.think_time[1]:g} s: ~{rate:.0f} req/s")
    else:
        lines.append("load: none (only probes observe the site)")
    for e in expectations(experiment):
        expected = "unknown" if e.samples is None else f"~{e.samples:.0f}"
        allowed = "" if e.allowed_failures is None else f", allows ~{e.allowed_failures} failure(s)"
        flag = "  <- TOO FEW: will be inconclusive" if e.short else ""
        lines.append(f"SLO {e.name} ({e.window}, {e.seconds:g} s): {expected} {e.note}, {e.needed} needed{allowed}{flag}")
    return lines
