"""`make demo`: bring the sandbox up, run the demo game day (experiments/gamedays/demo.yaml), print where
its reports are, take the sandbox down."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from harness.cli import main as harness

DEMO_GAMEDAY = "experiments/gamedays/demo.yaml"


def demo() -> int:
    from harness.sandbox import manage

    t0 = time.monotonic()
    print("== bringing the sandbox up (a simulated three-zone GKE on loopback)")
    eps = manage.up(Path(".sandbox"))
    print(f"   ready in {time.monotonic() - t0:.1f}s: site {eps['ingress']}, kubeconfig {eps['kubeconfig']}")
    harness(["sandbox", "status"])
    before = set(Path("reports").glob("*-gameday-demo*"))
    try:
        print(f"\n== game day {DEMO_GAMEDAY}")
        worst = harness(["gameday", "run", DEMO_GAMEDAY])
    finally:
        print("\n== taking the sandbox down")
        manage.down(Path(".sandbox"))
    for folder in sorted(set(Path("reports").glob("*-gameday-demo*")) - before):
        print(f"\n== game day done: {folder}/report.html (summary.md, gameday.json beside it); its runs:")
        state = json.loads((folder / "gameday.json").read_text())
        for run in state.get("runs", []):
            print(f"   {run.get('run_dir') or run['name']}/report.html  ({run['status']})")
    print("\n== the review pack across these runs")
    harness(["digest", "--since", "1d"])
    return worst


if __name__ == "__main__":
    sys.exit(demo())
