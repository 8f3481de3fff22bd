"""Guards fire on streaks of bad seconds; seconds without data neither count nor break."""

from __future__ import annotations

from typing import Any

import pytest

from harness.measure.guards import GuardInput, GuardSet
from harness.measure.histogram import Histogram
from harness.measure.timeline import Second


def sec(t: int, req: int = 100, fail: int = 0, ms: float = 50.0, probe: tuple[int, int] | None = None) -> Second:
    h = Histogram()
    if req:
        h.add(ms, req)
    data: dict[str, Any] = {"t": t, "phase": "fault"}
    if req:
        data["load"] = {"requests": req, "failures": fail, "hist": h.to_json(), "users": 1}
    if probe:
        data["probes"] = {"db": {"ok": probe[0], "fail": probe[1], "hist": {}}}
    return Second.from_json(data)


ERRORS = GuardInput("load.error_ratio", above=0.25, for_seconds=3)


def feed_all(guards: GuardSet, seconds: list[Second]) -> list[int]:
    return [s.t for s in seconds if guards.feed(s) is not None]


def test_fires_after_streak_and_reason_is_readable() -> None:
    guards = GuardSet([ERRORS])
    fired_at = feed_all(guards, [sec(1, fail=10), sec(2, fail=41), sec(3, fail=30), sec(4, fail=41),
                                 sec(5, fail=50)])
    assert fired_at == [4]
    fired = guards.fired
    assert fired is not None and fired.t == 4 and fired.index == 0
    assert fired.values == pytest.approx((0.41, 0.30, 0.41))
    assert fired.reason == "load.error_ratio above 0.25 for 3s (last: 41.00%)"
    assert fired.to_json()["guard"] == "load.error_ratio"


def test_good_second_resets_but_empty_seconds_do_not() -> None:
    guards = GuardSet([ERRORS])
    assert feed_all(guards, [sec(1, fail=50), sec(2, fail=50), sec(3, fail=0), sec(4, fail=50),
                             sec(5, fail=50)]) == []
    assert guards.streaks() == {"load.error_ratio": 2}
    assert feed_all(guards, [sec(6, req=0), sec(7, req=0), sec(8, fail=60)]) == [8]


def test_for_zero_fires_on_first_bad_second_and_only_once() -> None:
    guards = GuardSet([GuardInput("load.p95", above=1.0, name="slow")])
    assert feed_all(guards, [sec(1), sec(2, ms=1500.0), sec(3, ms=1500.0)]) == [2]
    assert guards.fired is not None and guards.fired.name == "slow"
    assert guards.fired.reason.startswith("load.p95 above 1s (last: 15")


def test_below_and_probe_guards() -> None:
    guards = GuardSet([GuardInput("load.rps", below=50, for_seconds=2),
                       GuardInput("probe.db.success_ratio", below=0.5, for_seconds=2)])
    seconds = [sec(1, req=10, probe=(0, 1)), sec(2, probe=(0, 1)), sec(3, req=100, probe=(1, 0))]
    assert feed_all(guards, seconds) == [2]
    assert guards.fired is not None and guards.fired.guard.sli == "probe.db.success_ratio"


def test_invalid_guards() -> None:
    with pytest.raises(ValueError):
        GuardSet([GuardInput("recovery_time", above=1)])
    with pytest.raises(ValueError):
        GuardSet([GuardInput("load.error_ratio")])
    with pytest.raises(ValueError):
        GuardSet([GuardInput("load.nope", above=1)])
