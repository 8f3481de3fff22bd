"""report.html in a real browser (Debian's chromium, driven by Playwright): it loads nothing from
anywhere else, logs no error, and every chart is an image the browser decoded."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.report.bench_report import Scenario, write_synthetic_run
from harness.report.html import render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (make test installs Debian's chromium)")


def _open(report: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    seen: dict[str, Any] = {"requests": [], "errors": [], "failed": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.on("requestfailed", lambda r: seen["failed"].append(r.url))
            page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.goto(report.as_uri(), wait_until="load")
            seen["images"] = page.eval_on_selector_all(
                "img", "els => els.map(e => ({alt: e.alt, width: e.naturalWidth, done: e.complete}))")
            seen["headings"] = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent.trim())")
        finally:
            browser.close()
    return seen


@pytest.mark.parametrize("sc", [Scenario(), Scenario(load=False, abort_at=30.0)], ids=["failed", "aborted-no-load"])
def test_the_report_opens_offline_in_chromium(tmp_path: Path, sc: Scenario) -> None:
    report = render_html(write_synthetic_run(tmp_path / "run", sc))
    seen = _open(report)
    assert seen["requests"] == [report.as_uri()], "the page asked for something besides itself"
    assert seen["failed"] == [] and seen["errors"] == []
    assert seen["images"] and all(i["done"] and i["width"] > 500 for i in seen["images"]), seen["images"]
    assert "Verdict" in seen["headings"] and "Environment" in seen["headings"]
