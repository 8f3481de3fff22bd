"""list, get, create, update and patch (server-side apply too) for every served resource (and their
``status`` subresource)."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..core.context import Context
from ..core.store import AlreadyExists, NotFound, Store, StoreError
from .discovery import STATUS_SUBRESOURCE
from .io import check_identity, is_dry_run, json_response, read_body, read_object, render, state
from .patch import APPLY_PATCH, apply_patch, merge_patch
from .request import RequestInfo
from .status import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
    path_not_found,
)
from .tables import table, wants_table

Obj = dict[str, Any]

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
# Field selector labels each resource supports besides metadata.name and metadata.namespace.
FIELD_LABELS: dict[str, frozenset[str]] = {
    "pods": frozenset({"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                       "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"}),
    "nodes": frozenset({"spec.unschedulable"}),
    "namespaces": frozenset({"status.phase"}),
    "replicasets": frozenset({"status.replicas"}),
    "events": frozenset({"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                         "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath", "reason", "reportingComponent", "type",
                         "source.component", "source.host"}),
}


# -- helpers --------------------------------------------------------------------------------------
def get_object(store: Store, info: RequestInfo, name: str | None = None) -> Obj:
    """A copy of the addressed object, or a 404 Status."""
    name = name or info.name or ""
    try:
        return store.get(info.plural, info.namespace, name)
    except NotFound:
        raise not_found(info.plural, name, info.group) from None


def check_field_selector(plural: str, text: str | None) -> None:
    """400 for a field label the resource does not support, as the real API answers."""
    allowed = _COMMON_FIELDS | FIELD_LABELS.get(plural, frozenset())
    for term in (text or "").split(","):
        label = re.split(r"!=|==|=", term, maxsplit=1)[0].strip()
        if label and label not in allowed:
            raise bad_request(f'field label not supported: {label}')


def _keep_status(info: RequestInfo, current: Obj, new: Obj) -> Obj:
    """Writes to the main resource leave status alone; writes to /status change only status."""
    if info.subresource == "status":
        out = copy.deepcopy(current)
        out["status"] = new.get("status", {})
        out["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion")
        return out
    if info.plural in STATUS_SUBRESOURCE:
        if "status" in current:
            new["status"] = current["status"]
        else:
            new.pop("status", None)
    if "deletionGracePeriodSeconds" in current["metadata"]:  # deletion fields are immutable
        new["metadata"]["deletionGracePeriodSeconds"] = current["metadata"]["deletionGracePeriodSeconds"]
    return new


def write(store: Store, info: RequestInfo, current: Obj, new: Obj) -> Obj:
    """Store ``new`` in place of ``current`` (optimistic concurrency on resourceVersion); no-ops skip."""
    meta = new["metadata"]
    if meta.get("resourceVersion") not in (None, "", current["metadata"]["resourceVersion"]):
        raise conflict(info.plural, current["metadata"]["name"], info.group)
    meta["name"] = current["metadata"]["name"]
    if "namespace" in current["metadata"]:
        meta["namespace"] = current["metadata"]["namespace"]
    meta["resourceVersion"] = current["metadata"]["resourceVersion"]
    if new == current:
        return current
    return store.replace(info.plural, new)


# -- create-time defaults -------------------------------------------------------------------------
def _pod_defaults(ctx: Context, obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("terminationGracePeriodSeconds", math.ceil(ctx.config.timings.default_grace_period))
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def _workload_defaults(ctx: Context, obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    if obj.get("kind") in (None, "Deployment"):
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    obj["status"] = {}


def _namespace_defaults(ctx: Context, obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj["status"] = {"phase": "Active"}


def _pdb_defaults(ctx: Context, obj: Obj) -> None:
    obj["status"] = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}


def _service_defaults(ctx: Context, obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("type", "ClusterIP")
    obj["status"] = {"loadBalancer": {}}


CREATE_DEFAULTS: dict[str, Callable[[Context, Obj], None]] = {
    "pods": _pod_defaults,
    "deployments": _workload_defaults,
    "replicasets": _workload_defaults,
    "statefulsets": _workload_defaults,
    "namespaces": _namespace_defaults,
    "poddisruptionbudgets": _pdb_defaults,
    "services": _service_defaults,
}


def _validate_name(info: RequestInfo, meta: Obj) -> None:
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        raise invalid(info.resource.kind, "", "metadata.name: Required value: name or generateName is required",
                      info.group)
    if name and (len(name) > 253 or not _NAME_RE.match(name)):
        raise invalid(info.resource.kind, name, f"metadata.name: Invalid value: {name!r}: a lowercase RFC 1123 "
                      "subdomain must consist of lower case alphanumeric characters, '-' or '.'", info.group)


# -- handlers -------------------------------------------------------------------------------------
async def list_objects(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """GET a collection (cluster-wide or in one namespace), filtered by label and field selectors."""
    store = state(req).ctx.store
    check_field_selector(info.plural, req.query.get("fieldSelector"))
    items = store.list(info.plural, info.namespace, req.query.get("labelSelector"),
                       req.query.get("fieldSelector"), copy_out=False)
    rv = store.resource_version
    if wants_table(req.headers.get("Accept")):
        return json_response(table(info.plural, items, rv, req.query.get("includeObject")))
    res = info.resource
    return json_response({"kind": f"{res.kind}List", "apiVersion": res.api_version,
                          "metadata": {"resourceVersion": rv}, "items": items})


async def get(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """GET one object (or its status subresource)."""
    return render(req, info, get_object(state(req).ctx.store, info))


async def create(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """POST a new object; fills defaults like the real registry and honours generateName."""
    if info.resource.namespaced and not info.namespace:
        raise path_not_found(req.path)
    body = await read_object(req)
    check_identity(info, body)
    return await _create(req, info, body)


async def _create(req: web.Request, info: RequestInfo, body: Obj) -> web.StreamResponse:
    st = state(req)
    _validate_name(info, body["metadata"])
    prepare = CREATE_DEFAULTS.get(info.plural)
    if prepare:
        prepare(st.ctx, body)
    if is_dry_run(req):
        return render(req, info, body, 201)
    try:
        created = st.ctx.store.create(info.plural, body, namespace=info.namespace)
    except AlreadyExists:
        raise already_exists(info.plural, body["metadata"]["name"], info.group) from None
    except StoreError as exc:
        raise ApiError(exc.code if exc.code != 500 else 422, str(exc)) from None
    return render(req, info, created, 201)


async def update(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """PUT an object whole (or its status)."""
    st = state(req)
    body = await read_object(req)
    check_identity(info, body)
    current = get_object(st.ctx.store, info)
    new = _keep_status(info, current, body)
    if is_dry_run(req):
        return render(req, info, new)
    return render(req, info, write(st.ctx.store, info, current, new))


async def patch(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """PATCH an object (or its status) with a JSON, merge or strategic merge patch, or apply it."""
    st = state(req)
    if req.content_type == APPLY_PATCH and not info.subresource:
        return await _server_side_apply(req, info)
    body = await read_body(req)
    current = get_object(st.ctx.store, info)
    patched = apply_patch(req.content_type, current, body)
    if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
        raise invalid(info.resource.kind, info.name or "", "the patched object must keep its metadata", info.group)
    new = _keep_status(info, current, patched)
    if is_dry_run(req):
        return render(req, info, new)
    return render(req, info, write(st.ctx.store, info, current, new))


async def _server_side_apply(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """Server-side apply, simplified: creates the object when it does not exist, else merges the applied
    fields in (no managedFields: a field dropped from the applied object is kept, not removed)."""
    if not req.query.get("fieldManager"):
        raise invalid("PatchOptions", "", "fieldManager: Required value: is required for apply patch", "meta.k8s.io")
    body = await read_object(req)
    check_identity(info, body)
    if body["metadata"].get("name") not in (None, info.name):
        raise bad_request(f"the name of the object ({body['metadata']['name']}) does not match the name on the URL "
                          f"({info.name})")
    body["metadata"]["name"] = info.name
    store = state(req).ctx.store
    if not store.exists(info.plural, info.namespace, info.name or ""):
        return await _create(req, info, body)
    current = get_object(store, info)
    new = _keep_status(info, current, merge_patch(current, body))
    if is_dry_run(req):
        return render(req, info, new)
    return render(req, info, write(store, info, current, new))
