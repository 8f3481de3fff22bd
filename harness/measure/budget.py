"""How much of the month's error budget a run spent."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.measure.timeline import Counts, Second, read_timeline


def _source_counts(second: Second, source: str) -> list[Counts]:
    if source == "load":
        return [second.load] if second.load is not None else []
    return list(second.probes.values())


def error_budget(seconds: Iterable[Second] | Path | str, sla: float, month_days: int = 30) -> dict[str, Any]:
    """The run's cost against the SLA's monthly error budget.

    Definitions (read in the weekly review):

    - ``requests`` / ``failures``: every Locust request of the run and those that failed. When the
      run had no load at all, probe results are used instead, all probes of a second pooled
      (``source`` says which).
    - ``availability``: ``1 - failures / requests`` over the run (None without requests).
    - ``budget_minutes``: the month's allowance of downtime, ``month_days x 24 x 60 x (1 - sla)``;
      a 99 % SLA over 30 days allows 432 minutes.
    - ``bad_minutes``: strictly request-weighted downtime: the run's failure ratio times the minutes
      that carried requests, ``failures / requests x traffic_seconds / 60``. 1 failure in 100
      requests over 2 s costs 0.02 bad seconds, however the requests fall in those seconds.
    - ``share_of_month_budget``: ``bad_minutes / budget_minutes``; 1.0 or more means this run alone
      spent the whole month's budget.
    """
    if isinstance(seconds, (str, Path)):
        seconds = read_timeline(Path(seconds))
    totals = {"load": [0, 0, 0], "probes": [0, 0, 0]}  # requests, failures, seconds with requests
    for second in seconds:
        for source, tot in totals.items():
            counts = _source_counts(second, source)
            req, fail = sum(c.requests for c in counts), sum(c.failures for c in counts)
            if req > 0:
                tot[0] += req
                tot[1] += fail
                tot[2] += 1
    used = next((name for name, tot in totals.items() if tot[0] > 0), None)
    requests, failures, traffic_seconds = totals[used] if used else [0, 0, 0]
    bad_seconds = failures / requests * traffic_seconds if requests else 0.0
    budget_minutes = month_days * 24 * 60 * (1.0 - sla)
    bad_minutes = bad_seconds / 60.0
    return {
        "source": used,
        "sla": sla,
        "month_days": month_days,
        "requests": int(requests),
        "failures": int(failures),
        "availability": (1.0 - failures / requests) if requests else None,
        "traffic_seconds": int(traffic_seconds),
        "budget_minutes": budget_minutes,
        "bad_minutes": bad_minutes,
        "share_of_month_budget": (bad_minutes / budget_minutes) if budget_minutes > 0 else None,
    }
