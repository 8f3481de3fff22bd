"""The Measurement definitions on hand-built timelines: degraded seconds, detection, recovery,
inconclusive windows, latency over successes, request-weighted error budget, cut-short windows."""

from __future__ import annotations

from typing import Any

import pytest

from harness.load.buckets import WorkerBuckets
from harness.measure.budget import error_budget
from harness.measure.histogram import Histogram
from harness.measure.judge import Criterion, State, judge_all, measure
from harness.measure.sli import Threshold, parse_sli
from harness.measure.slo import SloInput, SloStatus, all_met, evaluate, windows_from_events
from harness.measure.timeline import Second
from harness.report.runfolder import cut_short, reference_points
from probes.base import Observation

ERRORS = Criterion(parse_sli("load.error_ratio"), Threshold("<=", 0.05))
P95 = Criterion(parse_sli("load.p95"), Threshold("<=", 0.8))


def sec(t: int, ok: int = 100, fail: int = 0, ms: float = 50.0, slow: int = 0) -> Second:
    """``ok`` successes at ``ms`` (``slow`` of them at 2 s instead), ``fail`` failures (no latency)."""
    hist = Histogram()
    if ok - slow:
        hist.add(ms, ok - slow)
    if slow:
        hist.add(2000.0, slow)
    load = {"requests": ok + fail, "failures": fail, "hist": hist.to_json(), "users": 1, "steps": {}}
    return Second.from_json({"t": t, "phase": "x", "load": load if ok + fail else None})


def states(seconds: list[Second], *criteria: Criterion) -> list[tuple[int, State]]:
    return judge_all(seconds, list(criteria or (ERRORS, P95)))


def test_never_degraded_is_exactly_zero() -> None:
    r = measure(states([sec(t) for t in range(1000, 1040)]), 1010.0, 1020.0, 3)
    assert (r.seconds, r.detection, r.degraded, r.inconclusive) == (0.0, None, False, False)
    assert "never degraded" in r.reason


def test_outage_then_sparse_healthy_traffic_recovers() -> None:
    outage = [sec(t, ok=0, fail=100) for t in range(1010, 1020)]
    sparse = [sec(t, ok=1) if t in (1021, 1024, 1027, 1030) else sec(t, ok=0) for t in range(1020, 1035)]
    r = measure(states(outage + sparse), 1010.0, 1020.0, 3)
    assert r.degraded and r.detection == 0.0
    assert r.seconds == pytest.approx(1.0)  # 1021, 1024, 1027 are good; the empty seconds between do not count


def test_gaps_inside_a_healthy_period_neither_break_nor_make_a_streak() -> None:
    seconds = [sec(t, ok=0, fail=90) for t in range(1015, 1020)]
    seconds += [sec(1020), sec(1021), sec(1022, ok=0), sec(1023, ok=0), sec(1024), sec(1025)]
    assert [s for _, s in states(seconds)][5:9] == [State.GOOD, State.GOOD, State.UNKNOWN, State.UNKNOWN]
    assert measure(states(seconds), 1015.0, 1020.0, 3).seconds == 0.0
    only_gaps = [sec(t, ok=0, fail=90) for t in range(1015, 1020)] + [sec(t, ok=0) for t in range(1020, 1030)]
    r = measure(states(only_gaps), 1015.0, 1020.0, 3)
    assert r.seconds is None and r.inconclusive and "could be judged" in r.reason


def test_one_slow_request_at_two_per_second_does_not_flip_a_second() -> None:
    seconds = [sec(t, ok=2, ms=40.0, slow=1 if t == 1015 else 0) for t in range(1000, 1030)]
    judged = dict(states(seconds, P95))
    assert judged[1015] is State.GOOD  # p95 over the 20 latest samples, one of them slow
    assert judged[1003] is State.UNKNOWN  # fewer than 20 samples in the sliding window yet
    assert measure(list(judged.items()), 1010.0, 1020.0, 3).seconds == 0.0
    # at 2 req/s, a real slowdown still shows once it is more than 5 % of the window
    slow = [sec(t, ok=2) for t in range(1000, 1012)] + [sec(t, ok=2, slow=2) for t in range(1012, 1020)]
    assert dict(states(slow, P95))[1012] is State.DEGRADED


def test_recovery_with_broken_streak_and_reference_inside_a_second() -> None:
    # degraded until 1022, good 1023-1024, degraded 1025, good from 1026
    seconds = [sec(t, ok=50, fail=50) if t < 1023 or t == 1025 else sec(t) for t in range(1010, 1040)]
    assert measure(states(seconds), 1010.0, 1020.0, 2).seconds == pytest.approx(3.0)
    assert measure(states(seconds), 1010.0, 1020.0, 3).seconds == pytest.approx(6.0)
    assert measure(states(seconds), 1010.0, 1020.4, 3).seconds == pytest.approx(5.6)


def test_detection_from_the_first_action_and_never_recovered() -> None:
    seconds = [sec(t) for t in range(1000, 1012)] + [sec(t, ok=0, fail=10) for t in range(1012, 1030)]
    r = measure(states(seconds), 1010.3, 1020.0, 3)
    assert r.detection == pytest.approx(1.7) and r.first_degraded == 1012
    assert r.seconds is None and not r.inconclusive and "did not recover" in r.reason
    ended_early = [sec(t, ok=0, fail=10) for t in range(1010, 1020)] + [sec(1020), sec(1021)]
    r = measure(states(ended_early), 1010.0, 1020.0, 3)
    assert r.seconds is None and r.inconclusive and "2 good second(s)" in r.reason


def test_baseline_degradation_is_not_a_detection() -> None:
    seconds = [sec(t, ok=0, fail=5) for t in range(1000, 1005)] + [sec(t) for t in range(1005, 1030)]
    r = measure(states(seconds), 1010.0, 1020.0, 3)
    assert r.detection is None and r.seconds == 0.0


def test_failures_faster_than_successes_do_not_lower_latency() -> None:
    buckets = WorkerBuckets()
    for i in range(100):
        buckets.add("checkout", 2.0 if i < 98 else 700.0, failed=i < 98, now=1000.2, users=1)
    snap = buckets.snapshot(1001.5, users=1)
    second = snap["buckets"]["1000"]
    assert (second["r"], second["f"]) == (100, 98)
    hist = Histogram.from_json(second["h"])
    assert hist.total == 2 and (hist.percentile(0.95) or 0) > 600  # only the two successes


def test_probe_timeouts_are_failures_and_latency_samples_at_the_timeout() -> None:
    assert Observation(False, 2000.0, "timed out", timed_out=True).latency_sample == 2000.0
    assert Observation(False, 3.0, "status 503").latency_sample is None
    assert Observation(True, 12.0).latency_sample == 12.0


WIN = windows_from_events(1000.0, 1040.0, [{"ts": 1010.0, "type": "fault.undo", "id": "f"},
                                            {"ts": 1020.0, "type": "fault.reverted", "id": "f"}])


def test_inconclusive_window_names_its_samples_and_can_be_allowed() -> None:
    seconds = [sec(t, ok=1 if t in (1011, 1014, 1017) else 0) for t in range(1000, 1040)]
    strict = SloInput("checkout", "load.success_ratio", ">=", 0.99, "fault")
    lenient = SloInput("checkout-ok", "load.success_ratio", ">=", 0.99, "fault", inconclusive_passes=True)
    few = SloInput("few", "load.success_ratio", ">=", 0.99, "fault", min_samples=3)
    by = {r.name: r for r in evaluate(seconds, [strict, lenient, few], WIN)}
    assert by["checkout"].status is SloStatus.INCONCLUSIVE and by["checkout"].samples == 3
    assert "3 samples" in by["checkout"].detail and "20 needed" in by["checkout"].detail
    assert "raise the load or lengthen" in by["checkout"].detail
    assert not all_met([by["checkout"]]) and all_met([by["checkout-ok"]])
    assert by["few"].status is SloStatus.PASS


def test_latency_slo_with_only_failures_is_inconclusive_not_fast() -> None:
    seconds = [sec(t, ok=0, fail=100) for t in range(1010, 1020)]
    r = evaluate(seconds, [SloInput("lat", "load.p95", "<=", 0.8, "fault")], WIN)[0]
    assert r.status is SloStatus.INCONCLUSIVE and r.measured is None
    assert "0 successful requests" in r.detail


def test_error_budget_is_request_weighted() -> None:
    seconds = [sec(1000, ok=1, fail=1), sec(1001, ok=98)]  # 1 failure in 100 requests over 2 s
    b = error_budget(seconds, sla=0.99)
    assert b["bad_minutes"] * 60 == pytest.approx(0.02)  # 1 % of 2 s, not half a second
    assert b["traffic_seconds"] == 2 and b["availability"] == pytest.approx(0.99)


def test_fault_window_opens_at_the_first_action_not_after_the_last() -> None:
    events = [{"ts": 1010.0, "type": "fault.undo", "id": "kill"}, {"ts": 1015.2, "type": "fault.injected", "id": "kill"},
              {"ts": 1030.0, "type": "fault.reverted", "id": "kill"}]
    w = windows_from_events(1000.0, 1040.0, events)
    assert w.fault == (1010.0, 1030.0) and w.baseline == (1000.0, 1010.0)
    cut = windows_from_events(1000.0, 1040.0, events[:2])
    assert cut.fault == (1010.0, 1040.0) and cut.recovery is None


def test_reference_point_is_the_last_action_for_noop_reverts() -> None:
    events: list[dict[str, Any]] = [
        {"ts": 1010.0, "type": "fault.undo", "id": "kill"}, {"ts": 1010.2, "type": "fault.action", "id": "kill"},
        {"ts": 1018.0, "type": "fault.undo", "id": "kill"}, {"ts": 1018.3, "type": "fault.action", "id": "kill"},
        {"ts": 1030.0, "type": "fault.reverted", "id": "kill", "restores": False},
        {"ts": 1011.0, "type": "fault.undo", "id": "scale"},
        {"ts": 1025.0, "type": "fault.reverted", "id": "scale", "restores": True}]
    assert reference_points(events) == {"kill": 1018.3, "scale": 1025.0}


@pytest.mark.parametrize(("phase", "cut"), [
    ("baseline", {"baseline", "fault", "recovery", "whole"}), ("fault", {"fault", "recovery", "whole"}),
    ("recovery", {"recovery", "whole"}), ("steady-after", set())])
def test_an_interrupt_leaves_cut_short_windows_not_judged(phase: str, cut: set[str]) -> None:
    windows, why = cut_short([{"ts": 1.0, "type": "run.aborted", "reason": "interrupted by SIGINT", "phase": phase}])
    assert set(windows) == cut and "SIGINT" in why
    slos = [SloInput("base", "load.success_ratio", ">=", 0.5, "baseline"),
            SloInput("fault", "load.success_ratio", ">=", 0.99, "fault"),
            SloInput("rec", "recovery_time", "<=", 5.0)]
    seconds = [sec(t, ok=50, fail=50) for t in range(1000, 1040)]
    by = {r.name: r for r in evaluate(seconds, slos, WIN, None, windows, why)}
    for name, window in (("base", "baseline"), ("fault", "fault"), ("rec", "recovery")):
        assert (by[name].status is SloStatus.NOT_JUDGED) == (window in cut), name
    if "fault" in cut:
        assert "cut short" in by["fault"].detail and all_met(by.values())


def test_live_line_counts_every_second_over_the_last_five_and_since_start() -> None:
    import io

    from harness.report.console import ConsoleView, LiveState

    view = ConsoleView(LiveState("x"), stream=io.StringIO())
    view.update_from([sec(t, ok=100) for t in range(1000, 1010)])
    view.update_from([sec(1010, ok=50, fail=50)])  # one bad second among five
    view.update_from([sec(t, ok=100) for t in range(1011, 1015)])
    line = view.line()
    assert "last 5s 10.0%" in line and "since start 3.3% (50/1,500)" in line


def test_the_readme_worked_example() -> None:
    seconds = [sec(t) for t in range(0, 12)] + [sec(t, ok=40, fail=60) for t in range(12, 21)]
    seconds += [sec(21, ok=76, fail=24)] + [sec(t) for t in range(22, 40)]  # errors stop at 21.4
    r = measure(states(seconds), 10.3, 20.0, 3)
    assert r.detection == pytest.approx(1.7) and r.seconds == pytest.approx(2.0)


def test_seconds_touched_by_the_fault_window_belong_to_it() -> None:
    events = [{"ts": 1010.3, "type": "fault.undo", "id": "f"}, {"ts": 1019.6, "type": "fault.reverted", "id": "f"}]
    w = windows_from_events(1000.2, 1030.5, events).snapped()
    assert (w.baseline, w.fault, w.recovery, w.whole) == ((1000, 1010), (1010, 1020), (1020, 1031), (1000, 1031))
    # a failure in the second that holds the first action is the fault's, not the baseline's
    seconds = [sec(t) for t in range(1000, 1010)] + [sec(1010, ok=50, fail=50)] + [sec(t) for t in range(1011, 1031)]
    base = SloInput("base", "load.success_ratio", ">=", 1.0, "baseline")
    by = evaluate(seconds, [base], windows_from_events(1000.2, 1030.5, events))
    assert by[0].status is SloStatus.PASS and by[0].samples == 1000
