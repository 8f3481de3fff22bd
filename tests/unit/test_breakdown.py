"""The per-step, per-phase table: same numbers as an SLO over that phase would measure."""

from __future__ import annotations

from typing import Any

from harness.measure.breakdown import breakdown
from harness.measure.histogram import Histogram
from harness.measure.sli import compute_over, parse_sli
from harness.measure.timeline import Second


def _counts(ok: int, fail: int, ms: float) -> dict[str, Any]:
    hist = Histogram()
    if ok:
        hist.add(ms, ok)
    return {"requests": ok + fail, "failures": fail, "hist": hist.to_json()}


def _second(t: int, phase: str, checkout: tuple[int, int, float], probe_ok: bool | None = True) -> Second:
    steps = {"checkout": _counts(*checkout), "home": _counts(10, 0, 20.0)}
    total = _counts(checkout[0] + 10, checkout[1], checkout[2])
    load = {**total, "users": 5, "steps": steps}
    probes = {} if probe_ok is None else {"site": {"ok": int(probe_ok), "fail": int(not probe_ok), "hist": {}}}
    return Second.from_json({"t": t, "phase": phase, "load": load, "probes": probes})


def test_checkout_during_the_outage_reads_off_the_table() -> None:
    seconds = [_second(t, "baseline", (20, 0, 100.0)) for t in range(5)]
    seconds += [_second(t, "fault", (10, 10, 900.0), probe_ok=t % 2 == 0) for t in range(5, 10)]
    seconds += [_second(t, "recovery", (20, 0, 120.0), probe_ok=None) for t in range(10, 13)]
    table = breakdown(seconds)
    assert list(table) == ["load", "probe.site", "step.checkout", "step.home"]
    assert list(table["step.checkout"]) == ["baseline", "fault", "recovery"]
    fault = table["step.checkout"]["fault"]
    assert (fault["requests"], fault["failures"], fault["error_ratio"], fault["seconds"]) == (100, 50, 0.5, 5)
    # the same value an SLO on step.checkout.p95 over the fault phase measures
    in_fault = [s for s in seconds if s.phase == "fault"]
    assert fault["p95"] == compute_over(in_fault, parse_sli("step.checkout.p95"), 5.0)
    assert 0.8 < fault["p95"] <= 1.0 and table["step.checkout"]["baseline"]["p95"] < 0.2
    assert table["probe.site"]["fault"]["failures"] == 3 and "recovery" not in table["probe.site"]


def test_no_load_and_empty_timelines() -> None:
    assert breakdown([]) == {}
    only_probe = Second.from_json({"t": 0, "phase": "baseline", "probes": {"p": {"ok": 1, "fail": 0, "hist": {}}}})
    table = breakdown([only_probe])
    assert list(table) == ["probe.p"] and table["probe.p"]["baseline"]["p95"] is None
