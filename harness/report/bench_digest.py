"""`make bench`: the digest of 200 run folders (goal ≤ 3 s, memory flat in the number of runs).

Generates synthetic run folders (run.json and events.jsonl as a run writes them) over twelve weeks for
seven experiments, then times a cold digest (no index: every run.json read) and a warm one (the index
reused), and measures peak Python memory with 50 and with 200 folders.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness.report.digest import build_digest
from harness.report.digest_render import write_digest
from harness.report.history import load_history

EXPERIMENTS = ["checkout-pod-kill", "catalog-scale-down", "db-latency-checkout", "payment-partner-outage",
               "pg-connection-exhaustion", "zone-drain-europe-west1-b", "zone-outage-europe-west1-c"]


def make_folders(root: Path, count: int, now: datetime, seed: int = 7) -> None:
    rng = random.Random(seed)
    for i in range(count):
        started = now - timedelta(days=84 * (count - i) / count)
        name = EXPERIMENTS[i % len(EXPERIMENTS)]
        folder = root / f"{started:%Y%m%dT%H%M%S}{i:03d}Z-{name}"
        folder.mkdir(parents=True)
        p95 = rng.uniform(0.1, 0.4)
        run = {"name": name, "title": name, "owner": "team", "tags": ["gameday"], "target": "staging",
               "status": rng.choice(["passed"] * 8 + ["failed", "aborted"]), "exit_code": 0,
               "started": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
               "ended": (started + timedelta(minutes=5)).isoformat(), "detection_seconds": rng.uniform(0.5, 4),
               "recovery_seconds": rng.uniform(2, 20),
               "slos": [{"name": f"slo-{k}", "sli": "step.checkout.p95", "objective": "<= 1s", "window": "fault",
                         "status": "pass", "measured": p95, "display": f"{p95 * 1000:.0f} ms"} for k in range(6)],
               "error_budget": {"availability": rng.uniform(0.97, 1.0), "share_of_month_budget": rng.uniform(0, 0.01)},
               "environment": {"images": {f"shop/svc{k}": f"shop/svc{k}:1.{i // 20}" for k in range(8)}},
               "breakdown": {f"step.s{k}": {ph: {"requests": 1000, "failures": rng.randint(0, 20), "p95": p95}
                                            for ph in ("baseline", "fault", "recovery")} for k in range(8)},
               "faults": [{"kind": "pod-kill"}], "still_injected": []}
        (folder / "run.json").write_text(json.dumps(run))
        (folder / "events.jsonl").write_text("".join(json.dumps({"ts": t, "type": "phase"}) + "\n" for t in range(50)))


def _digest(root: Path, now: datetime) -> float:
    t0 = time.perf_counter()
    d = build_digest(load_history(root), now - timedelta(days=7), now)
    write_digest(d, root, root / "digest")
    return time.perf_counter() - t0


def figures() -> list[dict[str, Any]]:
    """The digest's `make bench` rows (name, value, unit, goal, anchor): cold and warm digest of 50 and
    200 run folders, with the peak Python memory of reading the history."""
    now = datetime.now(UTC)
    import harness.report.trends  # noqa: F401 - matplotlib's import is not the digest's time
    rows: list[dict[str, Any]] = []
    for count in (50, 200):
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            make_folders(root, count, now)
            cold = _digest(root, now)
            warm = _digest(root, now)
            (root / ".index.json").unlink()
            tracemalloc.start()  # slows Python several times: timed apart
            load_history(root)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rows.append({"name": f"digest of {count} run folders, cold", "value": cold, "unit": "s",
                         "goal": "<= 3 s", "anchor": f"warm (index reused) {warm:.2f} s; peak Python memory "
                                                     f"reading the history {peak / 1e6:.1f} MB"})
    return rows


def main() -> None:
    for f in figures():
        print(f"{f['name']}: {f['value']:.2f} {f['unit']} (goal {f['goal']}; {f['anchor']})")


if __name__ == "__main__":
    main()
