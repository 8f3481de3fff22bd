"""The weekly digest over hand-built history: a planted regression, a first failure, an incident, the
service scores, the look-first order, and both renderings."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.report.digest import build_digest
from harness.report.digest_render import render_html, render_markdown, write_digest
from harness.report.history import load_history, read_entry
from harness.report.regress import Rules, compare
from tests.runfolders import NOW, make_run

SINCE = NOW - timedelta(days=7)


def _history(tmp_path: Path) -> Path:
    # checkout-pod-kill: recovery crept from 8 s to 25 s; the latest run is still PASSED
    for days, recovery in ((30, 8.0), (23, 8.5), (16, 9.0), (9, 8.0)):
        make_run(tmp_path, "checkout-pod-kill", days_ago=days, recovery=recovery)
    make_run(tmp_path, "checkout-pod-kill", days_ago=2, recovery=25.0, checkout_fault=(100, 2, 0.9))
    # db-latency: its latency SLO fails for the first time this week
    make_run(tmp_path, "db-latency", days_ago=12)
    make_run(tmp_path, "db-latency", days_ago=1, status="failed", p95=1.4,
             slos=[{"name": "latency", "sli": "step.checkout.p95", "objective": "<= 1s", "window": "fault",
                    "status": "fail", "measured": 1.4, "display": "1400 ms"}])
    # zone-drain: aborted by a guard, then a run that needed `harness rollback`
    make_run(tmp_path, "zone-drain", days_ago=3, status="aborted", aborted_by="guard: load.error_ratio > 20%")
    make_run(tmp_path, "zone-drain", days_ago=0.5, events=[
        {"ts": 2, "type": "fault.reverted", "id": "drain", "kind": "zone-drain", "by": "rollback"}])
    return tmp_path


def test_the_planted_regression_first_failure_and_incidents_are_listed(tmp_path: Path) -> None:
    d = build_digest(load_history(_history(tmp_path)), SINCE, NOW)
    sections = {s.name: s for s in d.experiments}
    assert set(sections) == {"checkout-pod-kill", "db-latency", "zone-drain"}
    kill = sections["checkout-pod-kill"]
    assert [r.recovery_seconds for r in kill.runs] == [25.0] and kill.baseline is not None
    assert kill.baseline.recovery_seconds == 8.0  # the last passed run before the period
    found = {f.what: f for f in kill.findings}
    assert found["recovery time"].baseline == "8.0 s" and found["recovery time"].now == "25.0 s"
    assert found["step.checkout.p95 in the fault window"].now == "900 ms"
    assert [len(r.history) for r in d.experiments][0] == 5  # trend: the previous weeks and this one
    assert [(e.name, slos) for e, slos in d.first_failures] == [("db-latency", ["latency (fail)"])]
    db = sections["db-latency"]
    assert any(f.rule == "passed in the baseline, not now" for f in db.findings)
    assert [(e.name, e.status) for e, _ in d.incidents] == [("zone-drain", "aborted"), ("zone-drain", "passed")]
    assert "needed `harness rollback`" in d.incidents[1][1]


def test_service_score_is_availability_times_runs_without_latency_regression(tmp_path: Path) -> None:
    d = build_digest(load_history(_history(tmp_path)), SINCE, NOW)
    (checkout,) = d.services
    # period runs with checkout in a fault window: 4 (one each of kill, db-latency, and two zone-drain)
    assert (checkout.service, checkout.runs, checkout.requests) == ("checkout", 4, 400)
    assert checkout.availability == pytest.approx(1 - 2 / 400)
    assert checkout.regressed_runs == 1  # 900 ms against its own 200 ms baseline phase
    assert checkout.score == round(100 * (1 - 2 / 400) * 3 / 4)


def test_look_first_puts_rollbacks_before_regressions_before_first_failures(tmp_path: Path) -> None:
    d = build_digest(load_history(_history(tmp_path)), SINCE, NOW)
    first = d.look_first
    assert "needed `harness rollback`" in first[0]
    assert "recovery time regressed" in "".join(first[1:4]) or "regressed" in first[1]
    assert any("new failure of latency (fail)" in item for item in first)
    assert first.index(next(i for i in first if "new failure" in i)) > first.index(next(i for i in first if "regressed" in i))


def test_no_baseline_yet_is_not_a_regression(tmp_path: Path) -> None:
    make_run(tmp_path, "new-experiment", days_ago=1, recovery=60.0)
    d = build_digest(load_history(tmp_path), SINCE, NOW)
    assert d.experiments[0].baseline is None and d.experiments[0].findings == []
    assert "none yet" in render_markdown(d)


def test_regression_rules_need_both_the_factor_and_the_floor(tmp_path: Path) -> None:
    base = read_entry(make_run(tmp_path, "x", days_ago=3, recovery=2.0, p95=0.05))
    worse_ratio_only = read_entry(make_run(tmp_path, "x", days_ago=2, recovery=6.0, p95=0.12))
    worse_both = read_entry(make_run(tmp_path, "x", days_ago=1, recovery=8.0, p95=0.2))
    assert base and worse_ratio_only and worse_both
    assert compare(base, worse_ratio_only) == []  # 3× but only +4 s and +70 ms
    assert {f.what for f in compare(base, worse_both)} == {"recovery time", "SLO latency (step.checkout.p95)"}
    assert compare(base, worse_both, Rules(time_min=10.0, latency_min=0.5)) == []


def test_renderings_are_self_contained_and_plain(tmp_path: Path) -> None:
    reports = _history(tmp_path / "reports")
    d = build_digest(load_history(reports), SINCE, NOW)
    html, md = write_digest(d, reports, reports / "digest-2026-W49")
    text = html.read_text()
    resources = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(https?:|//)|url\(\s*["']?(https?:|//)|@import""", text)
    assert resources == [] and "<script" not in text and "<metadata>" not in text
    assert text.count("<svg") == len(d.experiments)
    assert 'href="../' in text and "/report.html" in text
    markdown = md.read_text()
    assert "| checkout-pod-kill | recovery time | 8.0 s | 25.0 s |" in markdown
    assert "<" not in markdown.split("## How this digest")[0].replace("<=", "")
    assert render_html(d, reports, reports / "x") == render_html(d, reports, reports / "x")


def test_cli_digest_writes_to_the_iso_week_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(tmp_path, "x", days_ago=0)
    assert main(["digest", "--reports", str(tmp_path), "--since", "400d"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].strip().endswith("digest.html") and "/digest-" in out[1]
    assert Path(out[1].strip()).exists() and Path(out[2].strip()).exists()
    assert main(["digest", "--reports", str(tmp_path), "--since", "soon"]) == 2
