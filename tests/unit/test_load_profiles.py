"""Load profiles and generator health, pure: stage validation and schedule, the shortfall and saturation
rules on hand-built timelines, their effect on SLO results, and the master's offered/health samples."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from harness.load.health import Offered, WorkerWatch
from harness.load.pace import Pace
from harness.load.remote import parse_master
from harness.measure.generator import (
    SHORTFALL_TEXT,
    Flag,
    generator_flags,
    generator_summary,
    mark_inconclusive,
)
from harness.measure.slo import SloResult, SloStatus
from harness.measure.timeline import Second
from harness.report.summary import render_summary
from harness.spec.models import Change, LoadSpec


def _load(**fields: Any) -> LoadSpec:
    return LoadSpec.model_validate({"users": 10, "spawn_rate": 5, **fields})


def test_spike_stage_becomes_ramp_up_and_ramp_back() -> None:
    spec = _load(stages=[{"at": "30s", "ramp_to": 110, "in": "10s", "hold": "60s"}, {"at": "200s", "users": 5}])
    assert spec.schedule() == [Change(30.0, 110, 10.0, None), Change(100.0, 10, 10.0, None),
                               Change(200.0, 5, None, None)]


def test_spike_without_hold_stays_and_rps_targets_carry_on() -> None:
    spec = _load(target_rps=100, stages=[{"at": 5, "ramp_to": 50, "in": 5}, {"at": 60, "users": 20, "target_rps": 400}])
    assert spec.schedule() == [Change(5.0, 50, 8.0, 100.0), Change(60.0, 20, None, 400.0)]


@pytest.mark.parametrize(("stage", "words"), [
    ({"at": 1}, "exactly one of `users`"),
    ({"at": 1, "users": 5, "ramp_to": 9, "in": 2}, "exactly one of `users`"),
    ({"at": 1, "ramp_to": 9}, "needs `in`"),
    ({"at": 1, "ramp_to": 9, "in": 2, "spawn_rate": 3}, "remove `spawn_rate`"),
    ({"at": 1, "users": 9, "hold": "5s"}, "belong to a spike"),
    ({"at": 1, "ramp_to": 9, "in": 0}, "greater than 0"),
])
def test_stage_shapes_are_validated(stage: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        _load(stages=[stage])


def test_a_stage_inside_a_spike_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"stage at 50s starts inside the spike at 30s .* end at 110s"):
        _load(stages=[{"at": 30, "ramp_to": 100, "in": 10, "hold": 60}, {"at": 50, "users": 5}])


def test_remote_worker_fields() -> None:
    spec = _load(workers=0, remote_workers=3, master_bind="0.0.0.0", master_port=5557)
    assert (spec.remote_worker_wait, spec.max_lost_workers) == (60.0, 0)
    with pytest.raises(ValidationError, match="no one to run the users"):
        _load(workers=0)
    with pytest.raises(ValidationError, match="fixed `master_port`"):
        _load(remote_workers=2)
    assert parse_master("harness-master:5557") == ("harness-master", 5557)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_master("harness-master")


def _second(s: int, requests: int, **load: Any) -> Second:
    return Second.from_json({"t": 1000 + s, "s": s, "phase": "fault",
                             "load": {"requests": requests, "failures": 0, "users": load.pop("users", 10), **load}})


def test_shortfall_needs_five_seconds_in_a_row_below_ninety_percent() -> None:
    at = {"target_rps": 100.0, "target_users": 10}
    four = [_second(s, 80, **at) for s in range(4)] + [_second(4, 95, **at)] + [_second(s, 80, **at) for s in range(5, 9)]
    assert generator_flags(four) == [], "4 short seconds, a good one, 4 short: no streak of 5"
    five = [_second(s, 89, **at) for s in range(2, 7)]
    [flag] = generator_flags(five)
    assert (flag.kind, flag.message, flag.longest, flag.first_s, flag.seconds) == ("shortfall", SHORTFALL_TEXT, 5, 2, 5)
    assert generator_flags([_second(s, 90, **at) for s in range(8)]) == [], "90 % is enough"


def test_shortfall_ignores_ramps_and_seconds_without_a_target() -> None:
    ramp = [_second(s, 10, users=3, target_rps=100.0, target_users=10) for s in range(10)]
    no_target = [_second(s, 1, target_users=10) for s in range(10)]
    assert generator_flags(ramp) == [] and generator_flags(no_target) == []
    gap = [_second(0, 10, target_rps=100.0, target_users=10), _second(1, 10, target_rps=100.0, target_users=10),
           Second.from_json({"t": 1002, "s": 2, "phase": "fault"}),
           *[_second(s, 10, target_rps=100.0, target_users=10) for s in (3, 4, 5)]]
    assert [f.longest for f in generator_flags(gap)] == [5], "a second without load data breaks no streak"


def test_users_lost_outside_a_ramp_count_as_a_shortfall() -> None:
    ramping = [_second(s, 10, users=3, target_rps=100.0, target_users=10, ramping=True) for s in range(8)]
    assert generator_flags(ramping) == []
    lost = [_second(s, 30, users=3, target_rps=100.0, target_users=10, ramping=False) for s in range(8)]
    assert [f.kind for f in generator_flags(lost)] == ["shortfall"], "a worker's users gone: the load is short"


def test_saturation_is_cpu_above_ninety_for_five_seconds() -> None:
    hot = [_second(s, 100, cpu=95.0) for s in range(5)]
    [flag] = generator_flags(hot)
    assert flag.kind == "saturated" and "load generator saturated" in flag.message
    assert generator_flags([_second(s, 100, cpu=90.0) for s in range(9)]) == []
    assert generator_flags([_second(s, 100, cpu=99.0) for s in range(4)]) == []


def _slo(name: str, sli: str, status: SloStatus) -> SloResult:
    return SloResult(name, sli, ">= 99%", "whole", 0.995, "99.5%", status, "", 100)


def test_flags_make_passed_load_slos_inconclusive_and_never_hide_a_failure() -> None:
    flag = Flag("shortfall", SHORTFALL_TEXT, 6, 0, 6)
    results = [_slo("a", "load.success_ratio", SloStatus.PASS), _slo("b", "step.checkout.p95", SloStatus.FAIL),
               _slo("c", "probe.health.success_ratio", SloStatus.PASS)]
    a, b, c = mark_inconclusive(results, [flag])
    assert a.status is SloStatus.INCONCLUSIVE and SHORTFALL_TEXT in a.detail and not a.ok
    assert b.status is SloStatus.FAIL and SHORTFALL_TEXT in b.detail
    assert c.status is SloStatus.PASS, "probe SLIs are not the generator's"
    assert mark_inconclusive(results, []) == results


def test_generator_summary_and_its_summary_md() -> None:
    at = {"target_rps": 100.0, "target_users": 10, "cpu": 40.0}
    seconds = [_second(s, 50, **at) for s in range(6)]
    events = [{"type": "load.worker_lost", "worker": "w-1"}, {"type": "phase", "phase": "fault"}]
    gen = generator_summary(seconds, events)
    assert (gen["offered_requests"], gen["achieved_requests"], gen["peak_cpu"]) == (600, 300, 40.0)
    assert gen["workers"] == {"lost": ["w-1"], "joined": []}
    text = render_summary({"name": "x", "status": "failed", "exit_code": 1, "generator": gen})
    assert f"**Warning: {SHORTFALL_TEXT}**" in text and "1 load worker(s) lost" in text
    assert "| achieved ÷ offered | 50% |" in text


def test_master_samples_offered_load_and_worker_health() -> None:
    offered, watch = Offered(), WorkerWatch()
    offered.set(20, 400.0)
    assert offered.per_user() == 20.0
    watch.begin(["a", "b"])
    watch.cpu("a", 50.0)
    watch.cpu("b", 97.0)
    watch.sample(1000.2, ["a", "b"], offered)
    watch.cpu("b", 20.0)
    watch.sample(1000.7, ["a", "b"], offered)
    record = watch.annotate({"t": 1000})
    assert record == {"t": 1000, "target_users": 20, "target_rps": 400.0, "cpu": 97.0, "workers": 2, "ramping": False}
    assert "cpu" not in watch.annotate({"t": 1001}), "a CPU reading belongs to its own second"
    assert watch.changes(["a", "c"]) == [("worker_lost", {"worker": "b", "live": 2}),
                                         ("worker_joined", {"worker": "c", "live": 2})]
    assert watch.changes(["a", "c"]) == [], "each said once"


def test_pace_per_user_throughput_and_remote_think_time() -> None:
    class User:
        pass

    pace, user = Pace(), User()
    assert pace.wait(user, lambda u: 1.5) == 1.5, "no target: the journeys' own wait_time"
    pace.update({"per_user": 4.0, "think": [0.1, 0.2]}, remote=False)
    first = pace.wait(user, lambda u: 1.5)
    assert 0.0 <= first <= 0.25
    user._harness_last_run -= first + 0.1  # type: ignore[attr-defined]  # it waited, then ran a 0.1 s task
    assert 0.13 < pace.wait(user, lambda u: 1.5) <= 0.15, "the task's own time is taken off the 0.25 s pace"
    pace.update({"per_user": None, "think": [0.1, 0.2]}, remote=True)
    assert 0.1 <= pace.wait(user, lambda u: 1.5) <= 0.2, "a remote worker takes the master's think time"


class _Load:
    """Stands in for a LoadRunner whose workers are going (the real one is in test_load_remote)."""

    def __init__(self) -> None:
        self.lost: list[str] = []

    def alive(self) -> bool:
        return True

    def lost_workers(self) -> list[str]:
        return list(self.lost)


def test_losing_more_workers_than_allowed_aborts_through_the_watch(tmp_path: Path) -> None:
    from harness.journal import Journal
    from harness.measure.timeline import TimelineWriter
    from harness.report.console import ConsoleView, LiveState
    from harness.run.watch import watch
    from harness.spec.models import SafetySpec

    load, reasons = _Load(), list[str]()
    timeline = TimelineWriter(tmp_path / "timeline.jsonl", start=time.time())
    live = ConsoleView(LiveState("x"), stream=io.StringIO())

    async def scenario() -> None:
        task = asyncio.create_task(watch(SafetySpec(), timeline, Journal(tmp_path / "events.jsonl"), live,
                                         load, reasons.append, max_lost_workers=1))  # type: ignore[arg-type]
        load.lost.append("w-1")
        await asyncio.sleep(0.7)
        assert not task.done() and not reasons, "one lost worker is within max_lost_workers: 1"
        load.lost.append("w-2")
        await asyncio.wait_for(task, 3)

    asyncio.run(scenario())
    timeline.close()
    assert reasons == ["2 load worker(s) lost (w-1, w-2), more than load.max_lost_workers 1: "
                       "the load is no longer the one asked for"]


def test_report_html_says_it_under_the_status(tmp_path: Path) -> None:
    import json

    from harness.report.html import render_html

    flag = Flag("saturated", "load generator saturated: its CPU was above 90% for 7 s in a row", 7, 3, 7)
    run = {"name": "x", "status": "failed", "exit_code": 1,
           "generator": {"flags": [flag.to_json()], "workers": {"lost": ["w-1"], "joined": []}}}
    (tmp_path / "run.json").write_text(json.dumps(run))
    html = render_html(tmp_path).read_text()
    assert 'id="generator-saturated"' in html and "load generator saturated" in html
    assert 'id="workers-lost"' in html and "w-1" in html


def test_worker_changes_are_journaled(tmp_path: Path) -> None:
    from harness.journal import Journal, read_journal
    from harness.run.watch import journal_worker

    journal = Journal(tmp_path / "events.jsonl")
    journal_worker(journal, {"type": "worker_lost", "worker": "w-1", "live": 1}, 0)
    journal_worker(journal, {"type": "worker_joined", "worker": "w-3", "live": 2}, 0)
    events = [(e["type"], e["worker"]) for e in read_journal(tmp_path / "events.jsonl")]
    assert events == [("load.worker_lost", "w-1"), ("load.worker_joined", "w-3")]
