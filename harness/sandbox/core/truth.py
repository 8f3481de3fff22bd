"""The ground-truth log: one timestamped JSON line per real change in the sandbox."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class Truth:
    """Appends to ``.sandbox/truth.jsonl``. Events: pod.created, pod.ready, pod.unready, pod.terminating, pod.killed,
    pod.deleted, node.ready, node.notready, endpoint.added, endpoint.removed, vm.stopped, vm.started,
    vm.recreating, vm.recreated (a managed instance group repairing a stopped VM: name, zone, mig, old_id,
    id), mig.patched (name, zone, repair), mig.repair_cancelled, toxic.added, toxic.removed,
    proxy.enabled, proxy.disabled, firewall.inserted (with its network), firewall.deleted."""

    def __init__(self, path: Path | None) -> None:
        self._fh = open(path, "a", buffering=1) if path else None  # noqa: SIM115

    def record(self, event: str, **fields: Any) -> None:
        if self._fh is None:
            return
        self._fh.write(json.dumps({"ts": round(time.time(), 3), "event": event, **fields}) + "\n")

    def close(self) -> None:
        if self._fh:
            self._fh.close()


def read_truth(path: Path) -> list[dict[str, Any]]:
    """All truth events, oldest first."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def service_down_and_back(truth: list[dict[str, Any]], service: str, after: float,
                          revert: float) -> tuple[float | None, float | None]:
    """Ground truth of an outage of ``service``: the first moment after ``after`` when no pod was both
    routed to by the ingress (``endpoint.added``, not removed) and serving (not ``pod.terminating``: a
    shop pod closes its listener on SIGTERM, then drains; nor ``pod.killed``), and the first moment after
    ``revert`` when one was again."""
    serving: set[str] = set()
    down = back = None
    for t in truth:
        if t.get("service", t.get("app")) != service:
            continue
        if t["event"] == "endpoint.added":
            serving.add(t["pod"])
        elif t["event"] in ("endpoint.removed", "pod.terminating", "pod.killed"):
            serving.discard(t["pod"])
        if t["ts"] > after and down is None and not serving:
            down = t["ts"]
        if t["ts"] > revert and down is not None and back is None and serving:
            back = t["ts"]
    return down, back
