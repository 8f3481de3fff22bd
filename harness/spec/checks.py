"""Cross-item rules of an experiment, checked on the raw (env-substituted) data so they are reported
together with the pydantic errors: duplicate names, SLIs naming unknown probes (or load SLIs without
load), faults in protected or non-allowed namespaces, fractions above the blast-radius limit. SLIs naming
unknown journey steps (``unknown_steps``) need the journeys file, so ``harness.spec`` runs that check.

Every check is defensive about shapes (a wrong shape is already a pydantic problem) and yields
``(loc, message, hint)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pydantic import ValidationError

from harness.spec.fieldtypes import parse_ratio
from harness.spec.kinds import did_you_mean
from harness.spec.models import DEFAULT_PROTECTED
from harness.spec.params import FaultParams
from harness.spec.registry import FAULTS
from harness.spec.yamldoc import Loc

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


def sli_refs(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    """Every SLI string of the experiment with its location: ``slos[].sli`` and ``safety.abort_when[].sli``."""
    refs: list[tuple[Loc, str]] = []
    for path in (("slos",), ("safety", "abort_when")):
        refs += [((*path, i, "sli"), item["sli"]) for i, item in _items(data, *path) if isinstance(item.get("sli"), str)]
    return refs


def _named(sli: str, source: str) -> str | None:
    """The name inside ``<source>.<name>.<metric>`` (names may hold dots), or None for another source."""
    parts = sli.split(".")
    return (".".join(parts[1:-1]) or None) if parts[0] == source else None


def named_refs(data: dict[str, Any], source: str) -> list[tuple[Loc, str, str]]:
    """``(loc, sli, name)`` of every SLI naming a ``source`` ("step" or "probe")."""
    return [(loc, sli, name) for loc, sli in sli_refs(data) if (name := _named(sli, source))]


def _choices_hint(name: str, what: str, choices: list[str] | tuple[str, ...]) -> str:
    listed = f"{what}s: {', '.join(choices)}"
    close = did_you_mean(name, list(choices))
    return f"{close} {listed}" if close else listed


def unknown_steps(data: dict[str, Any], steps: tuple[str, ...], journeys: str) -> Iterator[Finding]:
    """SLIs naming a step that the journeys file (``journeys``, as written) does not declare."""
    for loc, sli, name in named_refs(data, "step"):
        if name not in steps:
            msg = f"SLI `{sli}` names step `{name}`, which {journeys} does not declare"
            yield loc, msg, _choices_hint(name, "step", steps)


def _probe_hint(name: str, probes: list[str]) -> str:
    return _choices_hint(name, "probe", probes) if probes else "no probe is defined: add it under `probes`"


def check_probe_refs(data: dict[str, Any]) -> Iterator[Finding]:
    """SLOs, guards and the steady state name only defined probes."""
    probes = _probe_names(data)
    for loc, sli, name in named_refs(data, "probe"):
        if name not in probes:
            yield loc, f"SLI `{sli}` names probe `{name}`, which is not defined", _probe_hint(name, probes)
    steady = data.get("steady_state")
    names = steady.get("probes") if isinstance(steady, dict) else None
    for i, name in enumerate(names if isinstance(names, list) else []):
        if isinstance(name, str) and name not in probes:
            yield ("steady_state", "probes", i), f"unknown probe `{name}`", _probe_hint(name, probes)


def check_load_refs(data: dict[str, Any]) -> Iterator[Finding]:
    """``load.*`` and ``step.*`` SLIs need shoppers: without ``load:`` they would have no data."""
    if data.get("load") is not None:
        return
    for loc, sli in sli_refs(data):
        source = sli.split(".")[0]
        if source in ("load", "step"):
            msg = f"SLI `{sli}` measures the load's requests, but the experiment has no `load:`: it would have no data"
            yield loc, msg, "add `load: {users: 20, spawn_rate: 10}`, or judge a probe SLI (probe.<name>.<metric>)"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str_list(value: Any, default: list[str] | None) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return default


def _fault_params(step: dict[str, Any]) -> Iterator[tuple[str, FaultParams]]:
    """(kind, validated params) of a raw fault step whose params are valid."""
    for kind in step:
        model = FAULTS.params(kind) if isinstance(kind, str) else None
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


CHECKS: tuple[Check, ...] = (
    check_duplicates, check_probe_refs, check_load_refs, check_namespaces, check_blast_radius,
)


def semantic_findings(data: dict[str, Any]) -> list[Finding]:
    """Every finding of every check."""
    return [finding for check in CHECKS for finding in check(data)]
