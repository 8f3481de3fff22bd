"""Reports rendered from a run folder (run.json, events.jsonl, timeline.jsonl); they only render, so a
report can always be rebuilt from the folder: `runfolder` (the folder and its verdict), `summary`,
`html` with its `series` and `charts`, the `console` live view, and across runs `history`, `compare`,
`regress`, `gate`, `trends` and the `digest`.

It may import the layers below it (faults, probes, clients, spec, measure and the shared utilities;
today `spec`, `measure`, `journal` and `events`), never `load`, its sibling layer, nor the plan, the run
or the CLI above it.
"""

from __future__ import annotations

from harness.report.summary import render_summary

__all__ = ["render_summary"]
