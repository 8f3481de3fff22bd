"""The per-second timeline writer and reader."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from harness.measure.histogram import Histogram
from harness.measure.timeline import Second, TimelineWriter, read_timeline


def _hist(ms: float, n: int) -> dict[str, object]:
    h = Histogram()
    h.add(ms, n)
    return h.to_json()


def _record(t: int, requests: int, failures: int = 0, ms: float = 50.0, **extra: Any) -> dict[str, Any]:
    return {"t": t, "requests": requests, "failures": failures, "hist": _hist(ms, requests),
            "users": 10, **extra}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_gaps_are_filled_and_settle_is_respected(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    w = TimelineWriter(path, start=1000.2, settle=2.0)
    w.add_load(_record(1000, 5))
    w.add_load(_record(1003, 7))
    w.add_load(_record(1004, 1))
    written = w.flush(now=1006.5)  # seconds ending at or before 1004.5 -> 1000..1003
    assert [s.t for s in written] == [1000, 1001, 1002, 1003]
    lines = _lines(path)
    assert [x["t"] for x in lines] == [1000, 1001, 1002, 1003]
    assert [x["s"] for x in lines] == [0, 1, 2, 3]
    assert lines[0]["load"]["requests"] == 5 and lines[3]["load"]["requests"] == 7
    assert "load" not in lines[1] and lines[1]["probes"] == {} and lines[1]["events"] == []
    w.close()
    assert [x["t"] for x in _lines(path)] == [1000, 1001, 1002, 1003, 1004]


def test_close_runs_to_end_and_flush_after_close_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    w = TimelineWriter(path, start=1000.0)
    w.add_load(_record(1001, 3))
    w.close(end=1004.5)
    assert [x["t"] for x in _lines(path)] == [1000, 1001, 1002, 1003, 1004]
    assert w.flush(now=2000.0) == []


def test_order_late_data_and_merging(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    w = TimelineWriter(path, start=1000.0, settle=0.0)
    w.add_load(_record(1002, 4, 1, steps={"cart": {"requests": 4, "failures": 1, "hist": _hist(80, 4)}}))
    w.add_load(_record(1001, 2))
    w.add_load(_record(1002, 6, 2, users=30,
                       steps={"cart": {"requests": 1, "failures": 0, "hist": _hist(20, 1)}}))
    w.flush(now=1002.0)  # writes 1000, 1001
    w.add_load(_record(1000, 9))  # late: folded into 1002, counted
    w.close()
    lines = _lines(path)
    assert [x["t"] for x in lines] == [1000, 1001, 1002]
    assert lines[2]["load"]["requests"] == 4 + 6 + 9
    assert lines[2]["load"]["failures"] == 3
    assert lines[2]["load"]["users"] == 30
    assert lines[2]["load"]["steps"]["cart"]["requests"] == 5
    assert w.live.totals().late_records == 1
    assert w.live.totals().requests == 2 + 19


def test_phase_faults_events_probes(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    w = TimelineWriter(path, start=1000.0, settle=0.0)
    w.set_phase("baseline", 1000.0)
    w.set_phase("fault", 1002.7)  # after 1002's midpoint: 1002 stays baseline
    w.set_active_faults(["kill-1"], 1001.3)
    w.set_active_faults([], 1001.6)  # brief fault: still shown on second 1001
    w.set_active_faults(["zone-b"], 1003.0)
    w.add_event({"ts": 1001.9, "type": "fault.reverted", "id": "kill-1"})
    w.add_event({"ts": 1001.3, "type": "fault.injected", "id": "kill-1"})
    w.add_probe("health", 1003.1, True, 12.0)
    w.add_probe("health", 1003.5, False, None)
    w.add_probe("health", 1003.9, True, 14.0)
    w.close(end=1005.0)
    seconds = list(read_timeline(path))
    assert [s.phase for s in seconds] == ["baseline", "baseline", "baseline", "fault", "fault"]
    assert [s.faults for s in seconds] == [(), ("kill-1",), (), ("zone-b",), ("zone-b",)]
    assert [e["type"] for e in seconds[1].events] == ["fault.injected", "fault.reverted"]
    probe = seconds[3].probes["health"]
    assert (probe.requests, probe.failures, probe.hist.total) == (3, 1, 2)
    assert seconds[3].load is None


def test_live_view_and_callback(tmp_path: Path) -> None:
    seen: list[Second] = []
    w = TimelineWriter(tmp_path / "t.jsonl", start=1000.0, settle=1.0, live_size=3, on_second=seen.append)
    for t in range(1000, 1010):
        w.add_load(_record(t, 10, 1))
    w.flush(now=1008.0)
    assert [s.t for s in seen] == list(range(1000, 1007))
    assert [s.t for s in w.live.recent()] == [1004, 1005, 1006]
    assert [s.t for s in w.live.recent(1)] == [1006]
    totals = w.live.totals()
    assert (totals.seconds, totals.requests, totals.failures) == (7, 70, 7)
    w.close()
    assert len(seen) == 10


def test_read_timeline_round_trips_histograms(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    w = TimelineWriter(path, start=1000.0)
    w.add_load(_record(1000, 100, 0, ms=200.0))
    w.close()
    (second,) = list(read_timeline(path))
    assert second.load is not None
    p95 = second.load.hist.percentile(0.95)
    assert p95 is not None and abs(p95 - 200.0) / 200.0 < 0.03


def test_two_threads_adding(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    w = TimelineWriter(path, start=1000.0, settle=0.0)
    per_thread = 3000

    def loader() -> None:
        for i in range(per_thread):
            w.add_load(_record(1000 + i % 50, 1, i % 2))

    def prober() -> None:
        for i in range(per_thread):
            w.add_probe("p", 1000 + (i % 50) + 0.5, i % 3 != 0, 5.0)

    def flusher() -> None:
        for now in range(1000, 1030):
            w.flush(now=float(now))

    threads = [threading.Thread(target=f) for f in (loader, prober, flusher)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    w.close()
    seconds = list(read_timeline(path))
    assert [s.t for s in seconds] == list(range(1000, 1000 + len(seconds)))
    assert sum(s.load.requests for s in seconds if s.load) == per_thread
    assert sum(s.load.failures for s in seconds if s.load) == per_thread // 2
    assert sum(c.requests for s in seconds for c in s.probes.values()) == per_thread
    assert sum(c.failures for s in seconds for c in s.probes.values()) == per_thread // 3
