"""SLIs, windows, SLO evaluation, recovery time and the error budget over hand-built timelines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.measure.budget import error_budget
from harness.measure.histogram import Histogram
from harness.measure.judge import judge_all, measure
from harness.measure.sli import parse_sli
from harness.measure.slo import (
    SloInput,
    SloStatus,
    Windows,
    all_met,
    compute_sli,
    criteria_from,
    evaluate,
    windows_from_events,
)
from harness.measure.timeline import Second

START = 1000.0
INJECT = {"ts": 1010.0, "type": "fault.injected", "id": "f1"}
REVERT = {"ts": 1020.0, "type": "fault.reverted", "id": "f1"}


def _hist(ms: float, n: int) -> dict[str, object]:
    h = Histogram()
    if n:
        h.add(ms, n)
    return h.to_json()


def line(t: int, req: int = 100, fail: int = 0, ms: float = 50.0, probe: tuple[int, int] | None = None,
         **extra: Any) -> dict[str, Any]:
    """One timeline line: ``req`` requests at ``ms``; step ``checkout`` gets a tenth of them."""
    out: dict[str, Any] = {"t": t, "s": t - int(START), "phase": "x", "events": [], "faults": [], **extra}
    if req:
        step = {"requests": req // 10, "failures": fail // 10, "hist": _hist(ms * 2, req // 10 - fail // 10)}
        out["load"] = {"requests": req, "failures": fail, "hist": _hist(ms, req - fail), "users": 5,
                       "steps": {"checkout": step}}
    out["probes"] = {}
    if probe:
        out["probes"]["health"] = {"ok": probe[0], "fail": probe[1], "hist": _hist(ms, probe[0])}
    return out


def run_lines() -> list[dict[str, Any]]:
    """Baseline 1000-1009 (0 % errors, 50 ms), fault 1010-1019 (20 %, 500 ms), recovery 1020-1029 (1 %)."""
    base = [line(t, probe=(1, 0)) for t in range(1000, 1010)]
    fault = [line(t, fail=20, ms=500.0, probe=(0, 1)) for t in range(1010, 1020)]
    rec = [line(t, fail=1, ms=60.0, probe=(1, 0)) for t in range(1020, 1030)]
    return base + fault + rec


def seconds(lines: list[dict[str, Any]]) -> list[Second]:
    return [Second.from_json(x) for x in lines]


@pytest.fixture
def timeline(tmp_path: Path) -> Path:
    path = tmp_path / "timeline.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in run_lines()))
    return path


WIN = windows_from_events(START, 1030.0, [INJECT, REVERT])


def test_windows_from_events() -> None:
    assert WIN == Windows((1000.0, 1010.0), (1010.0, 1020.0), (1020.0, 1030.0), (1000.0, 1030.0))
    events = [INJECT, {**INJECT, "ts": 1015.0}, {**REVERT, "ts": 1012.0}, REVERT]
    assert windows_from_events(START, 1030.0, events).fault == (1010.0, 1020.0)
    none = windows_from_events(START, 1030.0, [{"ts": 1001.0, "type": "run.started"}])
    assert none == Windows((START, 1030.0), None, None, (START, 1030.0))
    unreverted = windows_from_events(START, 1030.0, [INJECT])
    assert unreverted.fault == (1010.0, 1030.0) and unreverted.recovery is None
    assert WIN.to_json()["fault"] == [1010.0, 1020.0]
    with pytest.raises(ValueError):
        WIN.get("steady")


@pytest.mark.parametrize(("sli", "window", "expected"), [
    ("load.success_ratio", "whole", (3000 - 210) / 3000),
    ("load.error_ratio", "fault", 0.2),
    ("load.error_ratio", "baseline", 0.0),
    ("load.rps", "baseline", 100.0),
    ("load.rps", "whole", 100.0),
    ("step.checkout.error_ratio", "fault", 0.2),
    ("step.checkout.rps", "fault", 10.0),
    ("probe.health.success_ratio", "whole", 2 / 3),
    ("probe.health.error_ratio", "fault", 1.0),
])
def test_ratio_and_rate_slis(sli: str, window: str, expected: float) -> None:
    span = WIN.get(window)
    assert span is not None
    assert compute_sli(seconds(run_lines()), sli, span) == pytest.approx(expected)


@pytest.mark.parametrize(("sli", "window", "expected_s"), [
    ("load.p50", "baseline", 0.050), ("load.p95", "fault", 0.5), ("load.p99", "recovery", 0.060),
    ("step.checkout.p95", "fault", 1.0), ("probe.health.p99", "baseline", 0.050),
    ("load.p50", "whole", 0.060),  # 1000 @ 50 ms, 1000 @ 500 ms, 1000 @ 60 ms
])
def test_latency_slis_in_seconds_exact_to_the_bucket(sli: str, window: str, expected_s: float) -> None:
    span = WIN.get(window)
    assert span is not None
    value = compute_sli(seconds(run_lines()), sli, span)
    assert value is not None and abs(value - expected_s) / expected_s < 0.025


def test_no_data_and_bad_slis() -> None:
    secs = seconds(run_lines())
    assert compute_sli(secs, "load.error_ratio", (2000.0, 2010.0)) is None
    assert compute_sli(secs, "step.search.p95", (1000.0, 1030.0)) is None
    assert compute_sli(secs, "probe.nope.success_ratio", (1000.0, 1030.0)) is None
    assert compute_sli(secs, "load.rps", (1010.0, 1010.0)) is None
    for bad in ("load.p42", "probe.health.rps", "step.p95", "db.error_ratio", "load"):
        with pytest.raises(ValueError):
            parse_sli(bad)
    with pytest.raises(ValueError):
        compute_sli(secs, "recovery_time", (1000.0, 1030.0))


SLOS = [
    SloInput("availability", "load.success_ratio", ">=", 0.99, "whole"),
    SloInput("fault-latency", "load.p95", "<=", 0.8, "fault"),
    SloInput("fault-errors", "load.error_ratio", "<=", 0.05, "fault"),
    SloInput("recovery", "recovery_time", "<=", 60.0, consecutive=3),
]


def test_evaluate_from_file(timeline: Path) -> None:
    rec = measure(judge_all(seconds(run_lines()), criteria_from(SLOS)), 1010.0, 1020.0, 3)
    results = {r.name: r for r in evaluate(timeline, SLOS, WIN, rec)}
    avail = results["availability"]
    assert avail.passed is False and avail.display == "93.00%" and avail.objective == ">= 99%"
    assert "2,790 of 3,000 ok" in avail.detail and "not met" in avail.detail
    lat = results["fault-latency"]
    assert lat.passed is True and lat.display.endswith(" ms") and lat.objective == "<= 800ms"
    assert results["fault-errors"].passed is False
    recovered = results["recovery"]  # 1 % errors after the revert: within 5 %, and p95 60 ms
    assert recovered.passed is True and recovered.measured == 0.0 and recovered.display == "0.0 s"
    assert recovered.window == "recovery" and recovered.objective == "<= 60s"
    assert not all_met(results.values())
    assert set(avail.to_json()) >= {"name", "sli", "objective", "window", "measured", "display",
                                    "passed", "status", "samples", "detail"}
    assert avail.to_json()["status"] == "fail" and avail.samples == 3000


def test_evaluate_without_faults_skips_fault_windows() -> None:
    lines = [line(t) for t in range(1000, 1010)]
    win = windows_from_events(START, 1010.0, [])
    results = evaluate(seconds(lines), SLOS, win)
    by = {r.name: r for r in results}
    assert by["availability"].passed is True
    assert by["fault-latency"].passed is None and by["fault-latency"].status is SloStatus.SKIPPED
    assert by["recovery"].status is SloStatus.SKIPPED and "no fault" in by["recovery"].detail
    assert all_met(results)


def test_no_data_is_inconclusive_not_a_breach() -> None:
    lines = [line(t, req=0) for t in range(1000, 1030)]
    results = evaluate(seconds(lines), SLOS[:2], WIN)
    assert all(r.status is SloStatus.INCONCLUSIVE and r.passed is None and r.display == "n/a" for r in results)
    assert "0 samples" in results[0].detail and "20 needed" in results[0].detail
    assert not all_met(results)  # inconclusive fails the run unless the SLO says `inconclusive: pass`


def test_error_budget_by_hand(timeline: Path) -> None:
    b = error_budget(timeline, sla=0.99)
    assert (b["source"], b["requests"], b["failures"]) == ("load", 3000, 210)
    assert b["availability"] == pytest.approx(0.93)
    assert b["budget_minutes"] == pytest.approx(432.0)  # 30 d x 1440 min x 1 %
    # 7 % of 3,000 requests failed over 30 s of traffic = 2.1 bad seconds
    assert b["bad_minutes"] == pytest.approx(2.1 / 60)
    assert b["share_of_month_budget"] == pytest.approx(2.1 / 60 / 432)


def test_error_budget_falls_back_to_probes_and_handles_empty() -> None:
    lines = [line(t, req=0, probe=(1, 1)) for t in range(1000, 1060)]
    b = error_budget(seconds(lines), sla=0.999, month_days=31)
    assert b["source"] == "probes" and b["bad_minutes"] == pytest.approx(0.5)
    assert b["budget_minutes"] == pytest.approx(31 * 1440 * 0.001)
    empty = error_budget([], sla=0.99)
    assert empty["source"] is None and empty["availability"] is None and empty["bad_minutes"] == 0.0
