"""Request and response plumbing shared by the API server's handlers: server state, JSON bodies,
content negotiation (Table or object), delete options and preconditions."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from .request import RequestInfo
from .requestlog import RequestLog
from .status import ApiError, bad_request
from .tables import table, wants_table

if TYPE_CHECKING:
    from ..core.context import Context
    from .watch import WatchHub

Obj = dict[str, Any]


@dataclass
class ApiState:
    """What every handler of one running API server shares."""

    ctx: Context
    hub: WatchHub
    token: str  # the bearer token every request must carry (see kube.auth)
    requests: int = 0
    faults_injected: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    log: RequestLog = field(default_factory=lambda: RequestLog(None))
    """Every request, for tests that check what a client asked (``requests.jsonl``)."""


STATE: web.AppKey[ApiState] = web.AppKey("kubeapi_state", ApiState)


def state(req: web.Request) -> ApiState:
    """The server state of the app handling ``req``."""
    return req.app[STATE]


def dumps(body: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """An ``application/json`` response."""
    return web.Response(body=dumps(body), status=status, content_type="application/json", headers=headers)


class _JsonishLoader(yaml.SafeLoader):
    """YAML as the API server reads it (converted to JSON): timestamps stay strings."""


_JsonishLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


async def read_body(req: web.Request) -> Any:
    """The request body as JSON (or YAML when so declared); ``None`` when empty."""
    raw = await req.read()
    if not raw.strip():
        return None
    try:
        if "yaml" in (req.content_type or ""):
            return yaml.load(raw, Loader=_JsonishLoader)  # noqa: S506 - a SafeLoader subclass
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


async def read_object(req: web.Request) -> Obj:
    """The request body, which must be a JSON object."""
    body = await read_body(req)
    if not isinstance(body, dict):
        raise bad_request("the body of the request must be a JSON object")
    body.setdefault("metadata", {})
    if not isinstance(body["metadata"], dict):
        raise bad_request("metadata must be an object")
    return body


def is_dry_run(req: web.Request, body: Obj | None = None) -> bool:
    """``?dryRun=All`` (or ``dryRun: [All]`` in DeleteOptions)."""
    if "All" in req.query.getall("dryRun", []):
        return True
    return bool(body and "All" in (body.get("dryRun") or []))


def render(req: web.Request, info: RequestInfo, obj: Obj, status: int = 200) -> web.Response:
    """One object, or a one-row Table when the client asks for one."""
    if wants_table(req.headers.get("Accept")):
        rv = obj["metadata"].get("resourceVersion", "")
        return json_response(table(info.plural, [obj], rv, req.query.get("includeObject")), status)
    return json_response(obj, status)


@dataclass(frozen=True)
class DeleteOptions:
    """The parts of ``DeleteOptions`` (body or query) the sandbox honours."""

    grace_period: int | None = None
    preconditions: Obj = field(default_factory=dict)
    dry_run: bool = False


def _grace(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise bad_request(f"invalid gracePeriodSeconds {raw!r}") from None
    return max(0, math.ceil(value))


def delete_options(req: web.Request, body: Any) -> DeleteOptions:
    """DeleteOptions from the body (if any) and ``?gracePeriodSeconds=``; the body wins."""
    opts = body if isinstance(body, dict) else {}
    grace = _grace(opts.get("gracePeriodSeconds"))
    if grace is None:
        grace = _grace(req.query.get("gracePeriodSeconds"))
    return DeleteOptions(grace, dict(opts.get("preconditions") or {}), is_dry_run(req, opts))


def check_preconditions(info: RequestInfo, obj: Obj, pre: Obj) -> None:
    """409 when a precondition (uid, resourceVersion) does not hold."""
    meta = obj["metadata"]
    for key in ("uid", "resourceVersion"):
        want = pre.get(key)
        if want is not None and want != meta.get(key):
            raise ApiError(
                409,
                f"Precondition failed: {key} in precondition: {want}, {key} in object meta: {meta.get(key)}",
                "Conflict",
                {"name": meta.get("name"), "group": info.group, "kind": info.plural},
            )


def check_identity(info: RequestInfo, obj: Obj) -> None:
    """400 when the body names another object or namespace than the URL."""
    meta = obj["metadata"]
    if info.name is not None and meta.get("name") not in (None, info.name):
        raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                          f"({info.name})")
    if info.namespace and meta.get("namespace") not in (None, "", info.namespace):
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
