"""The commands over past runs: `harness runs`, `harness compare` and `harness digest`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli.common import EXIT_INVALID, EXIT_OK, err


def add_parsers(sub: Any) -> None:
    r = sub.add_parser("runs", help="list past runs from the reports folder")
    r.add_argument("--reports", default="reports", help="the reports folder (default reports/)")
    r.add_argument("--experiment", default=None, help="only this experiment (its name)")
    r.add_argument("--tag", default=None, help="only experiments with this tag")
    r.add_argument("--target", default=None, help="only runs against this target")
    r.add_argument("--since", default=None, help="only runs started since: 7d, 12h, 2w or an ISO date")
    r.add_argument("--status", default=None, help="only these statuses, e.g. failed or aborted,error")
    r.set_defaults(fn=cmd_runs)
    c = sub.add_parser("compare", help="two runs side by side: SLIs, detection, recovery, app versions")
    c.add_argument("run_a", help="a run folder, or its name inside --reports")
    c.add_argument("run_b")
    c.add_argument("--reports", default="reports")
    c.add_argument("--format", choices=["md", "html"], default="md")
    c.add_argument("--out", default=None, help="write to this file instead of printing")
    c.set_defaults(fn=cmd_compare)
    d = sub.add_parser("digest", help="the weekly review pack: digest.html and digest.md over past runs")
    d.add_argument("--since", default="7d", help="the period's start: 7d, 2w or an ISO date (default 7d)")
    d.add_argument("--reports", default="reports", help="the reports folder (default reports/)")
    d.add_argument("--out", default=None, help="where to write (default <reports>/digest-<ISO week>/)")
    d.set_defaults(fn=cmd_digest)


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}s"


def cmd_runs(args: argparse.Namespace) -> int:
    from harness.report.history import load_history, parse_since, select

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        err(f"--since: {exc}")
        return EXIT_INVALID
    entries = select(load_history(Path(args.reports)), experiment=args.experiment, tag=args.tag, since=since,
                     status=args.status, target=args.target)
    if not entries:
        print(f"no runs in {args.reports} match")
        return EXIT_OK
    header = ("started", "experiment", "target", "status", "detect", "recover", "avail", "folder")
    table = [header] + [(e.started[:19].replace("T", " "), e.name, e.target, e.status.upper(),
                         _secs(e.detection_seconds), _secs(e.recovery_seconds),
                         "—" if e.availability is None else f"{e.availability * 100:.2f}%", e.folder)
                        for e in entries]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from harness.report.compare import to_html, to_markdown
    from harness.report.history import read_entry, resolve_run

    reports = Path(args.reports)
    entries = []
    for ref in (args.run_a, args.run_b):
        try:
            entry = read_entry(resolve_run(reports, ref))
        except FileNotFoundError as exc:
            err(str(exc))
            return EXIT_INVALID
        if entry is None:
            err(f"{ref}: run.json is unreadable")
            return EXIT_INVALID
        entries.append(entry)
    text = (to_html if args.format == "html" else to_markdown)(entries[0], entries[1])
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(args.out)
    else:
        print(text, end="")
    return EXIT_OK


def cmd_digest(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from harness.report.digest import build_digest
    from harness.report.digest_render import default_out, write_digest
    from harness.report.history import load_history, parse_since

    until = datetime.now(UTC)
    try:
        since = parse_since(args.since, now=until)
    except ValueError as exc:
        err(f"--since: {exc}")
        return EXIT_INVALID
    reports = Path(args.reports)
    digest = build_digest(load_history(reports), since, until)
    html, md = write_digest(digest, reports, Path(args.out) if args.out else default_out(reports, until))
    print(f"digest of {len(digest.period_runs)} run(s) since {since:%Y-%m-%d %H:%M} UTC:")
    print(f"  {html}")
    print(f"  {md}")
    return EXIT_OK
