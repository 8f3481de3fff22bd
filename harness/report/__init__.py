"""Reports rendered from a run folder (run.json, events.jsonl, timeline.jsonl); they only render."""

from __future__ import annotations

from harness.report.summary import render_summary

__all__ = ["render_summary"]
