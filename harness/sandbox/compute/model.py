"""JSON shapes of the sandbox's Compute Engine API: instances, operations, errors, filters.

Pure helpers used by `api.py` and `firewalls.py`; nothing here does I/O.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..core.context import Vm

API_ROOT = "https://www.googleapis.com/compute/v1"

# HTTP status -> (google.rpc status, error reason)
_STATUS_NAMES: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "invalid"),
    403: ("PERMISSION_DENIED", "forbidden"),
    404: ("NOT_FOUND", "notFound"),
    409: ("ALREADY_EXISTS", "alreadyExists"),
    412: ("FAILED_PRECONDITION", "conditionNotMet"),
    429: ("RESOURCE_EXHAUSTED", "rateLimitExceeded"),
    500: ("INTERNAL", "backendError"),
    502: ("UNAVAILABLE", "backendError"),
    503: ("UNAVAILABLE", "backendError"),
    504: ("DEADLINE_EXCEEDED", "backendError"),
}


def now_rfc3339() -> str:
    """The current time as Compute Engine writes it (RFC 3339 with milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def google_error(code: int, message: str, reason: str | None = None) -> web.Response:
    """A JSON response in the Google API error shape, which google-api-core maps onto exceptions."""
    status, default_reason = _STATUS_NAMES.get(code, ("UNKNOWN", "unknown"))
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"domain": "global", "reason": reason or default_reason, "message": message}],
            "status": status,
        }
    }
    return web.json_response(body, status=code)


class GoogleError(Exception):
    """Raised inside handlers; the middleware renders it with `google_error`."""

    def __init__(self, code: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason


def fingerprint(value: Any) -> str:
    """A stable base64 fingerprint of a JSON-able value, like the API's 8-byte fingerprints."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()[:8]
    return base64.b64encode(digest).decode()


def zone_url(project: str, zone: str) -> str:
    """Full URL of a zone."""
    return f"{API_ROOT}/projects/{project}/zones/{zone}"


def region_url(project: str, region: str) -> str:
    """Full URL of a region."""
    return f"{API_ROOT}/projects/{project}/regions/{region}"


def network_url(project: str, network: str = "default") -> str:
    """Full URL of a VPC network."""
    return f"{API_ROOT}/projects/{project}/global/networks/{network}"


def instance_url(project: str, vm: Vm) -> str:
    """selfLink of an instance."""
    return f"{zone_url(project, vm.zone)}/instances/{vm.name}"


def instance_json(project: str, vm: Vm) -> dict[str, Any]:
    """An instance resource as the real API returns it."""
    zurl = zone_url(project, vm.zone)
    return {
        "kind": "compute#instance",
        "id": str(vm.id),
        "name": vm.name,
        "zone": zurl,
        "status": vm.status,
        "machineType": f"{zurl}/machineTypes/{vm.machine_type}",
        "selfLink": instance_url(project, vm),
        "creationTimestamp": vm.creation_timestamp,
        "tags": {"items": list(vm.tags), "fingerprint": vm.tags_fingerprint},
        "labels": dict(vm.labels),
        "labelFingerprint": fingerprint(vm.labels),
        "networkInterfaces": [
            {
                "kind": "compute#networkInterface",
                "name": "nic0",
                "network": network_url(project, vm.network),
                "networkIP": vm.network_ip,
            }
        ],
        "metadata": {
            "kind": "compute#metadata",
            "items": [{"key": k, "value": v} for k, v in vm.metadata.items()],
            "fingerprint": fingerprint(vm.metadata),
        },
        "disks": [
            {
                "kind": "compute#attachedDisk",
                "boot": True,
                "deviceName": "persistent-disk-0",
                "source": f"{zurl}/disks/{vm.name}",
                "type": "PERSISTENT",
                "mode": "READ_WRITE",
                "autoDelete": True,
                "index": 0,
            }
        ],
        "scheduling": {"automaticRestart": True, "onHostMaintenance": "MIGRATE", "preemptible": False},
    }


@dataclass
class Operation:
    """One zonal or global long-running operation."""

    id: int
    name: str
    operation_type: str
    target_link: str
    target_id: str
    project: str
    zone: str | None = None
    status: str = "PENDING"
    progress: int = 0
    insert_time: str = field(default_factory=now_rfc3339)
    start_time: str = ""
    end_time: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def self_link(self) -> str:
        """Where the real API would serve this operation."""
        scope = zone_url(self.project, self.zone) if self.zone else f"{API_ROOT}/projects/{self.project}/global"
        return f"{scope}/operations/{self.name}"

    def running(self) -> None:
        """Mark the operation RUNNING."""
        self.status, self.progress, self.start_time = "RUNNING", 0, now_rfc3339()

    def finish(self) -> None:
        """Mark the operation DONE and wake every waiter."""
        if not self.start_time:
            self.start_time = now_rfc3339()
        self.status, self.progress, self.end_time = "DONE", 100, now_rfc3339()
        self.done.set()

    def to_json(self) -> dict[str, Any]:
        """The operation resource as the real API returns it."""
        body: dict[str, Any] = {
            "kind": "compute#operation",
            "id": str(self.id),
            "name": self.name,
            "operationType": self.operation_type,
            "targetLink": self.target_link,
            "targetId": self.target_id,
            "status": self.status,
            "progress": self.progress,
            "insertTime": self.insert_time,
            "selfLink": self.self_link(),
            "user": "sandbox@sandbox-project.iam.gserviceaccount.com",
        }
        if self.start_time:
            body["startTime"] = self.start_time
        if self.end_time:
            body["endTime"] = self.end_time
        if self.zone:
            body["zone"] = zone_url(self.project, self.zone)
        return body


class Operations:
    """All operations of one Compute API, by name."""

    def __init__(self) -> None:
        self._ops: dict[str, Operation] = {}
        self._ids = itertools.count(7_000_000_000_000_000_001)

    def new(self, project: str, op_type: str, target_link: str, target_id: str, zone: str | None) -> Operation:
        """Create a PENDING operation."""
        op_id = next(self._ids)
        name = f"operation-{op_id}-{op_type}"
        op = Operation(op_id, name, op_type, target_link, target_id, project, zone)
        self._ops[name] = op
        return op

    def get(self, name: str, zone: str | None) -> Operation:
        """The operation in that scope (zone, or None for global), or a 404."""
        op = self._ops.get(name)
        if op is None or op.zone != zone:
            raise GoogleError(404, f"The resource 'operations/{name}' was not found")
        return op


_FILTER_TERM = re.compile(r"\(?\s*([\w.\-]+)\s*(=|!=|eq|ne)\s*\"?([^\s\")]*)\"?\s*\)?", re.IGNORECASE)


def _field_value(resource: dict[str, Any], path: str) -> Any:
    value: Any = resource
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def matches_filter(resource: dict[str, Any], expression: str | None) -> bool:
    """Simple Compute filters: ``name = x``, ``status != RUNNING``, ``labels.k = v``, ``name eq regex``;
    several terms are ANDed. Unknown syntax matches everything."""
    if not expression:
        return True
    for fld, op, want in _FILTER_TERM.findall(expression):
        value = _field_value(resource, fld)
        text = "" if value is None else str(value)
        if op.lower() in ("eq", "ne"):
            hit = re.fullmatch(want, text) is not None
        else:
            hit = _glob(want, text)
        if hit != (op.lower() in ("=", "eq")):
            return False
    return True


def _glob(pattern: str, text: str) -> bool:
    """``=`` filters accept ``*`` wildcards."""
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text) is not None
