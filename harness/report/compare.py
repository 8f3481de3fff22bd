"""`harness compare RUN_A RUN_B`: two runs side by side (SLIs, detection, recovery, app versions)."""

from __future__ import annotations

import html
from typing import Any

from harness.report.history import RunEntry


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}{unit}" if unit else f"{value:.4g}"
    return f"{value}{unit}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f} %"


def _delta(a: Any, b: Any, unit: str = "") -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or isinstance(a, bool):
        return ""
    d = b - a
    return f"{d:+.2f}{unit}" if unit else f"{d:+.4g}"


def _slo_cell(slo: dict[str, Any]) -> str:
    return f"{slo.get('display', '—')} ({slo.get('status', 'absent')})" if slo else "absent"


def rows(a: RunEntry, b: RunEntry) -> list[tuple[str, str, str, str]]:
    """(what, run A, run B, change) for every figure either run has."""
    out = [("run", a.folder, b.folder, ""), ("experiment", a.name, b.name, "" if a.name == b.name else "different"),
           ("target", a.target, b.target, ""), ("started", a.started, b.started, ""),
           ("status", a.status.upper(), b.status.upper(), "" if a.status == b.status else "changed"),
           ("detection", _num(a.detection_seconds, " s"), _num(b.detection_seconds, " s"),
            _delta(a.detection_seconds, b.detection_seconds, " s")),
           ("recovery", _num(a.recovery_seconds, " s"), _num(b.recovery_seconds, " s"),
            _delta(a.recovery_seconds, b.recovery_seconds, " s")),
           ("availability", _pct(a.availability), _pct(b.availability),
            "" if a.availability is None or b.availability is None
            else f"{(b.availability - a.availability) * 100:+.2f} pts"),
           ("error budget (share of month)", _pct(a.budget_share), _pct(b.budget_share), "")]
    names = [s["name"] for s in a.slos] + [s["name"] for s in b.slos if a.slo(s["name"]) is None]
    for name in names:
        sa, sb = a.slo(name) or {}, b.slo(name) or {}
        label = f"SLO {name}: {(sa or sb).get('sli')} {(sa or sb).get('objective')}"
        out.append((label, _slo_cell(sa), _slo_cell(sb), _delta(sa.get("measured"), sb.get("measured"))))
    for workload in sorted(set(a.images) | set(b.images)):
        ia, ib = a.images.get(workload, "—"), b.images.get(workload, "—")
        out.append((f"image {workload}", ia, ib, "" if ia == ib else "changed"))
    return out


def to_markdown(a: RunEntry, b: RunEntry) -> str:
    lines = [f"# {a.name} vs {b.name}", "", "| | A | B | change |", "| --- | --- | --- | --- |"]
    lines += [f"| {w} | {x} | {y} | {d} |".replace("\n", " ") for w, x, y, d in rows(a, b)]
    return "\n".join(lines) + "\n"


def to_html(a: RunEntry, b: RunEntry) -> str:
    body = "".join(f"<tr><th>{html.escape(w)}</th><td>{html.escape(x)}</td><td>{html.escape(y)}</td>"
                   f"<td>{html.escape(d)}</td></tr>" for w, x, y, d in rows(a, b))
    title = html.escape(f"{a.name} vs {b.name}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head>"
            f"<body><h1>{title}</h1><table><tr><th></th><th>A</th><th>B</th><th>change</th></tr>{body}"
            "</table></body></html>\n")
