"""Watching a run while it goes: flush the timeline, feed the abort guards, refresh the live view, and
stop the run when a guard fires, the load generator dies or loses more workers than
``load.max_lost_workers``, or ``safety.max_duration`` is exceeded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.events import Event
from harness.journal import Journal
from harness.measure.guards import GuardInput, GuardSet
from harness.measure.timeline import TimelineWriter
from harness.report.console import ConsoleView
from harness.spec.models import SafetySpec

if TYPE_CHECKING:
    from harness.load.runner import LoadRunner  # imported when the run has load


def journal_worker(journal: Journal | None, message: dict[str, Any], max_lost: int) -> None:
    """A Locust worker left or joined (called from the load runner's reader thread): journaled; the
    watch aborts the run once more than ``max_lost`` are lost."""
    if journal is None:
        return
    fields = {"worker": message.get("worker"), "live": message.get("live")}
    if message.get("type") == "worker_lost":
        journal.write(Event.LOAD_WORKER_LOST, **fields, max_lost=max_lost)
    else:
        journal.write(Event.LOAD_WORKER_JOINED, **fields)


async def watch(safety: SafetySpec, timeline: TimelineWriter, journal: Journal, live: ConsoleView,
                load: LoadRunner | None, abort: Callable[[str], None], max_lost_workers: int = 0) -> None:
    """Every half second, until a reason to stop (passed to ``abort``) or cancellation."""
    guards = GuardSet([GuardInput(g.sli, g.above, g.below, g.for_) for g in safety.abort_when])
    hard_stop = time.time() + safety.max_duration
    while True:
        await asyncio.sleep(0.5)
        seconds = timeline.flush()
        live.update_from(seconds)
        live.refresh()
        for second in seconds:
            fired = guards.feed(second)
            if fired is not None:
                journal.write(Event.GUARD_FIRED, **fired.to_json())
                abort(f"guard: {fired.reason}")
                return
        if load is not None and not load.alive():
            abort("load generator died (see locust logs in the run folder)")
            return
        lost = load.lost_workers() if load is not None else []
        if len(lost) > max_lost_workers:
            abort(f"{len(lost)} load worker(s) lost ({', '.join(lost)}), more than load.max_lost_workers "
                  f"{max_lost_workers}: the load is no longer the one asked for")
            return
        if time.time() > hard_stop:
            abort(f"safety.max_duration {safety.max_duration:g}s exceeded")
            return
