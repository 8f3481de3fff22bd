"""Trend charts of the digest: one small-multiples figure per experiment, runs over the last weeks.

Recovery and detection time, the p95 of all requests in the fault window, availability and the share of
the month's error budget, each run a point (failed runs in red), the weekly median a line, the digest's
period shaded. Drawn with matplotlib's object API (no pyplot state) into inline SVG.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from statistics import median

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from harness.report.history import RunEntry

Getter = Callable[[RunEntry], float | None]


def _fault_p95(e: RunEntry) -> float | None:
    value = ((e.phases.get("load") or {}).get("fault") or {}).get("p95")
    return float(value) * 1000 if isinstance(value, int | float) else None


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100


PANELS: list[tuple[str, Getter]] = [
    ("recovery (s)", lambda e: e.recovery_seconds),
    ("detection (s)", lambda e: e.detection_seconds),
    ("p95 in fault window (ms)", _fault_p95),
    ("availability (%)", lambda e: _pct(e.availability)),
    ("error budget (% of month)", lambda e: _pct(e.budget_share)),
]


def _week(dt: datetime) -> datetime:
    start = dt - timedelta(days=dt.weekday())
    return start.replace(hour=0, minute=0, second=0, microsecond=0)


def _panel(ax: Axes, title: str, get: Getter, runs: list[RunEntry], since: datetime, until: datetime) -> None:
    points = [(e.started_at, get(e), e.status) for e in runs]
    shown = [(t, v, s) for t, v, s in points if t is not None and v is not None]
    ax.axvspan(since, until, color="#dbe9f6", zorder=0)  # type: ignore[arg-type]
    weekly: dict[datetime, list[float]] = defaultdict(list)
    for t, v, _ in shown:
        weekly[_week(t)].append(v)
    if weekly:
        weeks = sorted(weekly)
        ax.plot([w + timedelta(days=3.5) for w in weeks], [median(weekly[w]) for w in weeks],  # type: ignore[arg-type]
                color="#555", linewidth=1, label="weekly median")
    for ok in (True, False):
        sel = [(t, v) for t, v, s in shown if (s == "passed") == ok]
        if sel:
            ax.scatter([t for t, _ in sel], [v for _, v in sel], s=14, zorder=3,  # type: ignore[arg-type]
                       color="#2a7ab9" if ok else "#c62828", label="passed" if ok else "not passed")
    if not shown:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="#888")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.tick_params(axis="x", labelrotation=30)
    ax.grid(alpha=0.3)


def trend_svg(runs: list[RunEntry], since: datetime, until: datetime, start: datetime, key: str) -> str:
    """The figure for one experiment's runs, as an inline ``<svg>`` element; ``key`` (unique in the page)
    salts the element ids, so the same input gives the same bytes and two charts never share an id."""
    fig = Figure(figsize=(13, 2.6))
    FigureCanvasSVG(fig)
    axes = fig.subplots(1, len(PANELS))
    for ax, (title, get) in zip(axes, PANELS, strict=True):
        _panel(ax, title, get, runs, since, until)
        ax.set_xlim(start, until + (until - start) * 0.03)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper right", fontsize=7, ncols=3, frameon=False)
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.28, top=0.8, wspace=0.3)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": key}):
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return _METADATA.sub("", text[text.index("<svg"):])


_METADATA = re.compile(r"<metadata>.*?</metadata>", re.DOTALL)
"""matplotlib's RDF block (creator URLs, dates): nothing a reader needs, and not a resource anyway."""
