"""`make bench`, harness memory: peak RSS of a 60-minute-equivalent run ÷ a 1-minute run.

Compressed time: each run is fast-forwarded in a fresh process by ``harness.report.bench_report``'s
``write_synthetic_run`` — the run's own TimelineWriter takes one record per second (8 journey
steps, 4 probes, ~40 req/s) and flushes each second out as the run's watch does, the journal is written,
and ``evaluate_folder`` computes run.json from the folder as a run's end does. (Without the flushes every
second would stay buffered until close: an earlier version of this bench measured that, 1.76×.) No Locust processes, probes or sockets run: what is measured is what grows
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


def _peak() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _child(seconds: int) -> None:
    from harness.report.bench_report import STEPS, Scenario, write_synthetic_run

    during: list[int] = []
    with tempfile.TemporaryDirectory() as d:
        fault = (seconds / 3 + 0.3, 2 * seconds / 3 + 0.2)
        write_synthetic_run(Path(d) / "run", Scenario(seconds=seconds, steps=STEPS, probes=4, fault=fault),
                            streamed=lambda: during.append(_peak()))
    print(during[0], _peak())


def peak_rss_kb(seconds: int) -> tuple[int, int]:
    """Peak RSS (kB) of a fresh process that fast-forwards a run of ``seconds``: while the timeline is
    streamed (the run itself), and after the end-of-run evaluation."""
    out = subprocess.run([sys.executable, "-m", "harness.sandbox.bench_memory", str(seconds)], capture_output=True,
                         text=True, timeout=600, check=True)
    during, after = out.stdout.strip().splitlines()[-1].split()
    return int(during), int(after)


def bench_memory() -> list[Row]:
    (short_run, short_end), (long_run, long_end) = peak_rss_kb(60), peak_rss_kb(3600)
    how = ("compressed time: synthetic per-second records through the run's TimelineWriter and journal, "
           "no Locust/probes")
    return [
        Row("harness RSS while running, 60-minute run ÷ 1-minute run", long_run / short_run, "×",
            "<= 1.1× (flat: the timeline is streamed)",
            f"{long_run / 1024:.0f} MB vs {short_run / 1024:.0f} MB peak RSS; {how}"),
        Row("harness RSS with the end-of-run evaluation, 60-minute ÷ 1-minute", long_end / short_end, "×",
            "<= 1.1×", f"{long_end / 1024:.0f} MB vs {short_end / 1024:.0f} MB peak RSS after evaluate_folder "
            "(SLIs, breakdown) read the timeline back"),
    ]


if __name__ == "__main__":
    _child(int(sys.argv[1]))
