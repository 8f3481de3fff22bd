"""Grafana annotations from the journal: one per fault, over its window (first action → revert).

Pure: the journal's events and run.json's verdict in, ``Annotation`` values out. A fault's window is
the measurement's (``harness.measure.slo.first_actions``): from its first ``fault.undo`` (written just
before it acts) to its first ``fault.reverted``; a fault never reverted runs to the end of the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.clients.grafana import Annotation
from harness.events import Event
from harness.measure.slo import first_actions


@dataclass(frozen=True)
class FaultWindow:
    """A fault's window in epoch seconds, as the journal says."""

    id: str
    kind: str
    start: float
    end: float
    reverted: bool


def fault_windows(events: Sequence[Mapping[str, Any]]) -> list[FaultWindow]:
    """Every fault that acted, in the order it first acted."""
    starts = first_actions(events)
    kinds = {str(e["id"]): str(e.get("kind") or "") for e in events if e.get("id") and e.get("kind")}
    reverts: dict[str, float] = {}
    for e in events:
        if e.get("type") == Event.FAULT_REVERTED and e.get("id") and str(e["id"]) not in reverts:
            reverts[str(e["id"])] = float(e["ts"])
    last = max((float(e["ts"]) for e in events), default=0.0)
    windows = [FaultWindow(fid, kinds.get(fid, ""), start, reverts.get(fid, max(last, start)), fid in reverts)
               for fid, start in starts.items()]
    return sorted(windows, key=lambda w: w.start)


def ms(ts: float) -> int:
    """Epoch seconds → epoch milliseconds, as Grafana wants them: rounded to the journal's precision first
    (``round(ts, 3)``), so an event's annotation time is its journaled time whichever copy it is made from."""
    return int(round(round(ts, 3) * 1000))


def _text(window: FaultWindow, run: Mapping[str, Any], link: str) -> str:
    slos = "; ".join(f"{s.get('name')} {s.get('status')} ({s.get('display') or s.get('measured')})"
                     for s in run.get("slos") or [])
    end = "reverted" if window.reverted else "NOT reverted"
    return (f"Chaos: {window.kind} {window.id} ({end}) — {run.get('name')} on {run.get('target')}: "
            f"verdict {run.get('status')}" + (f". SLOs: {slos}" if slos else "") + f". Report: {link}")


def fault_annotations(events: Sequence[Mapping[str, Any]], run: Mapping[str, Any], link: str,
                dashboard_uid: str | None = None) -> list[Annotation]:
    """One annotation per fault window, tagged with the experiment, the fault kind and the target."""
    return [Annotation(time=ms(w.start), time_end=ms(w.end),
                       tags=["chaos", f"experiment:{run.get('name')}", f"fault:{w.kind}", f"target:{run.get('target')}"],
                       text=_text(w, run, link), dashboard_uid=dashboard_uid, label=w.id)
            for w in fault_windows(events)]
