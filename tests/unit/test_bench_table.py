"""The `make bench` table and its JSON twin, from given rows (the bench itself runs only in `make bench`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from harness.sandbox.bench_table import COLUMNS, Row, read_rows, table, write_json

ROWS = [
    Row("pod-kill 30 % of 5,000 pods: delete calls", 1.234, "s", "<= 3 s", "5.2 s one at a time"),
    Row("load, 1 process: harness ÷ locust", 0.981, "×", ">= 0.95×", "harness 990 req/s, plain 1009 req/s"),
    Row("kubectl drain", None, "s", anchor="kubectl not installed"),
    Row("report.html, 60-minute run", 1234.5, "ms", "<= 2 s"),
]


def test_the_table_has_the_four_columns_and_one_line_per_row() -> None:
    console = Console(width=240, record=True)
    console.print(table(ROWS))
    text = console.export_text()
    assert [c.header for c in table(ROWS).columns] == list(COLUMNS) == ["figure", "value", "goal", "anchor"]
    for shown in ("1.23 s", "0.98×", "not measured", "1234 ms"):
        assert shown in text
    assert "kubectl not installed" in text and "5.2 s one at a time" in text


def test_the_json_holds_the_same_rows_named_by_date(tmp_path: Path) -> None:
    when = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
    path = write_json(ROWS, tmp_path / "reports", when, total_seconds=512.3)
    assert path == tmp_path / "reports" / "bench-2026-12-07.json"
    doc = json.loads(path.read_text())
    assert doc["columns"] == list(COLUMNS) and doc["total_seconds"] == 512.3
    assert doc["date"].startswith("2026-12-07T15:30")
    assert [r["name"] for r in doc["rows"]] == [r.name for r in ROWS]
    assert doc["rows"][0] == {"name": ROWS[0].name, "value": 1.234, "unit": "s", "goal": "<= 3 s",
                              "anchor": "5.2 s one at a time", "shown": "1.23 s"}
    assert doc["rows"][2]["value"] is None and doc["rows"][2]["shown"] == "not measured"
    assert read_rows(path) == ROWS
