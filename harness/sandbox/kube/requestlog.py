"""The API server's request log: one JSON line per request in ``.sandbox/requests.jsonl``, with what
the RBAC authorizer of a real API server decides on (verb, API group, resource with its subresource,
namespace, name; or the URL of a non-resource request), the answer's status and the user agent.
A test compares it with the rules ``harness rbac`` printed.

    {"ts": 1765112345.123, "verb": "patch", "group": "apps", "resource": "deployments/scale",
     "namespace": "shop", "name": "catalog", "code": 200, "agent": "OpenAPI-Generator/31.0.0/python"}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from .request import AUTHZ_GROUP, REVIEW_PATH, resolve
from .status import ApiError

Obj = dict[str, Any]


def describe(method: str, path: str, query: dict[str, str]) -> Obj:
    """What a request asks, as the authorizer sees it."""
    parts = [p for p in path.split("/") if p]
    is_api = bool(parts) and parts[0] in ("api", "apis")
    discovery = is_api and (len(parts) <= 2 or (len(parts) == 3 and parts[0] == "apis"))
    if path.rstrip("/") == REVIEW_PATH:
        return {"verb": "create", "group": AUTHZ_GROUP, "resource": "selfsubjectaccessreviews", "namespace": None,
                "name": None}
    if is_api and not discovery:
        try:
            info = resolve(method, path, query.get("watch"))
        except ApiError:
            return {"verb": method.lower(), "url": path}
        return {"verb": info.verb, "group": info.group,
                "resource": f"{info.plural}/{info.subresource}" if info.subresource else info.plural,
                "namespace": info.namespace, "name": info.name}
    return {"verb": method.lower(), "url": path}


class RequestLog:
    """Appends to ``path`` (truncated when opened); records nothing without a path."""

    def __init__(self, path: Path | None) -> None:
        self._fh: IO[str] | None = open(path, "w", buffering=1) if path else None  # noqa: SIM115

    def record(self, ts: float, method: str, path: str, query: dict[str, str], code: int, agent: str) -> None:
        if self._fh is None or self._fh.closed:
            return
        line = {"ts": round(ts, 3), **describe(method, path, query), "code": code, "agent": agent}
        self._fh.write(json.dumps(line) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def read_requests(path: Path) -> list[Obj]:
    """Every logged request, oldest first (empty when there is no log)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
