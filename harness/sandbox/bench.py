"""`make bench`: speed and memory figures, printed (never asserted by unit tests).

- sandbox start and stop time (default topology: 6 nodes, 12 process-backed pods, PostgreSQL)
- listing 5,000 virtual pods on 300 nodes through the official Kubernetes client
- timeline memory: a simulated hour vs ten hours of per-second records
- detection and recovery error against the sandbox's ground truth (catalog scaled to 0 and back,
  observed by a probe at 2 req/s and by Locust at a few hundred req/s)
"""

from __future__ import annotations

import json
import random
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from harness.measure.histogram import Histogram


def bench_sandbox_start() -> None:
    from harness.sandbox import manage

    with tempfile.TemporaryDirectory() as d:
        t0 = time.monotonic()
        manage.up(Path(d), timeout=180)
        up = time.monotonic() - t0
        t0 = time.monotonic()
        manage.down(Path(d))
        print(f"sandbox up (6 nodes, 12 pods, PostgreSQL, Prometheus if present): {up:.1f} s; "
              f"down {time.monotonic() - t0:.1f} s")


def bench_scale() -> None:
    from kubernetes import client, config

    from harness.sandbox import manage

    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "scale.yaml"
        cfg.write_text(
            "nodes_per_zone: 100\nprometheus: false\nnode: {cpu_millis: 64000, memory_mib: 262144}\n"
            "services:\n  - {name: storefront, replicas: 3, path_prefix: /}\n"
            "  - {name: catalog, replicas: 5000, path_prefix: /api/catalog, virtual: true, cpu_millis: 10,"
            " memory_mib: 16}\n"
        )
        t0 = time.monotonic()
        eps = manage.up(Path(d) / "sbx", cfg, timeout=600)
        print(f"sandbox with 300 nodes and 5,003 pods ready in {time.monotonic() - t0:.1f} s")
        try:
            api = config.new_client_from_config(config_file=eps["kubeconfig"])
            core = client.CoreV1Api(api)
            times = []
            for _ in range(5):
                t0 = time.monotonic()
                raw = core.list_namespaced_pod("shop", _preload_content=False)
                # _preload_content=False returns the raw urllib3 response, which the stub does not say
                n = len(json.loads(raw.data)["items"])  # type: ignore[attr-defined]
                times.append(time.monotonic() - t0)
            raw_s = sorted(times)[len(times) // 2]
            t0 = time.monotonic()
            typed = core.list_namespaced_pod("shop")
            typed_s = time.monotonic() - t0
            print(f"list {n} pods via the official client: raw JSON {raw_s * 1000:.0f} ms (median of 5); "
                  f"deserialized into models ({len(typed.items)}) {typed_s * 1000:.0f} ms")
            zone_of = {n.metadata.name: (n.metadata.labels or {}).get("topology.kubernetes.io/zone")
                       for n in core.list_node().items if n.metadata and n.metadata.name}
            per_zone = Counter(zone_of.get(p.spec.node_name) for p in typed.items if p.spec and p.spec.node_name)
            print(f"catalog spread over zones: {dict(sorted(per_zone.items()))} "
                  f"(largest minus smallest: {max(per_zone.values()) - min(per_zone.values())})")
            api.close()
        finally:
            manage.down(Path(d) / "sbx")


def _record(t: int, rng: random.Random) -> dict[str, object]:
    h = Histogram()
    for _ in range(50):
        h.add(rng.lognormvariate(4, 0.5))
    return {"t": t, "requests": 50, "failures": rng.randint(0, 2), "hist": h.to_json(), "users": 200,
            "steps": {"checkout": {"requests": 5, "failures": 0, "hist": h.to_json()}}}


def bench_timeline_memory() -> None:
    from harness.measure.timeline import TimelineWriter

    rng = random.Random(1)
    peaks = {}
    for hours in (1, 10):
        with tempfile.TemporaryDirectory() as d:
            start = 1_700_000_000
            tracemalloc.start()
            w = TimelineWriter(Path(d) / "timeline.jsonl", start=start)
            for i in range(hours * 3600):
                w.add_load(_record(start + i, rng))
                if i % 10 == 0:
                    w.flush(now=start + i)
            w.close()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            peaks[hours] = peak
    print(f"timeline peak memory: 1 h {peaks[1] / 1e6:.1f} MB, 10 h {peaks[10] / 1e6:.1f} MB (flat = streamed)")


_TRUTH_EXPERIMENT = """name: bench-truth
title: catalog off and on again
target: sandbox
steady_state: {{before: false, after: false}}
{observe}
timeline:
  baseline: 3s
  faults:
    - {{at: 0s, name: catalog-off, deployment-scale: {{namespace: shop, name: catalog, replicas: 0, duration: 5s}}}}
  recovery: 10s
safety: {{max_pods_fraction: 1.0, allowed_namespaces: [shop]}}
"""
_OBSERVERS = {
    "probe, 2 req/s": """probes:
  - {{name: catalog, every: 0.5s, timeout: 2s, http: {{url: "/api/catalog/products?limit=2"}}}}
slos:
  - {{name: up, sli: probe.catalog.success_ratio, objective: ">= 99%", window: baseline, min_samples: 4}}
  - {{name: recovery, sli: recovery_time, objective: "<= 30s", consecutive: 2}}""",
    "Locust, 60 users": """load: {{journeys: {journeys}, users: 60, spawn_rate: 60, think_time: 0.1s..0.3s, workers: 1}}
slos:
  - {{name: up, sli: step.catalog.api.success_ratio, objective: ">= 90%", window: baseline}}
  - {{name: recovery, sli: recovery_time, objective: "<= 30s", consecutive: 2}}""",
}


def bench_ground_truth() -> None:
    import subprocess
    import sys

    from harness.journal import read_journal
    from harness.sandbox import manage
    from harness.sandbox.core.truth import read_truth, service_down_and_back

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        manage.up(root / "sbx", timeout=180)
        try:
            (root / "targets.yaml").write_text(f"targets:\n  sandbox: {{kind: sandbox, endpoints_file: "
                                               f"{root / 'sbx' / 'endpoints.json'}}}\n")
            for label, observe in _OBSERVERS.items():
                exp = root / "truth.yaml"
                journeys = Path(__file__).resolve().parents[2] / "probes" / "journeys" / "storefront.py"
                exp.write_text(_TRUTH_EXPERIMENT.format(observe=observe.format(journeys=journeys)))
                before = set((root / "reports").glob("*")) if (root / "reports").exists() else set()
                proc = subprocess.run([sys.executable, "-m", "harness", "run", "--reports", str(root / "reports"),
                                       str(exp)], cwd=root, capture_output=True, text=True, timeout=300, check=False)
                new = sorted(set((root / "reports").glob("*")) - before)
                if not new:
                    print(f"ground truth ({label}): the run did not start: {proc.stderr.strip()[-300:]}")
                    continue
                folder = new[-1]
                run = json.loads((folder / "run.json").read_text())
                events = read_journal(folder / "events.jsonl")
                first = min(e["ts"] for e in events if e["type"] == "fault.undo")
                revert = next(e["ts"] for e in events if e["type"] == "fault.reverted")
                down, back = service_down_and_back(read_truth(root / "sbx" / "truth.jsonl"), "catalog", first, revert)
                rec = run.get("recovery") or {}
                if down is None or back is None or rec.get("recovery_seconds") is None:
                    print(f"ground truth ({label}): not measured ({rec.get('reason')})")
                    continue
                det_err = rec["detection_seconds"] - (down - first)
                rec_err = rec["recovery_seconds"] - (back - revert)
                rate = (run.get("load") or {}).get("requests", 0) / max(1, sum(1 for _ in open(folder / "timeline.jsonl")))
                print(f"ground truth ({label}{f', {rate:.0f} req/s' if rate else ''}): detection error "
                      f"{det_err:+.2f} s, recovery error {rec_err:+.2f} s (harness {rec['detection_seconds']:.2f} / "
                      f"{rec['recovery_seconds']:.2f} s, truth {down - first:.2f} / {back - revert:.2f} s)")
        finally:
            manage.down(root / "sbx")


def main() -> None:
    bench_timeline_memory()
    bench_ground_truth()
    bench_sandbox_start()
    bench_scale()


if __name__ == "__main__":
    main()
