"""`harness sandbox up|down|status|config`: the local simulated GKE."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli.common import EXIT_OK, EXIT_SLO


def add_parsers(sub: Any) -> None:
    sb = sub.add_parser("sandbox", help="start, stop or check the local simulated GKE")
    sb.add_argument("action", choices=["up", "down", "status", "config"])
    sb.add_argument("--dir", default=".sandbox", help="sandbox folder (default .sandbox)")
    sb.add_argument("--config", default=None, help="sandbox config YAML (see `harness sandbox config`)")
    sb.set_defaults(fn=cmd_sandbox)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from harness.sandbox import manage  # the CLI (not the engine) may import the sandbox

    directory = Path(args.dir)
    if args.action == "up":
        eps = manage.up(directory, Path(args.config) if args.config else None)
        print(f"sandbox up: site {eps['ingress']}  kubernetes {eps['kubernetes']}")
        print(f"  kubeconfig {eps['kubeconfig']}  endpoints {directory / 'endpoints.json'}")
        return EXIT_OK
    if args.action == "down":
        print("sandbox down" if manage.down(directory) else "no sandbox was running")
        return EXIT_OK
    if args.action == "config":
        from harness.sandbox.config import dump_defaults

        print(dump_defaults())
        return EXIT_OK
    status = manage.status(directory)
    ok = True
    for name, health in status["components"].items():
        ok = ok and bool(health.get("ok"))
        detail = ", ".join(f"{k}={v}" for k, v in health.items() if k != "ok")
        print(f"{'OK  ' if health.get('ok') else 'FAIL'} {name:<11} {detail}")
    return EXIT_OK if ok else EXIT_SLO
