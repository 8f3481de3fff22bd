"""Synthetic run folders, and the report.html speed figure for ``make bench``.

``write_synthetic_run`` writes a run folder the way a run does: the timeline through the real
``TimelineWriter``, a journal of the same events a run journals, and run.json from the real
``evaluate_folder`` (so its verdicts, windows and recovery are the harness's own). Tests use it for
every kind of folder (passed, failed, aborted in the baseline, no load, no probes); ``main`` prints
the time to render report.html for a 60-minute run (3,600 seconds, 8 steps, 4 probes; target ≤ 2 s).

    python -m harness.report.bench_report
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.measure.histogram import Histogram
from harness.measure.timeline import TimelineWriter
from harness.spec.models import SloSpec

STEPS = ("home", "search", "product", "catalog.api", "cart.add", "cart.view", "checkout", "account")
START = 1_800_000_000.0


@dataclass(frozen=True)
class SyntheticExperiment:
    """The parts of an experiment that ``evaluate_folder`` reads."""

    name: str = "synthetic-checkout-outage"
    title: str = "Synthetic: checkout fails while its partner is down"
    owner: str = "team-checkout"
    target: str = "sandbox"
    sla: float = 0.99
    tags: tuple[str, ...] = ("synthetic",)
    slos: tuple[SloSpec, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """What a synthetic run looks like. Times are seconds since the start; ``fault`` is None for a run
    without faults; ``abort_at`` stops the run there (a guard firing)."""

    seconds: int = 60
    steps: tuple[str, ...] = ("home", "search", "product", "checkout")
    probes: int = 2
    rps: int = 40
    load: bool = True
    fault: tuple[float, float] | None = (20.3, 40.2)
    failing_step: str = "checkout"
    abort_at: float | None = None
    environment: dict[str, Any] | None = field(default_factory=lambda: {
        "harness_version": "0.1.0", "user": "sre", "host": "ci-1", "seed": 7, "cluster_version": "v1.30.2",
        "node_versions": {"v1.30.2": 6}, "images": {"shop/checkout": "shop/checkout:2.4.1"}})

    def slos(self) -> tuple[SloSpec, ...]:
        out = [SloSpec(name=f"{self.steps[0]}-latency", sli=f"step.{self.steps[0]}.p95", objective="<= 250ms",
                       window="fault")]
        if self.load:
            out.insert(0, SloSpec(name="availability", sli="load.success_ratio", objective=">= 95%"))
        if self.probes:
            out.append(SloSpec(name="probe-up", sli="probe.probe-0.success_ratio", objective=">= 90%"))
        return (*out, SloSpec(name="recovery", sli="recovery_time", objective="<= 30s"))


def _hist(rng: random.Random, ms: float, n: int) -> dict[str, object]:
    """``n`` latencies around ``ms``, a few of them slow."""
    h = Histogram()
    for _ in range(n):
        h.add(ms * rng.lognormvariate(0.0, 0.35))
    return h.to_json()


def _second_load(sc: Scenario, rng: random.Random, s: int, in_fault: bool) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for i, step in enumerate(sc.steps):
        req = max(1, int(sc.rps / len(sc.steps) * rng.uniform(0.7, 1.3)))
        fail = req if in_fault and step == sc.failing_step else 0
        ms = (30 + 8 * i) * (2.5 if in_fault and i == 0 else 1.0)
        steps[step] = {"requests": req, "failures": fail, "hist": _hist(rng, ms, req - fail)}
    total = Histogram.merged(Histogram.from_json(v["hist"]) for v in steps.values())
    return {"t": START + s, "requests": sum(v["requests"] for v in steps.values()),
            "failures": sum(v["failures"] for v in steps.values()), "hist": total.to_json(), "users": 30, "steps": steps}


def _events(sc: Scenario) -> list[dict[str, Any]]:
    end = sc.abort_at if sc.abort_at is not None else float(sc.seconds) - 0.5
    ev: list[dict[str, Any]] = [
        {"ts": START + 0.1, "type": "run.started", "name": SyntheticExperiment.name, "target": "sandbox",
         "connection": {"kind": "sandbox", "project": "sandbox-project", "region": "europe-west1"},
         "plan": [{"id": "partner-down", "kind": "partner-outage", "targets": ["toxiproxy/payment-partner"],
                   "notes": ["disables the proxy for 20 s"]}] if sc.fault else []},
        {"ts": START + 0.2, "type": "phase", "phase": "baseline"}]
    if sc.environment is not None:
        ev[0]["environment"] = sc.environment
    if sc.fault and (sc.abort_at is None or sc.abort_at > sc.fault[0]):
        f0, f1 = sc.fault
        ev += [{"ts": START + f0 - 0.1, "type": "phase", "phase": "fault"},
               {"ts": START + f0, "type": "fault.undo", "id": "partner-down", "kind": "partner-outage", "undo": {}},
               {"ts": START + f0 + 0.01, "type": "fault.injected", "id": "partner-down", "kind": "partner-outage",
                "targets": ["toxiproxy/payment-partner"]},
               {"ts": START + f1, "type": "fault.reverted", "id": "partner-down", "kind": "partner-outage",
                "targets": ["toxiproxy/payment-partner"], "measurements": {"proxy": "payment-partner"}},
               {"ts": START + f1 + 0.01, "type": "phase", "phase": "recovery"}]
    if sc.abort_at is not None:
        ev += [{"ts": START + sc.abort_at - 0.01, "type": "guard.fired", "guard": "error-ratio",
                "sli": "load.error_ratio", "reason": "load.error_ratio above 0.25 for 3 s"},
               {"ts": START + sc.abort_at, "type": "run.aborted", "reason": "guard: error-ratio", "status": "aborted",
                "phase": [e for e in ev if e["type"] == "phase"][-1]["phase"]}]
    return ev + [{"ts": START + end, "type": "run.stopping"}]


def write_synthetic_run(run_dir: Path, sc: Scenario | None = None, seed: int = 7,
                        streamed: Callable[[], None] | None = None) -> Path:
    """A complete run folder for ``sc``: experiment.yaml, events.jsonl, timeline.jsonl, run.json
    (``streamed`` is called between writing the timeline and evaluating the folder)."""
    from harness.report.runfolder import evaluate_folder

    sc = sc or Scenario()
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    events = _events(sc)
    with open(run_dir / "events.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
    last = float(events[-1]["ts"]) - START
    writer = TimelineWriter(run_dir / "timeline.jsonl", start=START)
    for e in events:
        writer.add_event({k: v for k, v in e.items() if k not in ("plan", "connection", "undo", "environment")})
        if e["type"] == "phase":
            writer.set_phase(e["phase"], e["ts"])
    for s in range(int(last) + 1):
        in_fault = sc.fault is not None and sc.fault[0] <= s + 0.5 < sc.fault[1]
        if sc.load and s >= 1:
            writer.add_load(_second_load(sc, rng, s, in_fault))
        for p in range(sc.probes):
            ok = not (in_fault and p == 0)
            writer.add_probe(f"probe-{p}", START + s + 0.5, ok, rng.uniform(5, 15) if ok else None)
        writer.flush(now=START + s + 1)  # as the run's watch does every half second: seconds are streamed out
    writer.close(end=START + last)
    if streamed is not None:
        streamed()
    exp = SyntheticExperiment(slos=sc.slos())
    (run_dir / "experiment.yaml").write_text(f"name: {exp.name}\ntitle: {exp.title}\n", encoding="utf-8")
    extra = {"status": "aborted", "aborted_by": "guard: error-ratio"} if sc.abort_at is not None else {}
    run = evaluate_folder(run_dir, exp, extra)
    (run_dir / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n", encoding="utf-8")
    return run_dir


def figures() -> list[dict[str, Any]]:
    """The time to render report.html for a synthetic 60-minute run, as a `make bench` row (name, value,
    unit, goal, anchor)."""
    t0 = time.perf_counter()
    from harness.report.html import render_html

    imported = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        sc = Scenario(seconds=3600, steps=STEPS, probes=4, fault=(1200.3, 2400.2))
        run_dir = write_synthetic_run(Path(tmp) / "run", sc)
        size = (run_dir / "timeline.jsonl").stat().st_size
        t1 = time.perf_counter()
        out = render_html(run_dir)
        took = time.perf_counter() - t1
        return [{"name": f"report.html, 60-minute run ({len(sc.steps)} steps, {sc.probes} probes)", "value": took,
                 "unit": "s", "goal": "<= 2 s",
                 "anchor": f"timeline {size / 1e6:.1f} MB, report {out.stat().st_size / 1e3:.0f} kB; "
                           f"importing matplotlib and the report: {imported:.2f} s (not counted)"}]


def main() -> None:
    """Print the time to render report.html for a synthetic 60-minute run."""
    for f in figures():
        print(f"{f['name']}: {f['value']:.2f} {f['unit']} (goal {f['goal']}; {f['anchor']})")


if __name__ == "__main__":
    main()
