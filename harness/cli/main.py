"""The parser and the one place library errors become exit codes:
0 all SLOs met · 1 an SLO was breached · 2 invalid input or refused, nothing injected ·
3 aborted or interrupted, every fault reverted · 4 a revert failed, a human must act."""

from __future__ import annotations

import argparse
import os
import sys

from harness.cli import doctor, experiments, freeze, gameday, gate, history, loadworker, rbac, sandbox
from harness.cli.common import EXIT_ABORTED, EXIT_INVALID, EXIT_OK, EXIT_REVERT, err
from harness.errors import HarnessError, InvalidExperiment, Refused, RevertFailed, SandboxError

USER_HELP = """Prove the shop survives failure: run YAML experiments that break things (pods, zones, databases,
partners) under Locust load, judge SLOs on what shoppers saw, and always revert.

  harness sandbox up                        start the local simulated GKE (no cloud account needed)
  harness validate experiments/             check experiment files; touches nothing
  harness doctor experiments/               check every endpoint and permission they need (exit 2 if not)
  harness plan experiments/X.yaml           show what would be hit, when, and what each SLO needs
  harness run experiments/X.yaml            run it; one folder in reports/ with summary.md
  harness rollback reports/<run>            after a crash: revert what is still injected
  harness gate experiments/X.yaml           run it and fail on a regression against the last good run
  harness runs --since 7d                   past runs; `harness compare A B` puts two side by side
  harness digest --since 7d                 the weekly review pack (digest.html, digest.md)
  harness gameday run experiments/gamedays/X.yaml   a game day: experiments in order, one folder linking them
  harness freeze                            upcoming freeze windows (nothing runs inside one)
  harness rbac experiments/                 the least-privilege RBAC those experiments need (deploy/rbac.yaml)"""

EXIT_HELP = """exit codes: 0 every SLO met · 1 an SLO breached or inconclusive · 2 invalid input or refused,
nothing injected · 3 aborted, interrupted or a harness error, every fault reverted · 4 a revert failed:
something is still injected and the message says what"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harness", description=USER_HELP, epilog=EXIT_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sandbox.add_parsers(sub)
    experiments.add_parsers(sub)
    history.add_parsers(sub)
    gate.add_parsers(sub)
    gameday.add_parsers(sub)
    freeze.add_parsers(sub)
    rbac.add_parsers(sub)
    doctor.add_parsers(sub)
    loadworker.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.fn(args))
    except InvalidExperiment as exc:
        for problem in exc.problems:
            err(str(problem))
        code = EXIT_INVALID
    except Refused as exc:
        err(f"refused: {exc}")
        code = EXIT_INVALID
    except RevertFailed as exc:
        err("REVERT FAILED — still injected, a human must act:")
        for item in exc.still_injected:
            err(f"  {item}")
        code = EXIT_REVERT
    except SandboxError as exc:
        err(f"sandbox: {exc}")
        code = EXIT_INVALID
    except HarnessError as exc:
        err(f"error: {exc}")
        code = EXIT_ABORTED
    except KeyboardInterrupt:
        code = EXIT_ABORTED
    return code


def entry() -> None:
    """Console script: exit with main()'s code (quietly when the reader of stdout went away, as `| head`)."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)
