"""The ``scale`` subresource (autoscaling/v1 ``Scale``) of deployments, replicasets and statefulsets."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .crud import get_object, write
from .io import check_identity, is_dry_run, json_response, read_body, read_object, state
from .patch import apply_patch
from .request import RequestInfo
from .status import conflict, invalid

Obj = dict[str, Any]


def selector_string(selector: Obj | None) -> str:
    """A LabelSelector object as the string form ``Scale.status.selector`` uses."""
    sel = selector or {}
    terms = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(sorted(expr.get("values") or []))
        terms.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": key, "DoesNotExist": f"!{key}"}.get(op, key))
    return ",".join(terms)


def to_scale(obj: Obj) -> Obj:
    """The Scale view of a workload."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
        "status": {"replicas": int((obj.get("status") or {}).get("replicas", 0)),
                   "selector": selector_string((obj.get("spec") or {}).get("selector"))},
    }


def _apply_scale(req: web.Request, info: RequestInfo, current: Obj, scale: Obj) -> web.StreamResponse:
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid("Scale", info.name or "", f"spec.replicas: Invalid value: {replicas!r}: must be greater "
                      "than or equal to 0", "autoscaling")
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv not in (None, "", current["metadata"]["resourceVersion"]):
        raise conflict(info.plural, current["metadata"]["name"], info.group)
    new = dict(current, spec=dict(current.get("spec") or {}, replicas=replicas))
    if is_dry_run(req):
        return json_response(to_scale(new))
    return json_response(to_scale(write(state(req).ctx.store, info, current, new)))


async def get_scale(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """GET .../{name}/scale."""
    return json_response(to_scale(get_object(state(req).ctx.store, info)))


async def update_scale(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """PUT .../{name}/scale with a Scale body."""
    body = await read_object(req)
    check_identity(info, body)
    return _apply_scale(req, info, get_object(state(req).ctx.store, info), body)


async def patch_scale(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """PATCH .../{name}/scale (merge, strategic or JSON patch against the Scale)."""
    body = await read_body(req)
    current = get_object(state(req).ctx.store, info)
    patched = apply_patch(req.content_type, to_scale(current), body)
    if not isinstance(patched, dict):
        raise invalid("Scale", info.name or "", "the patched Scale must be an object", "autoscaling")
    return _apply_scale(req, info, current, patched)
