"""`make bench`, measurement: detection and recovery error against the sandbox's ground truth.

The approach of tests/e2e/test_ground_truth.py: a run on the default sandbox, its first action and
revert from the journal, the catalog's outage and return from the sandbox's ``truth.jsonl``
(``service_down_and_back``); error = harness − truth. Faults: every catalog pod killed (``pod-kill``,
grace 0, one shot) and catalog scaled to 0 for 5 s; observers: a probe at 2 req/s and Locust at a few
hundred req/s. Also times the default sandbox's start and stop.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.journal import read_journal

from .bench_table import Row

_EXPERIMENT = """name: bench-truth
title: catalog out and back
target: sandbox
steady_state: {{before: false, after: false}}
{observe}
timeline:
  baseline: 3s
  faults:
    - {{at: 0s, name: catalog-out, {fault}}}
  recovery: 20s
safety: {{max_pods_fraction: 1.0, allowed_namespaces: [shop]}}
"""
FAULTS = {
    "pod-kill": "pod-kill: {namespace: shop, selector: app=catalog, fraction: 1.0, grace_period: 0}",
    "deployment-scale": "deployment-scale: {namespace: shop, name: catalog, replicas: 0, duration: 5s}",
}
OBSERVERS = {
    "probe 2 req/s": """probes:
  - {{name: catalog, every: 0.5s, timeout: 2s, http: {{url: "/api/catalog/products?limit=2"}}}}
slos:
  - {{name: up, sli: probe.catalog.success_ratio, objective: ">= 99%", window: baseline, min_samples: 4}}
  - {{name: recovery, sli: recovery_time, objective: "<= 30s", consecutive: 2}}""",
    "Locust 40 users": """load: {{journeys: {journeys}, users: 40, spawn_rate: 40, think_time: 0.1s..0.3s, workers: 1}}
slos:
  - {{name: up, sli: step.catalog.api.success_ratio, objective: ">= 90%", window: baseline}}
  - {{name: recovery, sli: recovery_time, objective: "<= 30s", consecutive: 2}}""",
}
JOURNEYS = Path(__file__).resolve().parents[2] / "probes" / "journeys" / "storefront.py"


def _one(root: Path, fault: str, observer: str) -> Row:
    from harness.sandbox.core.truth import read_truth, service_down_and_back

    name = f"ground truth, {fault}, {observer}: max |harness − truth|"
    exp = root / "truth.yaml"
    exp.write_text(_EXPERIMENT.format(observe=OBSERVERS[observer].format(journeys=JOURNEYS), fault=FAULTS[fault]))
    before = set((root / "reports").glob("*")) if (root / "reports").exists() else set()
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--reports", str(root / "reports"), str(exp)],
                          cwd=root, capture_output=True, text=True, timeout=300, check=False)
    new = sorted(set((root / "reports").glob("*")) - before)
    if not new:
        return Row(name, None, "s", anchor=f"the run did not start: {proc.stderr.strip()[-200:]}")
    folder = new[-1]
    run = json.loads((folder / "run.json").read_text())
    events = read_journal(folder / "events.jsonl")
    first = min(e["ts"] for e in events if e["type"] == "fault.undo")
    revert = next(e["ts"] for e in events if e["type"] == "fault.reverted")
    down, back = service_down_and_back(read_truth(root / "sbx" / "truth.jsonl"), "catalog", first, revert)
    rec = run.get("recovery") or {}
    if down is None or back is None or rec.get("recovery_seconds") is None:
        return Row(name, None, "s", "<= 1 s", f"not measured: {rec.get('reason') or 'no outage in the truth'}")
    det_err = rec["detection_seconds"] - (down - first)
    rec_err = rec["recovery_seconds"] - (back - revert)
    return Row(name, max(abs(det_err), abs(rec_err)), "s", "<= 1 s each",
               f"detection {det_err:+.2f} s, recovery {rec_err:+.2f} s (harness {rec['detection_seconds']:.2f} / "
               f"{rec['recovery_seconds']:.2f} s, truth {down - first:.2f} / {back - revert:.2f} s)")


def bench_truth() -> list[Row]:
    from harness.sandbox import manage

    rows = []
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        t0 = time.perf_counter()
        manage.up(root / "sbx", timeout=180)
        up = time.perf_counter() - t0
        try:
            (root / "targets.yaml").write_text(f"targets:\n  sandbox: {{kind: sandbox, endpoints_file: "
                                               f"{root / 'sbx' / 'endpoints.json'}}}\n")
            for fault in FAULTS:
                for observer in OBSERVERS:
                    rows.append(_one(root, fault, observer))
                    time.sleep(3)  # catalog back to its replicas before the next run's baseline
        finally:
            t0 = time.perf_counter()
            manage.down(root / "sbx")
            rows.insert(0, Row("sandbox up, default topology (6 nodes, 12 pods, PostgreSQL)", up, "s",
                               anchor=f"down in {time.perf_counter() - t0:.1f} s"))
    return rows
