"""Between two experiments of a game day: wait until the shop is whole (every deployment of its
namespaces has all its replicas ready, and the next experiment's steady-state probes pass), with a
deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from harness.clients.connect import kube_client, resolve_connection
from harness.run.probing import RunProbes
from harness.run.steady import steady_state
from harness.spec.gameday import Between
from harness.spec.loader import LoadedExperiment
from probes.env import probe_env


def namespaces_of(between: Between, experiments: Sequence[LoadedExperiment]) -> list[str]:
    """``between.namespaces``, else the experiments' allowed namespaces and their targets' namespaces."""
    if between.namespaces is not None:
        return list(between.namespaces)
    found: list[str] = []
    for loaded in experiments:
        found += loaded.experiment.safety.allowed_namespaces or []
        found += getattr(loaded.target, "namespaces", None) or []
    return list(dict.fromkeys(found))


def unready(deployments: Sequence[dict[str, Any]]) -> list[str]:
    """``namespace/name ready/wanted`` for every deployment without all its replicas ready."""
    out = []
    for d in deployments:
        wanted = int((d.get("spec") or {}).get("replicas") or 0)
        ready = int((d.get("status") or {}).get("readyReplicas") or 0)
        if ready < wanted:
            meta = d.get("metadata") or {}
            out.append(f"{meta.get('namespace')}/{meta.get('name')} {ready}/{wanted} ready")
    return out


async def _deployments(kube: Any, namespaces: Sequence[str], deadline: float) -> list[str]:
    while True:
        missing: list[str] = []
        for ns in namespaces:
            missing += unready(await asyncio.to_thread(kube.list_deployments, ns))
        if not missing or time.monotonic() >= deadline:
            return missing
        await asyncio.sleep(1.0)


async def _steady(loaded: LoadedExperiment, kube: Any, conn: Any, deadline: float) -> list[str]:
    exp = loaded.experiment
    if not exp.probes or not exp.steady_state.before:
        return []
    probes = RunProbes(exp.probes, probe_env(conn, kube))
    try:
        return await steady_state(probes.select(exp.steady_state.probes), max(1.0, deadline - time.monotonic()))
    finally:
        await probes.close()


async def wait_whole(between: Between, namespaces: Sequence[str], upcoming: LoadedExperiment) -> list[str]:
    """Wait (at most ``between.timeout``) until the shop is whole for ``upcoming``; what is still not
    whole at the deadline (empty: whole). The pause is not included."""
    if not between.deployments_ready and not between.steady_state:
        return []
    conn = resolve_connection(upcoming.target)
    kube = kube_client(conn)
    deadline = time.monotonic() + between.timeout
    try:
        problems = await _deployments(kube, namespaces, deadline) if between.deployments_ready else []
        if not problems and between.steady_state:
            problems = [f"steady state: {p}" for p in await _steady(upcoming, kube, conn, deadline)]
        return problems
    finally:
        kube.close()
