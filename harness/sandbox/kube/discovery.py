"""Discovery documents: /version, /api, /apis, /api/v1 and /apis/{group}/{version}.

kubectl 1.32 first asks for aggregated discovery (``as=APIGroupDiscoveryList``); these answers are plain
``application/json`` legacy documents, which makes client-go fall back to the legacy endpoints.
"""

from __future__ import annotations

from typing import Any

from ..core.store import RESOURCES, Resource
from .authz import REVIEW_RESOURCE
from .request import AUTHZ_GROUP, AUTHZ_VERSION

Obj = dict[str, Any]

SERVER_VERSION: Obj = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# Resources whose /status subresource exists; their main resource ignores status changes on write.
STATUS_SUBRESOURCE = frozenset(
    {"namespaces", "nodes", "pods", "services", "deployments", "replicasets", "daemonsets", "statefulsets",
     "poddisruptionbudgets"}
)
# Resources with an autoscaling/v1 Scale subresource.
SCALE_SUBRESOURCE = frozenset({"deployments", "replicasets", "statefulsets"})
# Resources listed by ``kubectl get all``.
CATEGORY_ALL = frozenset({"pods", "services", "deployments", "replicasets", "daemonsets", "statefulsets"})

_STATUS_VERBS = ["get", "patch", "update"]
# Served resources that are not stored objects: (group, version) -> discovery entries.
VIRTUAL: dict[tuple[str, str], list[Obj]] = {(AUTHZ_GROUP, AUTHZ_VERSION): [REVIEW_RESOURCE]}


def _main_entry(res: Resource) -> Obj:
    verbs = list(res.verbs)
    if res.namespaced and "deletecollection" not in verbs:
        verbs.append("deletecollection")
    entry: Obj = {
        "name": res.plural,
        "singularName": res.kind.lower(),
        "namespaced": res.namespaced,
        "kind": res.kind,
        "verbs": sorted(verbs),
    }
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.plural in CATEGORY_ALL:
        entry["categories"] = ["all"]
    return entry


def _sub_entry(res: Resource, sub: str, kind: str, verbs: list[str], group: str | None = None,
               version: str | None = None) -> Obj:
    entry: Obj = {"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": res.namespaced,
                  "kind": kind, "verbs": verbs}
    if group is not None:
        entry["group"], entry["version"] = group, version
    return entry


def _entries(res: Resource) -> list[Obj]:
    out = [_main_entry(res)]
    if res.plural == "pods":
        out.append(_sub_entry(res, "eviction", "Eviction", ["create"], "policy", "v1"))
    if res.plural in SCALE_SUBRESOURCE:
        out.append(_sub_entry(res, "scale", "Scale", _STATUS_VERBS, "autoscaling", "v1"))
    if res.plural in STATUS_SUBRESOURCE:
        out.append(_sub_entry(res, "status", res.kind, _STATUS_VERBS))
    return out


def group_versions() -> dict[str, list[str]]:
    """Served API groups (``""`` is core) and their versions."""
    out: dict[str, list[str]] = {}
    pairs = [(res.group, res.version) for res in RESOURCES.values()] + list(VIRTUAL)
    for group, version in pairs:
        versions = out.setdefault(group, [])
        if version not in versions:
            versions.append(version)
    return out


def resource_list(group: str, version: str) -> Obj | None:
    """The ``APIResourceList`` of one group/version, or ``None`` when it is not served."""
    resources = [r for r in RESOURCES.values() if r.group == group and r.version == version]
    entries = [e for r in resources for e in _entries(r)] + VIRTUAL.get((group, version), [])
    if not entries:
        return None
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}


def api_versions(server_address: str) -> Obj:
    """``GET /api``."""
    return {
        "kind": "APIVersions",
        "versions": group_versions().get("", ["v1"]),
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(name: str) -> Obj | None:
    """``GET /apis/{group}``, or ``None`` when the group is not served."""
    versions = group_versions().get(name)
    if not name or not versions:
        return None
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list() -> Obj:
    """``GET /apis``."""
    groups = [api_group(name) for name in sorted(group_versions()) if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g]}
