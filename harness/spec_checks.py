"""Cross-item rules of an experiment, checked on the raw (env-substituted) data so they are reported
together with the pydantic errors: duplicate names, SLIs naming unknown probes, faults in protected or
non-allowed namespaces, fractions above the blast-radius limit.

Every check is defensive about shapes (a wrong shape is already a pydantic problem) and yields
``(loc, message, hint)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pydantic import ValidationError

from harness.faults.params import FAULT_PARAMS
from harness.spec_kinds import did_you_mean
from harness.spec_models import DEFAULT_PROTECTED
from harness.spec_types import parse_ratio
from harness.spec_yaml import Loc

Finding = tuple[Loc, str, str | None]
Check = Callable[[dict[str, Any]], Iterator[Finding]]


def _items(data: dict[str, Any], *path: str) -> list[tuple[int, dict[str, Any]]]:
    """The mapping items of the list at ``path`` with their indexes (non-mappings skipped)."""
    node: Any = data
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, list):
        return []
    return [(i, item) for i, item in enumerate(node) if isinstance(item, dict)]


def _duplicates(data: dict[str, Any], path: tuple[str, ...], what: str) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for i, item in _items(data, *path):
        name = item.get("name")
        if not isinstance(name, str):
            continue
        if name in seen:
            yield (*path, i, "name"), f"duplicate {what} name `{name}` (also at index {seen[name]})", "names must be unique"
        seen.setdefault(name, i)


def check_duplicates(data: dict[str, Any]) -> Iterator[Finding]:
    """Probe, SLO and fault names are unique."""
    yield from _duplicates(data, ("probes",), "probe")
    yield from _duplicates(data, ("slos",), "SLO")
    yield from _duplicates(data, ("timeline", "faults"), "fault")


def _probe_names(data: dict[str, Any]) -> list[str]:
    return [item["name"] for _, item in _items(data, "probes") if isinstance(item.get("name"), str)]


def _probe_ref(sli: Any, probes: list[str], loc: Loc) -> Iterator[Finding]:
    if not isinstance(sli, str) or not sli.startswith("probe."):
        return
    name = ".".join(sli.split(".")[1:-1])
    if name and name not in probes:
        hint = did_you_mean(name, probes) or (f"probes: {', '.join(probes)}" if probes else "define it under `probes`")
        yield loc, f"SLI `{sli}` names probe `{name}`, which is not defined", hint


def check_probe_refs(data: dict[str, Any]) -> Iterator[Finding]:
    """SLOs, guards and the steady state name only defined probes."""
    probes = _probe_names(data)
    for i, slo in _items(data, "slos"):
        yield from _probe_ref(slo.get("sli"), probes, ("slos", i, "sli"))
    for i, guard in _items(data, "safety", "abort_when"):
        yield from _probe_ref(guard.get("sli"), probes, ("safety", "abort_when", i, "sli"))
    steady = data.get("steady_state")
    names = steady.get("probes") if isinstance(steady, dict) else None
    for i, name in enumerate(names if isinstance(names, list) else []):
        if isinstance(name, str) and name not in probes:
            yield ("steady_state", "probes", i), f"unknown probe `{name}`", did_you_mean(name, probes)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str_list(value: Any, default: list[str] | None) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return default


def _fault_params(step: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(kind, validated params) of a raw fault step whose params are valid."""
    for kind in step:
        model = FAULT_PARAMS.get(kind) if isinstance(kind, str) else None
        if model is None:
            continue
        try:
            yield kind, model.model_validate(step[kind])
        except ValidationError:
            continue


def check_namespaces(data: dict[str, Any]) -> Iterator[Finding]:
    """No fault in a protected namespace; only allowed namespaces when a list is given."""
    safety = _mapping(data.get("safety"))
    protected = _str_list(safety.get("protected_namespaces"), list(DEFAULT_PROTECTED)) or []
    allowed = _str_list(safety.get("allowed_namespaces"), None)
    for i, step in _items(data, "timeline", "faults"):
        for kind, params in _fault_params(step):
            loc: Loc = ("timeline", "faults", i, kind, "namespace")
            for ns in params.namespaces():
                if ns in protected:
                    yield loc, f"namespace `{ns}` is protected: faults there are refused", "target the shop's namespaces"
                elif allowed is not None and ns not in allowed:
                    yield loc, f"namespace `{ns}` is not in safety.allowed_namespaces {allowed}", did_you_mean(ns, allowed)


def check_blast_radius(data: dict[str, Any]) -> Iterator[Finding]:
    """A pod-kill fraction never exceeds safety.max_pods_fraction (default 0.5)."""
    safety = _mapping(data.get("safety"))
    try:
        limit = parse_ratio(safety.get("max_pods_fraction", 0.5))
    except ValueError:
        return
    for i, step in _items(data, "timeline", "faults"):
        for kind, params in _fault_params(step):
            fraction = getattr(params, "fraction", None)
            if fraction is not None and fraction > limit:
                msg = f"fraction {fraction:g} is above safety.max_pods_fraction {limit:g}"
                yield ("timeline", "faults", i, kind, "fraction"), msg, "lower it, or raise the limit knowingly"


CHECKS: tuple[Check, ...] = (check_duplicates, check_probe_refs, check_namespaces, check_blast_radius)


def semantic_findings(data: dict[str, Any]) -> list[Finding]:
    """Every finding of every check."""
    return [finding for check in CHECKS for finding in check(data)]
