"""Read the few protobuf request bodies kubectl sends (``application/vnd.kubernetes.protobuf``).

client-go's typed clients encode built-in kinds as protobuf, wrapped in the ``runtime.Unknown``
envelope (the magic ``k8s\\x00``, then ``typeMeta`` = 1, ``raw`` = 2). This decodes the wire format
generically (fields by number) and turns a ``SelfSubjectAccessReview`` into its JSON shape; answers
stay JSON, which kubectl accepts (it asks ``Accept: application/vnd.kubernetes.protobuf,application/json``).
"""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

Fields = dict[int, list[Any]]

_RESOURCE_ATTRS = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"}
_NON_RESOURCE_ATTRS = {1: "path", 2: "verb"}


class ProtobufError(ValueError):
    """The body is not the protobuf it claims to be."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def fields(data: bytes) -> Fields:
    """Every field of one message by number (varints as ints, length-delimited as bytes)."""
    out: Fields = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, pos = data[pos:pos + width], pos + width
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _strings(data: bytes, names: dict[int, str]) -> dict[str, str]:
    got = fields(data)
    return {name: got[n][-1].decode() for n, name in names.items() if got.get(n) and got[n][-1]}


def unwrap(body: bytes) -> bytes:
    """The ``raw`` object inside the ``runtime.Unknown`` envelope."""
    if not body.startswith(MAGIC):
        raise ProtobufError("no k8s protobuf envelope")
    raw = fields(body[len(MAGIC):]).get(2)
    if not raw:
        raise ProtobufError("empty protobuf envelope")
    return bytes(raw[-1])


def access_review(body: bytes) -> dict[str, Any]:
    """A protobuf ``SelfSubjectAccessReview`` as its JSON shape (``{"spec": {...}}``)."""
    spec_raw = fields(unwrap(body)).get(2)
    spec: dict[str, Any] = {}
    if spec_raw:
        parts = fields(spec_raw[-1])
        if parts.get(1):
            spec["resourceAttributes"] = _strings(parts[1][-1], _RESOURCE_ATTRS)
        if parts.get(2):
            spec["nonResourceAttributes"] = _strings(parts[2][-1], _NON_RESOURCE_ATTRS)
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec}
