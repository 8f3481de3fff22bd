"""The one table `make bench` prints, and the same table as JSON (``reports/bench-<date>.json``).

Each figure is a :class:`Row`: its name, its value (with a unit; None when it could not be measured,
the anchor column then says why), the goal it is held to, and the anchor it is compared with (measured
in the same run where there is one).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.table import Table

COLUMNS = ("figure", "value", "goal", "anchor")
"""The printed columns, in order."""


@dataclass(frozen=True)
class Row:
    """One figure of the bench."""

    name: str
    value: float | None
    unit: str = ""
    goal: str = ""
    anchor: str = ""

    def shown(self) -> str:
        """The value as printed: ``1.23 s``, ``0.97×``; ``not measured`` for None."""
        if self.value is None:
            return "not measured"
        digits = 0 if abs(self.value) >= 100 else 2
        return f"{self.value:.{digits}f}{self.unit if self.unit in ('×', '%') else ' ' + self.unit}".strip()


def table(rows: Sequence[Row], title: str = "make bench") -> Table:
    """The rich table of ``rows``."""
    out = Table(title=title, show_lines=False)
    for col in COLUMNS:
        out.add_column(col, overflow="fold", justify="right" if col == "value" else "left")
    for row in rows:
        out.add_row(row.name, row.shown(), row.goal, row.anchor)
    return out


def document(rows: Sequence[Row], when: datetime, total_seconds: float | None = None) -> dict[str, Any]:
    """The JSON document of a bench run: when, where, how long, and every row with its shown value."""
    return {"date": when.isoformat(timespec="seconds"), "host": platform.node(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "total_seconds": total_seconds, "columns": list(COLUMNS),
            "rows": [{**asdict(r), "shown": r.shown()} for r in rows]}


def write_json(rows: Sequence[Row], folder: Path, when: datetime, total_seconds: float | None = None) -> Path:
    """Write ``folder/bench-<YYYY-MM-DD>.json`` (a second run the same day replaces it); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench-{when:%Y-%m-%d}.json"
    path.write_text(json.dumps(document(rows, when, total_seconds), indent=2, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


def read_rows(path: Path) -> list[Row]:
    """The rows of a bench JSON file (to compare runs)."""
    fields = set(Row.__dataclass_fields__)
    return [Row(**{k: v for k, v in r.items() if k in fields}) for r in json.loads(path.read_text())["rows"]]
