"""`make demo`: bring the sandbox up, run a small game day, print where the reports are, take it down."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness.cli import main as harness

DEMO_EXPERIMENTS = ("experiments/checkout-pod-kill.yaml", "experiments/catalog-scale-down.yaml")


def demo() -> int:
    from harness.sandbox import manage

    t0 = time.monotonic()
    print("== bringing the sandbox up (a simulated three-zone GKE on loopback)")
    eps = manage.up(Path(".sandbox"))
    print(f"   ready in {time.monotonic() - t0:.1f}s: site {eps['ingress']}, kubeconfig {eps['kubeconfig']}")
    harness(["sandbox", "status"])
    worst = 0
    reports: list[str] = []
    try:
        for exp in DEMO_EXPERIMENTS:
            print(f"\n== running {exp}")
            before = set(Path("reports").glob("*"))
            worst = max(worst, harness(["run", exp]))
            reports += [str(p) for p in sorted(set(Path("reports").glob("*")) - before)]
    finally:
        print("\n== taking the sandbox down")
        manage.down(Path(".sandbox"))
    print("\n== game day done; reports:")
    for r in reports:
        print(f"   {r}/report.html")
    print("\n== the review pack across these runs")
    harness(["digest", "--since", "1d"])
    return worst


if __name__ == "__main__":
    sys.exit(demo())
