"""What a run ran against, recorded before anything is touched: the "app version" a review compares.

The API server and kubelet versions, and the image of every workload outside the system namespaces
(``namespace/deployment -> image:tag``, several containers joined by commas), plus who ran the harness,
where, which version of it, and the seed. Reading the environment never fails a run: what could not be
read is said in ``errors``.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import socket
from collections import Counter
from typing import Any, Protocol

import harness

SYSTEM_NAMESPACES = re.compile(r"^(kube-|gke-|gmp-|istio-system$|cert-manager$)")
"""Namespaces whose workloads are the platform's, not the shop's."""


class ClusterReader(Protocol):
    """The reads this module needs (harness.clients.kube.KubeClient has them)."""

    def server_version(self) -> str: ...
    def list_nodes(self, label_selector: str | None = None) -> list[dict[str, Any]]: ...
    def list_all_deployments(self) -> list[dict[str, Any]]: ...


def workload_images(deployments: list[dict[str, Any]]) -> dict[str, str]:
    """``namespace/name -> image`` for every deployment outside the system namespaces, sorted."""
    out = {}
    for d in deployments:
        meta = d.get("metadata") or {}
        namespace = str(meta.get("namespace", ""))
        if SYSTEM_NAMESPACES.match(namespace):
            continue
        containers = (((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        out[f"{namespace}/{meta.get('name')}"] = ", ".join(str(c.get("image", "?")) for c in containers)
    return dict(sorted(out.items()))


def node_versions(nodes: list[dict[str, Any]]) -> dict[str, int]:
    """How many nodes run each kubelet version."""
    versions = Counter(str(((n.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "?")) for n in nodes)
    return dict(sorted(versions.items()))


def local_facts(seed: int | None) -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "unknown"
    return {"harness_version": harness.__version__, "user": user, "host": socket.gethostname(), "seed": seed}


def _read_cluster(kube: ClusterReader) -> tuple[dict[str, Any], list[str]]:
    facts: dict[str, Any] = {}
    errors = []
    reads = (("cluster_version", kube.server_version), ("node_versions", lambda: node_versions(kube.list_nodes())),
             ("images", lambda: workload_images(kube.list_all_deployments())))
    for key, read in reads:
        try:
            facts[key] = read()
        except Exception as exc:  # noqa: BLE001 - a fact that cannot be read is reported, never fatal
            errors.append(f"{key}: {type(exc).__name__}: {exc}")
    return facts, errors


async def describe_environment(kube: ClusterReader | None, seed: int | None) -> dict[str, Any]:
    """The environment section of ``run.started`` and run.json."""
    env = local_facts(seed)
    if kube is None:
        return {**env, "errors": ["no Kubernetes API for this target"]}
    facts, errors = await asyncio.to_thread(_read_cluster, kube)
    return {**env, **facts, **({"errors": errors} if errors else {})}
