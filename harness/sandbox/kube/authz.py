"""Authorization as a real API server answers it: ``SelfSubjectAccessReview`` and 403 ``Forbidden``.

The sandbox's one user (``USER``, the kubeconfig's bearer token) may do everything, except the
Kubernetes permissions the sandbox config's ``denied_permissions`` lists, written
``'<verb> <resource>[/<subresource>]'`` (``'create pods/eviction'``; entries starting ``compute.`` are
the Compute API's and are ignored here). A denied request is refused with the Status a real RBAC
authorizer gives::

    {"kind": "Status", "status": "Failure", "reason": "Forbidden", "code": 403,
     "message": "pods \\"web-1\\" is forbidden: User \\"harness\\" cannot create resource \\"pods/eviction\\"
                 in API group \\"\\" in the namespace \\"shop\\"", "details": {"name": "web-1", "kind": "pods"}}

and ``POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`` answers ``status.allowed`` for the
same rule, so ``kubectl auth can-i`` and a preflight (``harness doctor``) see what a run would meet.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import protobuf
from .io import json_response, read_body, state
from .request import AUTHZ_GROUP as GROUP
from .request import AUTHZ_VERSION as VERSION
from .request import RequestInfo
from .status import ApiError, bad_request

Obj = dict[str, Any]

USER = "harness"
"""The name the sandbox's bearer token authenticates as."""
REVIEW_RESOURCE: Obj = {"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview",
                        "namespaced": False, "kind": "SelfSubjectAccessReview", "verbs": ["create"]}
"""Its entry in the ``authorization.k8s.io/v1`` discovery document."""


def denied_rules(entries: list[str]) -> frozenset[tuple[str, str]]:
    """``(verb, resource[/subresource])`` pairs of the Kubernetes entries of ``denied_permissions``."""
    out = set()
    for entry in entries:
        words = entry.split()
        if len(words) == 2 and not entry.startswith("compute."):
            out.add((words[0], words[1]))
    return frozenset(out)


def is_denied(entries: list[str], verb: str, resource: str, subresource: str = "") -> bool:
    """Whether ``verb`` on ``resource`` (with ``subresource``) is one of the denied permissions."""
    full = f"{resource}/{subresource}" if subresource else resource
    return (verb, full) in denied_rules(entries)


def _where(namespace: str | None) -> str:
    return f'in the namespace "{namespace}"' if namespace else "at the cluster scope"


def forbidden(verb: str, group: str, resource: str, subresource: str, namespace: str | None,
              name: str | None) -> ApiError:
    """The 403 a real RBAC authorizer answers, worded as kube-apiserver words it."""
    full = f"{resource}/{subresource}" if subresource else resource
    qualified = f"{resource}.{group}" if group else resource
    subject = f'{qualified} "{name}"' if name else qualified
    message = (f'{subject} is forbidden: User "{USER}" cannot {verb} resource "{full}" in API group "{group}" '
               f"{_where(namespace)}")
    details: Obj = {"kind": resource, **({"name": name} if name else {}), **({"group": group} if group else {})}
    return ApiError(403, message, "Forbidden", details)


def check(req: web.Request, info: RequestInfo) -> None:
    """Raise the 403 when the config denies what ``info`` asks."""
    entries = state(req).ctx.config.denied_permissions
    if entries and is_denied(entries, info.verb, info.plural, info.subresource):
        raise forbidden(info.verb, info.group, info.plural, info.subresource, info.namespace, info.name)


def _decision(entries: list[str], spec: Obj) -> tuple[bool, str]:
    attrs = spec.get("resourceAttributes")
    if isinstance(attrs, dict):
        verb, resource = str(attrs.get("verb") or ""), str(attrs.get("resource") or "")
        if is_denied(entries, verb, resource, str(attrs.get("subresource") or "")):
            return False, "denied by the sandbox config (denied_permissions)"
    return True, "the sandbox allows everything its config does not deny"


async def _body(req: web.Request) -> Any:
    """The review as JSON: sent as JSON (the Python client) or protobuf (kubectl)."""
    if req.content_type != protobuf.CONTENT_TYPE:
        return await read_body(req)
    try:
        return protobuf.access_review(await req.read())
    except protobuf.ProtobufError as exc:
        raise bad_request(f"couldn't decode the protobuf body: {exc}") from None


async def review(req: web.Request) -> web.StreamResponse:
    """``POST selfsubjectaccessreviews``: the review back, with ``status.allowed`` (201, as created)."""
    if req.method != "POST":
        raise ApiError(405, f"the server does not allow this method on the requested resource ({req.method} "
                            f"{req.path})", "MethodNotAllowed")
    body = await _body(req)
    spec = body.get("spec") if isinstance(body, dict) else None
    if not isinstance(spec, dict) or not (spec.get("resourceAttributes") or spec.get("nonResourceAttributes")):
        raise bad_request("SelfSubjectAccessReview.authorization.k8s.io is invalid: spec.resourceAttributes: "
                          "Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified")
    allowed, reason = _decision(state(req).ctx.config.denied_permissions, spec)
    out = {"kind": "SelfSubjectAccessReview", "apiVersion": f"{GROUP}/{VERSION}",
           "metadata": {"creationTimestamp": None}, "spec": spec, "status": {"allowed": allowed, "reason": reason}}
    return json_response(out, 201)
