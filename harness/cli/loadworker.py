"""``harness load-worker --master HOST:PORT [--journeys FILE]``: lend this machine's cores to a run's
load (an experiment with ``load: {remote_workers: N, master_bind: 0.0.0.0, master_port: PORT}``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.errors import InvalidExperiment, Problem
from harness.load.remote import DEFAULT_JOURNEYS, exec_worker


def add_parsers(sub: Any) -> None:
    w = sub.add_parser("load-worker", help="run a Locust worker for a harness run's master (remote load)")
    w.add_argument("--master", required=True, help="HOST:PORT of the run's Locust master (load.master_port)")
    w.add_argument("--journeys", type=Path, default=DEFAULT_JOURNEYS,
                   help=f"Locust journeys file, the same as the experiment's (default {DEFAULT_JOURNEYS})")
    w.add_argument("--max-seconds", type=float, default=86400.0, help="hard limit on the worker's life")
    w.add_argument("--master-timeout", type=float, default=60.0,
                   help="exit when the master has been silent this long once connected")
    w.set_defaults(fn=cmd_load_worker)


def cmd_load_worker(args: argparse.Namespace) -> int:
    """Become the worker process (returns only on bad input)."""
    try:
        exec_worker(args.master, args.journeys, args.max_seconds, args.master_timeout)
    except (ValueError, FileNotFoundError) as exc:
        raise InvalidExperiment([Problem("load-worker", None, "", str(exc))]) from exc
    return 0
