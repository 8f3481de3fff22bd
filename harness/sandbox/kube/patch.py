"""PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.

A strategic merge patch is applied as a merge patch, after dropping its directives (``$patch``,
``$setElementOrder/...``, ``$retainKeys``, ``$deleteFromPrimitiveList/...``); lists are replaced whole.
Every function returns a new document and never mutates its inputs.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from .status import ApiError

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class PatchError(ApiError):
    """The patch cannot be applied (answered as 422)."""

    def __init__(self, message: str) -> None:
        super().__init__(422, message, "Invalid")


# -- merge patch ------------------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _strip_directives(patch: Any) -> Any:
    if isinstance(patch, list):
        return [_strip_directives(v) for v in patch if not (isinstance(v, dict) and "$patch" in v)]
    if not isinstance(patch, dict):
        return patch
    return {k: _strip_directives(v) for k, v in patch.items() if not k.startswith("$")}


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A strategic merge patch applied as a merge patch (lists replaced whole)."""
    return merge_patch(target, _strip_directives(patch))


# -- JSON patch -------------------------------------------------------------------------------------
def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit():
        raise PatchError(f"invalid array index {token!r}")
    idx = int(token)
    if idx > len(container) or (idx == len(container) and not for_add):
        raise PatchError(f"array index {idx} out of range")
    return idx


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    tokens = _tokens(pointer)
    if not tokens:
        raise PatchError("the root document cannot be the target of this operation")
    cur = doc
    for tok in tokens[:-1]:
        cur = _child(cur, tok)
    return cur, tokens[-1]


def _child(cur: Any, tok: str) -> Any:
    if isinstance(cur, dict):
        if tok not in cur:
            raise PatchError(f"path element {tok!r} does not exist")
        return cur[tok]
    if isinstance(cur, list):
        return cur[_index(cur, tok, False)]
    raise PatchError(f"cannot descend into a scalar at {tok!r}")


def _get(doc: Any, pointer: str) -> Any:
    cur = doc
    for tok in _tokens(pointer):
        cur = _child(cur, tok)
    return cur


def _add(doc: Any, path: str, value: Any) -> Any:
    if path == "":
        return copy.deepcopy(value)
    parent, tok = _parent(doc, path)
    if isinstance(parent, list):
        parent.insert(_index(parent, tok, True), copy.deepcopy(value))
    elif isinstance(parent, dict):
        parent[tok] = copy.deepcopy(value)
    else:
        raise PatchError(f"cannot add to a scalar at {path!r}")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parent, tok = _parent(doc, path)
    if isinstance(parent, list):
        parent.pop(_index(parent, tok, False))
    elif isinstance(parent, dict) and tok in parent:
        del parent[tok]
    else:
        raise PatchError(f"unable to remove nonexistent key: {tok}")
    return doc


def _op_add(doc: Any, op: dict[str, Any]) -> Any:
    return _add(doc, op["path"], op.get("value"))


def _op_remove(doc: Any, op: dict[str, Any]) -> Any:
    return _remove(doc, op["path"])


def _op_replace(doc: Any, op: dict[str, Any]) -> Any:
    if op["path"] == "":
        return copy.deepcopy(op.get("value"))
    _get(doc, op["path"])  # must exist
    return _add(_remove(doc, op["path"]), op["path"], op.get("value"))


def _op_move(doc: Any, op: dict[str, Any]) -> Any:
    value = copy.deepcopy(_get(doc, op["from"]))
    return _add(_remove(doc, op["from"]), op["path"], value)


def _op_copy(doc: Any, op: dict[str, Any]) -> Any:
    return _add(doc, op["path"], _get(doc, op["from"]))


def _op_test(doc: Any, op: dict[str, Any]) -> Any:
    if _get(doc, op["path"]) != op.get("value"):
        raise PatchError(f"testing value {op['path']} failed")
    return doc


JSON_PATCH_OPS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902: apply every operation in order, all or nothing."""
    if not isinstance(ops, list):
        raise ApiError(400, "json patch must be a list of operations", "BadRequest")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {json.dumps(op)}")
        fn = JSON_PATCH_OPS.get(str(op.get("op")))
        if fn is None:
            raise PatchError(f"unexpected JSON patch operation {op.get('op')!r}")
        doc = fn(doc, op)
    return doc


PATCHERS: dict[str, Callable[[Any, Any], Any]] = {
    JSON_PATCH: json_patch,
    MERGE_PATCH: merge_patch,
    STRATEGIC_PATCH: strategic_merge_patch,
}


def apply_patch(content_type: str, target: Any, patch: Any) -> Any:
    """Apply a PATCH body of the given media type; unknown types answer 415."""
    media = content_type.split(";")[0].strip().lower()
    fn = PATCHERS.get(media)
    if fn is None:
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(PATCHERS)}",
            "UnsupportedMediaType",
        )
    return fn(target, patch)
