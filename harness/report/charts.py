"""The charts of report.html: what shoppers saw, on one time axis shared by every chart.

``draw_charts`` draws the per-bin ``Series`` of ``harness.report.series`` with matplotlib's object API
and SVG backend (no pyplot state, no display, no network) and returns each chart as an SVG data URI,
so the report stays one self-contained file.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from harness.report.series import (
    ALL_REQUESTS,
    DEGRADED,
    FAIL,
    GOOD,
    JUDGEMENT_ROW,
    NONE,
    OK,
    UNKNOWN,
    Axis,
    Series,
)

STRIP_COLOURS: Mapping[str, str] = {OK: "#2da44e", FAIL: "#cf222e", NONE: "#e4e7eb",
                                    GOOD: "#2da44e", DEGRADED: "#cf222e", UNKNOWN: "#e4e7eb"}
"""The colour of each state in the status strips (probe results and the per-second SLO judgement)."""


@dataclass(frozen=True)
class Mark:
    """A moment drawn on every chart: ``kind`` is one of ``MARK_STYLES``."""

    x: float
    kind: str
    label: str = ""


@dataclass(frozen=True)
class FaultSpan:
    """A fault window, shaded and labelled on every chart."""

    x0: float
    x1: float
    label: str
    reverted: bool = True


@dataclass(frozen=True)
class Threshold:
    """A latency SLO's threshold, drawn on its source's panel."""

    source: str  # ALL_REQUESTS or a step name
    ms: float
    label: str


@dataclass
class Overlays:
    """Everything drawn over the data: fault windows, marks and phase boundaries."""

    faults: list[FaultSpan] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    phases: list[tuple[str, float]] = field(default_factory=list)
    thresholds: list[Threshold] = field(default_factory=list)
    error_thresholds: list[tuple[float, str]] = field(default_factory=list)  # (ratio, label)


MARK_STYLES: Mapping[str, dict[str, Any]] = {
    "action": {"color": "#9a6700", "ls": ":", "lw": 0.9, "label": "fault action"},
    "revert": {"color": "#1a7f37", "ls": "-", "lw": 1.6, "label": "revert"},
    "guard": {"color": "#cf222e", "ls": "-", "lw": 2.2, "label": "guard fired"},
    "abort": {"color": "#1f2328", "ls": "-", "lw": 2.4, "label": "abort / interrupt"},
    "error": {"color": "#8250df", "ls": "-.", "lw": 1.8, "label": "fault error / revert failed"},
    "detected": {"color": "#bc4c00", "ls": "--", "lw": 1.6, "label": "detected (first degraded second)"},
    "recovered": {"color": "#0969da", "ls": "--", "lw": 1.6, "label": "recovered"},
}
_FAULT_COLOURS = ("#fb8f44", "#a475f9", "#e85aad", "#3192aa", "#d4a72c")
_LEFT, _RIGHT, _WIDTH = 0.115, 0.985, 12.0  # identical margins: the x axes line up across charts
_RC: dict[Any, Any] = {"svg.fonttype": "none", "font.size": 9.5, "axes.titlesize": 10, "axes.titleweight": "bold",
       "axes.titlelocation": "left", "axes.spines.top": False, "axes.spines.right": False,
       "axes.grid": True, "grid.color": "#d8dee4", "grid.linewidth": 0.6, "svg.hashsalt": "report",
       "axes.titley": 1.0, "axes.titlepad": 4.0}  # a fixed title position: no costly auto layout


def _time_formatter(axis: Axis) -> FuncFormatter:
    if axis.length <= 300:
        return FuncFormatter(lambda v, _pos: f"{v:.0f} s")
    return FuncFormatter(lambda v, _pos: f"{int(v) // 60}:{int(v) % 60:02d}")


def _decorate(ax: Axes, axis: Axis, ov: Overlays, label_faults: bool) -> None:
    """Shade fault windows, draw phase boundaries and marks; same x range on every axes."""
    ax.set_xlim(0, axis.length)
    ax.xaxis.set_major_formatter(_time_formatter(axis))
    for i, span in enumerate(ov.faults):
        colour = _FAULT_COLOURS[i % len(_FAULT_COLOURS)]
        ax.axvspan(span.x0, span.x1, color=colour, alpha=0.16, lw=0, zorder=0.5)
        if label_faults:
            text = " " + span.label + ("" if span.reverted else " (not reverted)")
            ax.text(span.x0, 0.97 - 0.12 * (i % 2), text, transform=ax.get_xaxis_transform(), fontsize=8.5,
                    color="#6e3b00", fontweight="bold", va="top", ha="left", zorder=5,
                    bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 0.5})
    for _name, x in ov.phases[1:]:
        ax.axvline(x, color="#8c959f", ls=(0, (1, 3)), lw=0.8, zorder=1)
    for mark in ov.marks:
        style = {k: v for k, v in MARK_STYLES[mark.kind].items() if k != "label"}
        if mark.kind == "action":
            ax.axvline(mark.x, ymin=0.9, ymax=1.0, zorder=3, **style)
        else:
            ax.axvline(mark.x, zorder=3, **style)


def _legend(fig: Figure, ov: Overlays, extra: Sequence[Any] = ()) -> None:
    handles = list(extra)
    handles += [Patch(color=_FAULT_COLOURS[i % len(_FAULT_COLOURS)], alpha=0.3, label=f"fault: {f.label}")
                for i, f in enumerate(ov.faults)]
    kinds = dict.fromkeys(m.kind for m in ov.marks)
    handles += [Line2D([], [], color=MARK_STYLES[k]["color"], ls=MARK_STYLES[k]["ls"], lw=MARK_STYLES[k]["lw"],
                       label=MARK_STYLES[k]["label"]) for k in MARK_STYLES if k in kinds]
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), frameon=False, fontsize=8.5,
                   bbox_to_anchor=(0.5, 0.0))


def _figure(rows: int, height: float, legend_rows: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(_WIDTH, height))
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)
    bottom = (0.42 + 0.22 * legend_rows) / height
    fig.subplots_adjust(left=_LEFT, right=_RIGHT, top=1 - 0.45 / height, bottom=bottom, hspace=0.55)
    return fig, [a for (a,) in axes]


def _uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _legend_rows(ov: Overlays, extra: int) -> int:
    return math.ceil((extra + len(ov.faults) + len({m.kind for m in ov.marks})) / 5) or 1


def traffic_chart(series: Series, axis: Axis, ov: Overlays) -> str:
    """Requests per second and the error ratio."""
    rows = _legend_rows(ov, 0)
    fig, (rps, err) = _figure(2, 4.6 + 0.2 * rows, rows)
    rps.plot(series.x, series.rps, color="#0969da", lw=1.4)
    rps.set_title("Requests per second (all journey steps)")
    rps.set_ylabel("req/s")
    rps.set_ylim(bottom=0)
    err.plot(series.x, [v * 100 for v in series.error_ratio], color="#cf222e", lw=1.4)
    for ratio, label in ov.error_thresholds:
        err.axhline(ratio * 100, color="#cf222e", ls="--", lw=1, alpha=0.7)
        err.annotate(label, (1, ratio * 100), xycoords=("axes fraction", "data"), ha="right", va="bottom",
                     fontsize=8, color="#cf222e")
    err.set_title("Error ratio (failed ÷ requests)")
    err.set_ylabel("% failed")
    err.set_ylim(bottom=0, top=max([5.0, *[v * 100 * 1.15 for v in series.error_ratio if v == v],
                                     *[r * 100 * 1.3 for r, _ in ov.error_thresholds]]))
    for i, ax in enumerate((rps, err)):
        _decorate(ax, axis, ov, label_faults=i == 0)
    _phase_names(rps, axis, ov)
    _marks_text(rps, ov)
    err.set_xlabel(_xlabel(axis))
    _legend(fig, ov)
    return _uri(fig)


def _xlabel(axis: Axis) -> str:
    unit = "s" if axis.length <= 300 else "min:s"
    per = "" if axis.bin == 1 else f"; each point is {axis.bin} s"
    return f"time since the run started ({unit}{per})"


def _phase_names(ax: Axes, axis: Axis, ov: Overlays) -> None:
    """Phase names along the bottom of a panel; a name too close to the previous one goes a line up."""
    level, previous = 0, -math.inf
    for name, x in ov.phases:
        if not name:
            continue
        level = (level + 1) % 2 if x - previous < axis.length * 0.07 else 0
        ax.text(x, 0.03 + 0.1 * level, f" {name}", transform=ax.get_xaxis_transform(), fontsize=7.5,
                color="#6e7781", va="bottom", ha="left", style="italic")
        previous = x


def _marks_text(ax: Axes, ov: Overlays) -> None:
    for mark in ov.marks:
        if mark.kind in ("detected", "recovered", "guard", "abort") and mark.label:
            ax.text(mark.x, 0.62 if mark.kind == "recovered" else 0.74, f" {mark.label}",
                    transform=ax.get_xaxis_transform(), fontsize=8, color=MARK_STYLES[mark.kind]["color"],
                    fontweight="bold", va="top", ha="left")


def latency_chart(series: Series, axis: Axis, ov: Overlays) -> str:
    """p50/p95 latency of successful requests, all requests first then one panel per journey step."""
    sources = sorted(series.latency, key=lambda s: (s != ALL_REQUESTS, s))
    rows = _legend_rows(ov, 3)
    fig, axes = _figure(len(sources), 1.55 * len(sources) + 0.9 + 0.2 * rows, rows)
    colours = {"p50": "#54aeff", "p95": "#0550ae", "p99": "#6639ba"}
    for i, (ax, source) in enumerate(zip(axes, sources, strict=True)):
        for metric, values in series.latency[source].items():
            ax.plot(series.x, values, color=colours.get(metric, "#24292f"), lw=1.3 if metric == "p95" else 1.0,
                    label=metric)
        limits = [v for vals in series.latency[source].values() for v in vals if v == v]
        for th in (t for t in ov.thresholds if t.source == source):
            ax.axhline(th.ms, color="#cf222e", ls="--", lw=1.1)
            ax.annotate(th.label, (1, th.ms), xycoords=("axes fraction", "data"), ha="right", va="bottom",
                        fontsize=8, color="#cf222e")
            limits.append(th.ms)
        ax.set_yscale("log")
        if limits:
            ax.set_ylim(max(0.05, min(limits) / 1.6), max(limits) * 3)
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(_ms))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{source}: latency of successful requests" if i == 0 else source)
        _decorate(ax, axis, ov, label_faults=i == 0)
    axes[0].set_ylabel("ms (log)")
    _marks_text(axes[0], ov)
    axes[-1].set_xlabel(_xlabel(axis))
    lines = [Line2D([], [], color=colours[m], lw=1.3, label=m) for m in ("p50", "p95")]
    lines.append(Line2D([], [], color="#cf222e", ls="--", lw=1.1, label="latency SLO threshold"))
    _legend(fig, ov, lines)
    return _uri(fig)


def _ms(value: float, _pos: Any) -> str:
    if value >= 1000:
        return f"{value / 1000:g} s"
    return f"{value:g} ms"


def _runs(states: Sequence[str]) -> Iterator[tuple[int, int, str]]:
    """Runs of equal states as ``(first index, count, state)``."""
    start = 0
    for i in range(1, len(states) + 1):
        if i == len(states) or states[i] != states[start]:
            yield start, i - start, states[start]
            start = i


def status_chart(series: Series, axis: Axis, ov: Overlays) -> str:
    """One strip per probe (ok / fail / no data) under the per-second SLO judgement."""
    rows = sorted(series.status, key=lambda r: (r != JUDGEMENT_ROW, r))
    legend_rows = _legend_rows(ov, 4)
    fig, (ax,) = _figure(1, 0.42 * len(rows) + 1.5 + 0.2 * legend_rows, legend_rows)
    width = float(axis.bin)
    for y, row in enumerate(rows):
        for first, count, state in _runs(series.status[row]):
            x0 = series.x[first] - width / 2
            ax.broken_barh([(max(0.0, x0), count * width)], (y - 0.36, 0.72), color=STRIP_COLOURS[state], lw=0,
                           zorder=2)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(False, axis="y")
    ax.set_title("Probe status and per-second SLO judgement")
    _decorate(ax, axis, ov, label_faults=True)
    for span in ov.faults:
        ax.axvspan(span.x0, span.x1, facecolor="none", edgecolor="#57606a", lw=1.0, ls="--", zorder=4)
    ax.set_xlabel(_xlabel(axis))
    states = [Patch(color=STRIP_COLOURS[s], label=label) for s, label in
              ((OK, "ok / good"), (FAIL, "fail / degraded"), (NONE, "no data / no verdict"))]
    _legend(fig, ov, states)
    return _uri(fig)


def draw_charts(series: Series, axis: Axis, ov: Overlays) -> dict[str, str]:
    """Every chart the data allows, as ``{chart id: SVG data URI}`` (traffic, latency, status)."""
    charts: dict[str, str] = {}
    with matplotlib.rc_context(_RC):
        if series.has_load:
            charts["traffic"] = traffic_chart(series, axis, ov)
        if series.latency:
            charts["latency"] = latency_chart(series, axis, ov)
        if series.status:
            charts["status"] = status_chart(series, axis, ov)
    return charts
