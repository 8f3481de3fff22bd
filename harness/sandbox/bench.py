"""`make bench`: the figures a user chooses a chaos harness by, in ONE table (value, goal, and the anchor
measured in the same run where there is one), also written as ``reports/bench-<date>.json``.

    python -m harness.sandbox.bench [--only load,memory,truth,scale,report] [--reports DIR]

Sections (each a module of its own; one that fails gives a row saying so, the others still run):
- load: harness-driven requests/s ÷ plain ``locust --headless`` against nginx, 1 and 2 processes
- memory: harness peak RSS, 60-minute-equivalent run ÷ 1-minute run (compressed time)
- truth: detection and recovery error against the sandbox's ground truth; default sandbox start time
- scale: 5,003 pods: list, pod-kill 30 %, zone-drain of 100 nodes vs kubectl drain
- report: report.html and digest render times

Figures are measured on whatever machine runs them, with whatever else it runs: on a shared 2-core
machine they are noisy.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from .bench_table import Row, table, write_json


def _report_rows() -> list[Row]:
    from harness.report import bench_digest, bench_report

    return [Row(**f) for f in bench_report.figures() + bench_digest.figures()]


def _load() -> list[Row]:
    from .bench_load import bench_load

    return bench_load()


def _memory() -> list[Row]:
    from .bench_memory import bench_memory

    return bench_memory()


def _truth() -> list[Row]:
    from .bench_truth import bench_truth

    return bench_truth()


def _scale() -> list[Row]:
    from .bench_scale import bench_scale

    return bench_scale()


SECTIONS: dict[str, Callable[[], list[Row]]] = {
    "load": _load, "memory": _memory, "truth": _truth, "scale": _scale, "report": _report_rows}


def collect(names: list[str], say: Callable[[str], None]) -> list[Row]:
    """Run the named sections in order; a section that raises becomes one row naming its error."""
    rows: list[Row] = []
    for name in names:
        t0 = time.perf_counter()
        say(f"bench: {name} ...")
        try:
            rows += SECTIONS[name]()
        except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others' figures
            traceback.print_exc(file=sys.stderr)
            rows.append(Row(f"{name}: failed", None, anchor=f"{type(exc).__name__}: {exc}"[:300]))
        say(f"bench: {name} done in {time.perf_counter() - t0:.0f} s")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.sandbox.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"sections, comma-separated ({', '.join(SECTIONS)})")
    ap.add_argument("--reports", type=Path, default=Path("reports"), help="where bench-<date>.json goes")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    err = Console(stderr=True)
    t0 = time.perf_counter()
    rows = collect(names, lambda s: err.print(s, style="dim"))
    total = time.perf_counter() - t0
    rows.append(Row("make bench: total time", total, "s", "<= 15 min (900 s)", f"sections: {', '.join(names)}"))
    when = datetime.now(UTC)
    Console(width=max(160, Console().width)).print(table(rows, f"make bench, {when:%Y-%m-%d %H:%M} UTC"))
    path = write_json(rows, args.reports, when, total)
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
