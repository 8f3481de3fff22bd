"""Kubernetes ``Status`` objects and the one exception the API server's handlers raise to answer them."""

from __future__ import annotations

from typing import Any

from ..core.apifaults import REASONS

Obj = dict[str, Any]


class ApiError(Exception):
    """Answered as a ``Status`` with ``status: Failure`` and the HTTP ``code``."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: Obj | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}

    def status(self) -> Obj:
        """The ``Status`` body."""
        return failure(self.code, self.message, self.reason, self.details)


def failure(code: int, message: str, reason: str, details: Obj | None = None) -> Obj:
    """A ``Status`` with ``status: Failure``."""
    out: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        out["details"] = details
    return out


def success(code: int = 200, details: Obj | None = None) -> Obj:
    """A ``Status`` with ``status: Success`` (answered by deletes and evictions)."""
    out: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}
    if details is not None:
        out["details"] = details
    return out


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    """``<plural>[.<group>] "<name>" not found``, as the real API words it."""
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        404,
        f'{qualified} "{name}" not found',
        "NotFound",
        {"name": name, "group": group, "kind": plural},
    )


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    """``<plural> "<name>" already exists``."""
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'{qualified} "{name}" already exists',
        "AlreadyExists",
        {"name": name, "group": group, "kind": plural},
    )


def conflict(plural: str, name: str, group: str = "") -> ApiError:
    """The optimistic-concurrency conflict answered when ``resourceVersion`` is stale."""
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        "Conflict",
        {"name": name, "group": group, "kind": plural},
    )


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(400, message, "BadRequest")


def invalid(kind: str, name: str, message: str, group: str = "") -> ApiError:
    """422 Invalid, as answered for a failed validation."""
    return ApiError(
        422,
        f'{kind} "{name}" is invalid: {message}',
        "Invalid",
        {"name": name, "group": group, "kind": kind, "causes": [{"reason": "FieldValueInvalid", "message": message}]},
    )


def method_not_allowed(method: str, what: str) -> ApiError:
    """405 MethodNotAllowed."""
    return ApiError(405, f"the server does not allow this method on the requested resource ({method} {what})",
                    "MethodNotAllowed")


def path_not_found(path: str) -> ApiError:
    """404 for a path the server does not serve at all."""
    return ApiError(404, f"the server could not find the requested resource ({path})", "NotFound",
                    {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})
