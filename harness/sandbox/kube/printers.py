"""Row cells for nodes, pods and events, following the logic of upstream's ``printers.go``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Cells = list[Any]

NODE_ROLE_PREFIX = "node-role.kubernetes.io/"


def human_duration(seconds: float) -> str:
    """apimachinery's ``duration.HumanDuration``: 45s, 3m20s, 12m, 5h3m, 20h, 3d4h, 40d, 2y30d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes, hours = s // 60, s // 3600
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """Age of an RFC 3339 timestamp, or ``<unknown>``."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return human_duration((now - then).total_seconds())


# -- nodes ------------------------------------------------------------------------------------------
def node_status_text(node: Obj) -> str:
    """``Ready``, ``NotReady``, ``Unknown``, with ``,SchedulingDisabled`` when cordoned."""
    parts = []
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            parts.append("Ready" if cond.get("status") == "True" else "NotReady")
    if not parts:
        parts.append("Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(labels: dict[str, str]) -> str:
    """Roles from ``node-role.kubernetes.io/<role>`` and ``kubernetes.io/role`` labels, or ``<none>``."""
    roles = {k[len(NODE_ROLE_PREFIX):] for k in labels if k.startswith(NODE_ROLE_PREFIX)}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    return ",".join(sorted(r for r in roles if r)) or "<none>"


def _address(node: Obj, kind: str) -> str:
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == kind:
            return str(addr.get("address"))
    return "<none>"


def node_cells(node: Obj) -> Cells:
    """NAME STATUS ROLES AGE VERSION | INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME."""
    meta = node["metadata"]
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return [
        meta["name"], node_status_text(node), node_roles(meta.get("labels") or {}),
        age(meta.get("creationTimestamp")), info.get("kubeletVersion", ""),
        _address(node, "InternalIP"), _address(node, "ExternalIP"), info.get("osImage", "<unknown>"),
        info.get("kernelVersion", "<unknown>"), info.get("containerRuntimeVersion", "<unknown>"),
    ]


# -- pods -------------------------------------------------------------------------------------------
def _container_reason(cs: Obj) -> str | None:
    state = cs.get("state") or {}
    waiting, terminated = state.get("waiting"), state.get("terminated")
    if waiting and waiting.get("reason"):
        return str(waiting["reason"])
    if terminated and terminated.get("reason"):
        return str(terminated["reason"])
    if terminated:
        sig = terminated.get("signal")
        return f"Signal:{sig}" if sig else f"ExitCode:{terminated.get('exitCode', 0)}"
    return None


def _has_ready_condition(status: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def pod_status_text(pod: Obj) -> tuple[str, int, int]:
    """(STATUS, ready containers, restarts) the way kubectl prints a pod."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    ready = restarts = 0
    running = False
    for cs in reversed(status.get("containerStatuses") or []):
        restarts += int(cs.get("restartCount", 0))
        why = _container_reason(cs)
        if why:
            reason = why
        elif cs.get("ready") and (cs.get("state") or {}).get("running") is not None:
            running = True
            ready += 1
    if reason == "Completed" and running:
        reason = "Running" if _has_ready_condition(status) else "NotReady"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason, ready, restarts


def _readiness_gates(pod: Obj) -> str:
    gates = (pod.get("spec") or {}).get("readinessGates") or []
    if not gates:
        return "<none>"
    conds = {c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or []}
    ok = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
    return f"{ok}/{len(gates)}"


def pod_cells(pod: Obj) -> Cells:
    """NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED-NODE READINESS-GATES."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    reason, ready, restarts = pod_status_text(pod)
    total = len(spec.get("containers") or [])
    return [
        meta["name"], f"{ready}/{total}", reason, str(restarts), age(meta.get("creationTimestamp")),
        status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>", _readiness_gates(pod),
    ]


# -- events -----------------------------------------------------------------------------------------
def _event_source(ev: Obj) -> str:
    src = ev.get("source") or {}
    component, host = src.get("component") or ev.get("reportingComponent") or "", src.get("host") or ""
    return f"{component}, {host}" if host else component or "<none>"


def event_cells(ev: Obj) -> Cells:
    """LAST SEEN TYPE REASON OBJECT | SUBOBJECT SOURCE | MESSAGE | FIRST SEEN COUNT NAME."""
    meta, involved = ev["metadata"], ev.get("involvedObject") or {}
    first = age(ev.get("firstTimestamp") or ev.get("eventTime"))
    series = ev.get("series") or {}
    last = age(series.get("lastObservedTime")) if series else (age(ev["lastTimestamp"])
                                                                if ev.get("lastTimestamp") else first)
    return [
        last, ev.get("type", ""), ev.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""), _event_source(ev), str(ev.get("message", "")).strip(),
        first, int(ev.get("count") or 1), meta["name"],
    ]
