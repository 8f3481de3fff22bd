"""Run values as people read them: status words, clock times, fault measurements with their units.

Shared by ``summary.md`` and ``report.html`` so both say the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

STATUS: Mapping[str, tuple[str, str]] = {
    "passed": ("PASSED", "every SLO was met"),
    "failed": ("FAILED", "at least one SLO was breached or could not be judged on enough data"),
    "aborted": ("ABORTED", "a guard fired or a safety limit was reached; every fault was reverted"),
    "interrupted": ("INTERRUPTED", "the run was interrupted (a signal); every fault was reverted"),
    "refused": ("REFUSED", "a safety rule refused the run; nothing was injected"),
    "revert_failed": ("REVERT FAILED", "a revert failed: something is STILL INJECTED and a human must act"),
    "error": ("ERROR", "the harness itself failed (traceback in error.txt); every fault was reverted"),
}


def clock(value: Any) -> str:
    """An ISO string or epoch float as ``YYYY-MM-DD HH:MM:SS UTC``; '–' when missing."""
    if value in (None, ""):
        return "–"
    try:
        when = (datetime.fromtimestamp(float(value), UTC) if isinstance(value, (int, float))
                else datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def measurement_rows(m: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in m.items():
        if isinstance(value, Mapping) and value:
            rows += measurement_rows(value, f"{prefix}{label(key)} · ")
        else:
            rows.append((prefix + label(key), readable(key, value)))
    return rows


_LABELS: Mapping[str, str] = {
    "detection_seconds": "detection (first action → first degraded second)",
    "sli_recovery_seconds": "recovery (reference point → stable good)",
    "recovery_note": "recovery note"}


def label(key: str) -> str:
    if key in _LABELS:
        return _LABELS[key]
    for suffix in ("_seconds", "_s", "_ms"):
        if key.endswith(suffix):
            key = key[: -len(suffix)]
    return key.replace("_", " ")


def readable(key: str, value: Any) -> str:
    """A measurement with its unit: seconds, ms, yes/no, lists joined, ``none`` for empty."""
    if value is None:
        return "never degraded" if key == "detection_seconds" else "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and key.endswith(("_seconds", "_s")):
        return f"{float(value):.2f} s"
    if isinstance(value, (int, float)) and key.endswith("_ms"):
        return f"{float(value):.1f} ms"
    if isinstance(value, float):
        return f"{value:,.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value) if value != {} else "none"


def measurement_text(m: Mapping[str, Any] | None) -> str:
    """A fault's measurements on one line: ``detection (…): 1.20 s; …``."""
    return "; ".join(f"{k}: {v}" for k, v in measurement_rows(m or {}))
