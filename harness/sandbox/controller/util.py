"""Small pure helpers shared by the controller loops and the kubelet: quantities, conditions, pods."""

from __future__ import annotations

import re
from typing import Any

from ..core.store import Obj, now_iso

_SUFFIX = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "m": 1e-3, "": 1,
}
_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([A-Za-z]*)$")


def parse_quantity(value: Any) -> float:
    """A Kubernetes resource quantity (``500m``, ``1.5``, ``256Mi``, ``1e3``) as a float."""
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    m = _QUANTITY_RE.match(str(value).strip())
    if not m or m.group(2) not in _SUFFIX:
        raise ValueError(f"invalid quantity: {value!r}")
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def cpu_millis(value: Any) -> int:
    """CPU quantity in millicores."""
    return round(parse_quantity(value) * 1000)


def pod_requests(pod: Obj) -> tuple[int, int]:
    """(cpu millicores, memory bytes) requested by all containers of a pod."""
    cpu = mem = 0
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += cpu_millis(req.get("cpu", 0))
        mem += int(parse_quantity(req.get("memory", 0)))
    return cpu, mem


def condition(obj: Obj, ctype: str) -> dict[str, Any] | None:
    """The status condition of type ``ctype``, or None."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


_STAMPS = ("lastTransitionTime", "lastProbeTime", "lastUpdateTime", "lastHeartbeatTime")


def set_condition(obj: Obj, ctype: str, status: str, reason: str = "", message: str = "",
                  stamps: tuple[str, ...] = ()) -> bool:
    """Set a condition in ``obj.status.conditions``; keeps lastTransitionTime unless the status
    changes; sets the extra timestamp fields ``stamps`` to now on any change. True when changed."""
    conds = obj.setdefault("status", {}).setdefault("conditions", [])
    ts = now_iso()
    new: dict[str, Any] = {"type": ctype, "status": status, **({"reason": reason} if reason else {}),
                           **({"message": message} if message else {})}
    for i, c in enumerate(conds):
        if c.get("type") != ctype:
            continue
        if {k: v for k, v in c.items() if k not in _STAMPS} == new:
            return False
        new.update({s: ts for s in stamps})
        new["lastTransitionTime"] = c.get("lastTransitionTime", ts) if c.get("status") == status else ts
        conds[i] = new
        return True
    new.update({s: ts for s in stamps})
    new["lastTransitionTime"] = ts
    conds.append(new)
    return True


def is_terminating(pod: Obj) -> bool:
    """The pod has a deletionTimestamp."""
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_finished(pod: Obj) -> bool:
    """The pod's phase is Succeeded or Failed."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    """Counts towards a ReplicaSet's replicas: not terminating and not finished."""
    return not is_terminating(pod) and not is_finished(pod)


def is_ready(pod: Obj) -> bool:
    """The pod's Ready condition is True."""
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def is_virtual(pod: Obj) -> bool:
    """A processless pod (annotation ``sandbox/virtual: "true"``)."""
    return (pod["metadata"].get("annotations") or {}).get("sandbox/virtual") == "true"


def controller_uid(obj: Obj) -> str | None:
    """The uid of the object's controlling owner."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            uid = ref.get("uid")
            return uid if isinstance(uid, str) else None
    return None


def owner_ref(owner: Obj) -> dict[str, Any]:
    """An ownerReference to ``owner`` with controller: true."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"],
        "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True,
    }


def node_is_ready(node: Obj) -> bool:
    """The node's Ready condition is True."""
    c = condition(node, "Ready")
    return bool(c and c.get("status") == "True")


def app_of(pod: Obj) -> str:
    """The pod's app label (or its name)."""
    return str((pod["metadata"].get("labels") or {}).get("app", pod["metadata"]["name"]))


def ns_name(obj: Obj) -> tuple[str, str]:
    """(namespace, name) of an object."""
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def pod_fields(pod: Obj) -> dict[str, Any]:
    """The fields every pod truth record carries."""
    meta = pod["metadata"]
    return {"pod": meta["name"], "namespace": meta.get("namespace", ""), "app": app_of(pod),
            "node": (pod.get("spec") or {}).get("nodeName")}
