"""The disruption controller: keeps every PodDisruptionBudget's status current."""

from __future__ import annotations

import copy
import math
from typing import Any

from harness.selectors import match_labels_selector

from ..core.context import Context
from ..core.store import Obj
from .cache import Cache
from .util import controller_uid, is_finished, is_ready, is_terminating, set_condition
from .workloads import write_status


def _scaled(value: Any, total: int) -> int:
    """An IntOrString (``2`` or ``"50%"``) against ``total``, percentages rounded up."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(total * float(value[:-1]) / 100)
    return int(value)


def _expected(pods: list[Obj], cache: Cache) -> int:
    """Desired replicas of the controllers owning ``pods`` (or the number of pods)."""
    owners = {controller_uid(p) for p in pods} - {None}
    total, found = 0, set()
    for rs in cache.all("replicasets"):
        if rs["metadata"]["uid"] in owners:
            total += int((rs.get("spec") or {}).get("replicas", 0))
            found.add(rs["metadata"]["uid"])
    return total + sum(1 for p in pods if controller_uid(p) not in found)


def pdb_status(pdb: Obj, pods: list[Obj], expected: int) -> dict[str, Any]:
    """The status a PDB over ``pods`` (already selected) should have."""
    spec = pdb.get("spec") or {}
    status = copy.deepcopy(pdb.get("status") or {})
    present = {p["metadata"]["name"]: p for p in pods if not is_terminating(p)}
    disrupted = {k: v for k, v in (status.get("disruptedPods") or {}).items() if k in present}
    healthy = sum(1 for name, p in present.items() if is_ready(p) and name not in disrupted)
    if "minAvailable" in spec and spec["minAvailable"] is not None:
        desired = _scaled(spec["minAvailable"], expected)
    elif spec.get("maxUnavailable") is not None:
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
    else:
        desired = expected
    allowed = max(0, healthy - desired)
    status.update(currentHealthy=healthy, desiredHealthy=desired, expectedPods=expected,
                  disruptionsAllowed=allowed, observedGeneration=pdb["metadata"].get("generation", 1))
    if disrupted:
        status["disruptedPods"] = disrupted
    else:
        status.pop("disruptedPods", None)
    holder = {"status": status}
    if allowed > 0:
        set_condition(holder, "DisruptionAllowed", "True", "SufficientPods", "")
    else:
        set_condition(holder, "DisruptionAllowed", "False", "InsufficientPods", "")
    return status


class Disruption:
    """Recomputes every PDB's status in one pass."""

    def __init__(self, ctx: Context, cache: Cache) -> None:
        self.ctx = ctx
        self.cache = cache

    def reconcile(self, pods_by_namespace: dict[str, list[Obj]]) -> None:
        """One pass over every PDB."""
        for pdb in self.cache.all("poddisruptionbudgets"):
            ns = pdb["metadata"].get("namespace", "")
            match = match_labels_selector((pdb.get("spec") or {}).get("selector"))
            pods = [p for p in pods_by_namespace.get(ns, [])
                    if not is_finished(p) and match(p["metadata"].get("labels") or {})]
            active = [p for p in pods if not is_terminating(p)]
            write_status(self.ctx, "poddisruptionbudgets", pdb, pdb_status(pdb, pods, _expected(active, self.cache)))
