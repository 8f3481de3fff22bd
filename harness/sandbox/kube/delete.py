"""delete and deletecollection, graceful pod deletion, and the ``pods/eviction`` subresource.

A pod on a node is deleted gracefully: the API sets ``metadata.deletionTimestamp`` (now + grace) and
``metadata.deletionGracePeriodSeconds`` and returns the pod; the kubelet kills it and removes the
object. A pod on no node, or a delete with ``gracePeriodSeconds: 0``, is removed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from harness.selectors import match_labels_selector

from ..core.store import NotFound, Store
from .crud import check_field_selector, get_object
from .io import (
    DeleteOptions,
    check_preconditions,
    delete_options,
    json_response,
    read_body,
    render,
    state,
)
from .request import RequestInfo
from .status import ApiError, bad_request, success

Obj = dict[str, Any]
DEFAULT_POD_GRACE = 30

EVICTION_BLOCKED = "Cannot evict pod as it would violate the pod's disruption budget."


def _details(info: RequestInfo, obj: Obj) -> Obj:
    meta = obj["metadata"]
    return {"name": meta["name"], "group": info.group, "kind": info.plural, "uid": meta.get("uid")}


def _delete_now(store: Store, info: RequestInfo, obj: Obj, opts: DeleteOptions) -> Obj:
    if not opts.dry_run:
        try:
            store.delete(info.plural, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        except NotFound:
            pass  # removed meanwhile (by the kubelet): the delete still succeeded
    return obj


def pod_grace_period(pod: Obj, opts: DeleteOptions) -> int:
    """gracePeriodSeconds from the request, else the pod's terminationGracePeriodSeconds, else 30."""
    if opts.grace_period is not None:
        return opts.grace_period
    spec_grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return int(spec_grace) if spec_grace is not None else DEFAULT_POD_GRACE


def delete_pod(store: Store, info: RequestInfo, pod: Obj, opts: DeleteOptions) -> Obj:
    """Gracefully delete a pod (or at once when unscheduled or grace 0); returns the pod."""
    grace = pod_grace_period(pod, opts)
    meta = pod["metadata"]
    if not (pod.get("spec") or {}).get("nodeName") or grace == 0:
        return _delete_now(store, info, pod, opts)
    if meta.get("deletionTimestamp") and grace >= int(meta.get("deletionGracePeriodSeconds", grace)):
        return pod
    if opts.dry_run:
        return pod

    def mark(obj: Obj) -> None:
        when = datetime.now(UTC) + timedelta(seconds=grace)
        obj["metadata"].setdefault("deletionTimestamp", when.strftime("%Y-%m-%dT%H:%M:%SZ"))
        obj["metadata"]["deletionGracePeriodSeconds"] = grace

    return store.mutate("pods", meta.get("namespace"), meta["name"], mark)


def delete_other(store: Store, info: RequestInfo, obj: Obj, opts: DeleteOptions) -> Obj:
    """Every other kind is removed at once."""
    return _delete_now(store, info, obj, opts)


# Per-resource delete behaviour; anything absent is removed at once.
DELETERS: dict[str, Callable[[Store, RequestInfo, Obj, DeleteOptions], Obj]] = {"pods": delete_pod}


async def delete(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """DELETE one object. Pods answer the (terminating) pod; others a Status Success."""
    store = state(req).ctx.store
    opts = delete_options(req, await read_body(req))
    obj = get_object(store, info)
    check_preconditions(info, obj, opts.preconditions)
    deleter = DELETERS.get(info.plural)
    if deleter is None:
        delete_other(store, info, obj, opts)
        return json_response(success(200, _details(info, obj)))
    return render(req, info, deleter(store, info, obj, opts))


async def delete_collection(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """DELETE a collection (filtered by selectors); answers the list of what was deleted."""
    store = state(req).ctx.store
    opts = delete_options(req, await read_body(req))
    check_field_selector(info.plural, req.query.get("fieldSelector"))
    deleter = DELETERS.get(info.plural, delete_other)
    items = [deleter(store, info, obj, opts) for obj in store.list(
        info.plural, info.namespace, req.query.get("labelSelector"), req.query.get("fieldSelector"))]
    res = info.resource
    return json_response({"kind": f"{res.kind}List", "apiVersion": res.api_version,
                          "metadata": {"resourceVersion": store.resource_version}, "items": items})


# -- eviction -------------------------------------------------------------------------------------
def _is_ready(pod: Obj) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def _can_ignore_budget(pod: Obj) -> bool:
    """Terminal, pending and already terminating pods are evicted without a budget check (upstream)."""
    phase = (pod.get("status") or {}).get("phase")
    return bool(pod["metadata"].get("deletionTimestamp")) or phase in ("Succeeded", "Failed", "Pending")


def _budgets(store: Store, pod: Obj) -> list[Obj]:
    labels = pod["metadata"].get("labels") or {}
    pdbs = store.list("poddisruptionbudgets", pod["metadata"].get("namespace"), copy_out=False)
    return [p for p in pdbs if (p.get("spec") or {}).get("selector") and
            match_labels_selector(p["spec"]["selector"])(labels)]


def _blocked(pdb: Obj) -> ApiError:
    status = pdb.get("status") or {}
    name = pdb["metadata"]["name"]
    message = (f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy pods "
               f"and has {status.get('currentHealthy', 0)} currently")
    return ApiError(429, EVICTION_BLOCKED, "TooManyRequests",
                    {"causes": [{"reason": "DisruptionBudget", "message": message}]})


def _unhealthy_may_go(pod: Obj, pdb: Obj) -> bool:
    """An unready pod is evicted without using the budget: always under ``AlwaysAllow``, and under the
    default ``IfHealthyBudget`` while the budget is met (currentHealthy >= desiredHealthy)."""
    if _is_ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    status = pdb.get("status") or {}
    return int(status.get("currentHealthy", 0)) >= int(status.get("desiredHealthy", 0))


def _spend_budget(store: Store, pdb: Obj, pod_name: str) -> None:
    def spend(obj: Obj) -> None:
        status = obj.setdefault("status", {})
        status["disruptionsAllowed"] = int(status.get("disruptionsAllowed", 0)) - 1
        status.setdefault("disruptedPods", {})[pod_name] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    store.mutate("poddisruptionbudgets", pdb["metadata"]["namespace"], pdb["metadata"]["name"], spend)


def _check_budget(store: Store, pod: Obj, dry_run: bool) -> None:
    if _can_ignore_budget(pod):
        return
    pdbs = _budgets(store, pod)
    if len(pdbs) > 1:
        raise ApiError(500, "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                       "does not support.", "InternalError")
    if not pdbs or _unhealthy_may_go(pod, pdbs[0]):
        return
    if int((pdbs[0].get("status") or {}).get("disruptionsAllowed", 0)) <= 0:
        raise _blocked(pdbs[0])
    if not dry_run:
        _spend_budget(store, pdbs[0], pod["metadata"]["name"])


async def evict(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """POST pods/{name}/eviction: honour PodDisruptionBudgets, then delete the pod gracefully (201)."""
    store = state(req).ctx.store
    body = await read_body(req) or {}
    if not isinstance(body, dict):
        raise bad_request("the body of an eviction must be a policy/v1 Eviction object")
    if (body.get("metadata") or {}).get("name") not in (None, info.name):
        raise bad_request("name in URL does not match name in Eviction object")
    pod = get_object(store, info)
    opts = delete_options(req, body.get("deleteOptions"))
    check_preconditions(info, pod, opts.preconditions)
    _check_budget(store, pod, opts.dry_run)
    delete_pod(store, info, pod, opts)
    return json_response(success(201), status=201)
