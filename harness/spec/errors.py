"""Turn pydantic validation errors into Problems users can act on: file:line, field path, what was
expected, and a hint (did-you-mean for unknown keys)."""

from __future__ import annotations

import re
import types
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from harness.errors import Problem
from harness.spec.kinds import did_you_mean
from harness.spec.models import SLUG
from harness.spec.registry import Registry
from harness.spec.yamldoc import Loc, YamlDoc, format_loc

_PREFIXES = ("Value error, ", "Assertion failed, ")


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every BaseModel class inside an annotation (through Optional, list, dict, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return []
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items() if name not in ("kind", "params")]


def _is_dict(annotation: Any) -> bool:
    if get_origin(annotation) is dict:
        return True
    return any(_is_dict(arg) for arg in get_args(annotation))


def _tagged(model: type[BaseModel], tag: str) -> bool:
    field = model.model_fields.get("kind")
    return field is not None and tag in get_args(field.annotation)


def _descend(models: list[type[BaseModel]], part: str) -> tuple[list[type[BaseModel]], bool]:
    """The models under field ``part`` (and whether the next loc part is a dict key)."""
    tagged = [m for m in models if _tagged(m, part)]
    if tagged:
        return tagged, False
    for model in models:
        registry: Registry[Any] | None = getattr(model, "kind_registry", None)
        params = registry.params(part) if registry is not None else None
        if params is not None:
            return [params], False
        fields = {(f.alias or name): f for name, f in model.model_fields.items()}
        if part in fields:
            annotation = fields[part].annotation
            return _models_in(annotation), _is_dict(annotation)
    return [], False


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that holds the last element of ``loc``, or None when it cannot be told."""
    models, skip = [root], False
    for part in loc:
        if skip or isinstance(part, int):
            skip = False
            continue
        models, skip = _descend(models, str(part))
        if not models:
            return None
    return models[0] if len(models) == 1 else None


def _input_text(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: ErrorDetails) -> str:
    msg = err["msg"]
    for prefix in _PREFIXES:
        msg = msg.removeprefix(prefix)
    kind = err["type"]
    if kind == "missing":
        return f"required field `{err['loc'][-1]}` is missing"
    if kind == "extra_forbidden":
        return f"unknown field `{err['loc'][-1]}`"
    if kind in ("value_error", "missing_kind", "unknown_kind", "several_kinds", "assertion_error"):
        return msg
    if kind == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == SLUG:
        msg = "expected a slug: lowercase letters, digits and '-'"
    msg = msg.replace("Input should be ", "expected ", 1)
    if isinstance(err.get("input"), str | int | float | bool) or err.get("input") is None:
        return f"{msg} (got {_input_text(err.get('input'))})"
    return msg


def _hint(err: ErrorDetails, loc: Loc, root: type[BaseModel]) -> str | None:
    ctx_hint = (err.get("ctx") or {}).get("hint")
    if ctx_hint:
        return str(ctx_hint)
    if err["type"] == "literal_error" and isinstance(err.get("input"), str):
        choices = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
        return did_you_mean(err["input"], choices)
    if err["type"] != "extra_forbidden":
        return None
    model = _model_at(root, loc[:-1])
    if model is None:
        return None
    names = _field_names(model)
    return did_you_mean(str(loc[-1]), names) or f"known fields: {', '.join(names)}"


def _line_loc(err: ErrorDetails, loc: Loc) -> Loc:
    """Missing fields have no line: point at the mapping that lacks them."""
    return loc[:-1] if err["type"] == "missing" else loc


def validation_problems(
    exc: ValidationError, doc: YamlDoc, root: type[BaseModel], prefix: Loc = ()
) -> list[Problem]:
    """One Problem per pydantic error, located in ``doc`` (``prefix`` is prepended to each loc)."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"])
        line = doc.line_of(_line_loc(err, loc))
        hint = _hint(err, tuple(err["loc"]), root)
        problems.append(Problem(doc.file, line, format_loc(loc), _message(err), hint))
    return problems
