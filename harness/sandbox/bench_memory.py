"""`make bench`, harness memory: peak RSS of a 60-minute-equivalent run ÷ a 1-minute run.

Compressed time: each run is fast-forwarded in a fresh process by ``harness.report.bench_report``'s
``write_synthetic_run`` — the run's own TimelineWriter streams one record per second (8 journey
steps, 4 probes, ~40 req/s), the journal is written, and ``evaluate_folder`` computes run.json from the
folder as a run's end does. No Locust processes, probes or sockets run: what is measured is what grows
with a run's length in the harness process (timeline, journal, evaluation).

    python -m harness.sandbox.bench_memory 3600   # prints the child's peak RSS in kB
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from .bench_table import Row


def _child(seconds: int) -> None:
    from harness.report.bench_report import STEPS, Scenario, write_synthetic_run

    with tempfile.TemporaryDirectory() as d:
        fault = (seconds / 3 + 0.3, 2 * seconds / 3 + 0.2)
        write_synthetic_run(Path(d) / "run", Scenario(seconds=seconds, steps=STEPS, probes=4, fault=fault))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def peak_rss_kb(seconds: int) -> int:
    """Peak RSS (kB) of a fresh process that fast-forwards a run of ``seconds``."""
    out = subprocess.run([sys.executable, "-m", "harness.sandbox.bench_memory", str(seconds)], capture_output=True,
                         text=True, timeout=600, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def bench_memory() -> list[Row]:
    short, long = peak_rss_kb(60), peak_rss_kb(3600)
    return [Row("harness RSS, 60-minute run ÷ 1-minute run", long / short, "×", "<= 1.5× (flat: streamed)",
                f"{long / 1024:.0f} MB vs {short / 1024:.0f} MB peak RSS; compressed time: synthetic per-second "
                "records through the run's TimelineWriter, journal and evaluate_folder, no Locust/probes")]


if __name__ == "__main__":
    _child(int(sys.argv[1]))
