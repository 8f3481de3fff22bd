"""report.html from run folders of every kind (synthetic folders written the way a run writes them)."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.report.bench_report import Scenario, write_synthetic_run
from harness.report.html import ERROR_FILE, REPORT, render_html, step_rows, write_report_html


class Page(HTMLParser):
    """Every URL the page would load or link to, its ids and its visible text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)
            if name == "id" and value:
                self.ids.add(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def _render(tmp_path: Path, sc: Scenario | None = None) -> tuple[Path, Page]:
    run_dir = write_synthetic_run(tmp_path / "run", sc)
    out = render_html(run_dir)
    return run_dir, Page(out.read_text(encoding="utf-8"))


def _svgs(page: Page) -> list[str]:
    prefix = "data:image/svg+xml;base64,"
    return [base64.b64decode(u[len(prefix):]).decode() for u in page.urls if u.startswith(prefix)]


def test_a_failed_fault_run_has_charts_tables_and_nothing_from_elsewhere(tmp_path: Path) -> None:
    run_dir, page = _render(tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    # self-contained: only in-page anchors, data URIs and the raw files beside it
    for url in page.urls:
        assert url.startswith(("#", "data:image/svg+xml;base64,")) or (run_dir / url).exists(), url
    svgs = _svgs(page)
    assert len(svgs) == 3 and all("<svg" in s and not re.search(r"https?://(?!www\.w3\.org/)", s) for s in svgs)
    assert {"verdict", "timeline", "steps", "faults", "budget", "plan", "events", "environment", "files"} <= page.ids
    text = page.words
    assert run["status"] == "failed" and "FAILED" in text
    for slo in run["slos"]:
        assert slo["name"] in text
    # the fault window is drawn and labelled on the charts, the SLO threshold too
    assert "partner-down" in svgs[0] and "home-latency" in svgs[1]
    assert "shop/checkout:2.4.1" in text and "v1.30.2" in text  # the app version the review compares
    for name in ("run.json", "events.jsonl", "timeline.jsonl", "experiment.yaml"):
        assert name in page.urls


def test_the_step_table_is_run_json_breakdown_with_changes_by_the_regression_rules(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "run")
    rows = {r["source"]: r["windows"] for r in step_rows(json.loads((run_dir / "run.json").read_text())["breakdown"])}
    checkout = {w["window"]: w for w in rows["step.checkout"]}
    assert checkout["fault"]["error_ratio"] == "100.00%" and checkout["fault"]["worse"]
    assert checkout["baseline"]["change"] == "" and not checkout["recovery"]["worse"]
    # home is 2.5× slower in the fault but only by ~45 ms: below the 100 ms the rules ask for
    home = {w["window"]: w for w in rows["step.home"]}
    assert "×2." in home["fault"]["change"] and not home["fault"]["worse"]
    assert set(rows) >= {"all requests", "probe.probe-0", "probe.probe-1"}


def test_a_run_aborted_in_the_baseline_says_so_and_marks_the_guard(tmp_path: Path) -> None:
    _, page = _render(tmp_path, Scenario(fault=(30.3, 50.2), abort_at=12.0))
    assert "ABORTED" in page.words
    svgs = _svgs(page)
    assert svgs and "guard: error-ratio" in svgs[0]


@pytest.mark.parametrize("sc, absent", [
    (Scenario(load=False), "chart-traffic"),
    (Scenario(probes=0), None),
    (Scenario(fault=None), None),
])
def test_runs_without_load_probes_or_faults_render(tmp_path: Path, sc: Scenario, absent: str | None) -> None:
    _, page = _render(tmp_path, sc)
    if absent:
        assert absent not in page.ids and "no-load" in page.ids
    assert "verdict" in page.ids


def test_a_folder_without_timeline_says_why_there_is_no_chart(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "run")
    (run_dir / "timeline.jsonl").unlink()
    page = Page(render_html(run_dir).read_text(encoding="utf-8"))
    assert "timeline.jsonl is missing" in page.words and not _svgs(page)


def test_a_report_that_cannot_render_leaves_report_error_and_never_raises(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "run")
    (run_dir / "timeline.jsonl").write_text('{"t": "not a second"}\n')
    assert write_report_html(run_dir) is None
    assert "report.html could not be rendered" in (run_dir / ERROR_FILE).read_text()
    (run_dir / "timeline.jsonl").unlink()
    assert write_report_html(run_dir) == run_dir / REPORT and not (run_dir / ERROR_FILE).exists()
