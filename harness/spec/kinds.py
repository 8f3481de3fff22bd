"""Kind-keyed spec items: ``{at: 0s, pod-kill: {...}}`` becomes ``kind="pod-kill", params=<model>``.

Used by the fault steps and probes of the spec. Validation errors of the params keep the kind key in
their location (``timeline.faults[0].pod-kill.fraction``), and unknown keys get a did-you-mean hint
in the error's ``ctx["hint"]``.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from harness.spec.registry import Registry


def did_you_mean(word: str, choices: list[str]) -> str | None:
    """``did you mean `x`?`` for the closest choice, or None."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def _error(
    loc: tuple[Any, ...], kind: str, msg: str, value: Any, hint: str | None = None, ctx: dict[str, Any] | None = None
) -> InitErrorDetails:
    context = {**(ctx or {}), **({"hint": hint} if hint else {})}
    return {"type": PydanticCustomError(kind, msg, context or None), "loc": loc, "input": value}


def _reraise(exc: ValidationError, prefix: tuple[Any, ...]) -> list[InitErrorDetails]:
    """The errors of a nested validation, moved under ``prefix`` (plain ctx values kept)."""
    out: list[InitErrorDetails] = []
    for err in exc.errors():
        ctx = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, str | int | float)}
        out.append(_error(prefix + tuple(err["loc"]), err["type"], err["msg"], err.get("input"), ctx=ctx))
    return out


def _unknown_keys(value: dict[str, Any], registry: Registry[Any], fixed: tuple[str, ...]) -> list[InitErrorDetails]:
    errors = []
    for key in value:
        if key in fixed or key in registry or key in ("kind", "params"):
            continue
        hint = did_you_mean(str(key), registry.kinds() + list(fixed))
        msg = f"unknown {registry.what} kind or field `{key}`; kinds: {', '.join(registry.kinds())}"
        errors.append(_error((key,), "unknown_kind", msg, value[key], hint or f"one of: {', '.join(fixed)}"))
    return errors


def _validate_params(registry: Registry[Any], kind: str, raw: Any, loc: tuple[Any, ...]) -> tuple[Any, list[Any]]:
    model = registry.params(kind)
    if model is None:
        hint = did_you_mean(kind, registry.kinds())
        return None, [_error(loc, "unknown_kind", f"unknown {registry.what} kind `{kind}`", kind, hint)]
    if isinstance(raw, model):
        return raw, []
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        return None, _reraise(exc, loc)


def field_error(title: str, loc: tuple[Any, ...], msg: str, value: Any, hint: str | None = None) -> ValidationError:
    """A ValidationError located at ``loc`` inside the model being validated (for after-validators)."""
    return ValidationError.from_exception_data(title, [_error(loc, "value_error", msg, value, hint)])


def split_kind(value: Any, registry: Registry[Any], fixed: tuple[str, ...]) -> Any:
    """Turn a kind-keyed mapping into ``{**fixed, kind, params}``; raise every problem at once."""
    if not isinstance(value, dict):
        return value
    if "kind" in value and "params" in value:
        params, errors = _validate_params(registry, value["kind"], value["params"], ("params",))
        if errors:
            raise ValidationError.from_exception_data(registry.what, errors)
        return {**value, "params": params}
    errors = _unknown_keys(value, registry, fixed)
    kinds = [k for k in value if k in registry]
    if len(kinds) > 1:
        msg = f"exactly one {registry.what} kind per item, got {', '.join(kinds)}"
        errors.append(_error((kinds[1],), "several_kinds", msg, value[kinds[1]]))
    elif not kinds and not errors:
        msg = f"missing the {registry.what} kind: add one key of {', '.join(registry.kinds())}"
        errors.append(_error((), "missing_kind", msg, value))
    params = None
    if kinds:
        params, more = _validate_params(registry, kinds[0], value[kinds[0]], (kinds[0],))
        errors.extend(more)
    if errors:
        raise ValidationError.from_exception_data(registry.what, errors)
    return {**{k: v for k, v in value.items() if k in fixed}, "kind": kinds[0], "params": params}


def kinded_json_schema(schema: dict[str, Any], registry: Registry[Any]) -> dict[str, Any]:
    """Rewrite a generated object schema's ``kind``/``params`` into one optional property per kind."""
    props = schema.setdefault("properties", {})
    props.pop("kind", None)
    props.pop("params", None)
    schema["required"] = [r for r in schema.get("required", []) if r not in ("kind", "params")]
    for kind in registry.kinds():
        model = registry.params(kind)
        if model is not None:
            props[kind] = model.model_json_schema()
    schema["oneOf"] = [{"required": [kind]} for kind in registry.kinds()]
    schema["additionalProperties"] = False
    return schema


def kinded_dump(data: dict[str, Any]) -> dict[str, Any]:
    """The YAML shape of a dumped kind-keyed item: ``{..., <kind>: params}``."""
    out = {k: v for k, v in data.items() if k not in ("kind", "params")}
    out[data["kind"]] = data["params"]
    return out
