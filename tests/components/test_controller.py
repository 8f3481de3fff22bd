"""The sandbox controller, scheduler, node lifecycle and kubelet, driven directly through the store.

Pods are real processes (tests/fakepod.py) on loopback pod IPs, or virtual pods for scheduler and
scale tests. Every wait polls with a deadline; every test stops the controller and checks that no
pod process is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp

from harness.sandbox.config import NodeShape, SandboxConfig, ServiceSpec, Timings
from harness.sandbox.controller.bootstrap import bootstrap
from harness.sandbox.controller.manager import Controller
from harness.sandbox.controller.util import condition, is_ready
from harness.sandbox.core.context import Context, new_context
from harness.sandbox.core.store import now_iso
from harness.sandbox.core.truth import read_truth

FAKEPOD = str(Path(__file__).parents[1] / "fakepod.py")
FAST = Timings(container_start_delay=0.1, readiness_period=0.2, readiness_threshold=1, endpoint_lag=0.1,
               node_monitor_grace=1.0, pod_eviction_timeout=1.0, default_grace_period=1.0,
               vm_stop_delay=0.1, reconcile_interval=0.1)
DEADLINE = 40.0
Obj = dict[str, Any]


def make_config(services: list[ServiceSpec], nodes_per_zone: int = 1, node: NodeShape | None = None) -> SandboxConfig:
    return SandboxConfig(zones=["b", "c", "d"], nodes_per_zone=nodes_per_zone, services=services,
                         timings=FAST, node=node or NodeShape(), pod_network="127.101.0.0/16",
                         pod_port=18080, prometheus=False)


def svc(name: str, replicas: int, **kw: Any) -> ServiceSpec:
    return ServiceSpec(name=name, replicas=replicas, path_prefix=f"/api/{name}", **kw)


def fakepod_command(flags_dir: Path) -> Callable[[Obj, str, int], list[str]]:
    def command(pod: Obj, ip: str, port: int) -> list[str]:
        name = pod["metadata"]["name"]
        return [sys.executable, FAKEPOD, "--service", pod["metadata"]["labels"]["app"], "--host", ip,
                "--port", str(port), "--pod", name, "--fail-ready", str(flags_dir / f"unready-{name}")]

    return command


@contextlib.asynccontextmanager
async def sandbox(tmp_path: Path, config: SandboxConfig) -> AsyncIterator[tuple[Context, Controller]]:
    ctx = new_context(config, tmp_path / "sb")
    ctl = Controller(pod_command=fakepod_command(tmp_path))
    await ctl.start(ctx)
    pids: set[int] = set()
    try:
        yield ctx, ctl
    finally:
        pids.update(ctl.pod_pids().values())
        await ctl.stop()
        ctx.truth.close()
        assert ctl.pod_pids() == {}
        for pid in pids:
            assert not alive(pid), f"pod process {pid} survived stop()"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def until(pred: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def pods(ctx: Context, app: str | None = None) -> list[Obj]:
    return ctx.store.list("pods", ctx.config.namespace, f"app={app}" if app else None)


def ready_pods(ctx: Context, app: str, n: int) -> list[Obj] | None:
    """Exactly ``n`` active pods of ``app``, all Ready, else None."""
    active = [p for p in pods(ctx, app) if not p["metadata"].get("deletionTimestamp")]
    return active if len(active) == n and all(is_ready(p) for p in active) else None


def zone_of(ctx: Context, pod: Obj) -> str:
    return ctx.vms[pod["spec"]["nodeName"]].zone


def api_delete(ctx: Context, pod: Obj) -> None:
    """What DELETE /api/v1/namespaces/ns/pods/name does: mark it, the kubelet finishes."""
    def mark(o: Obj) -> None:
        o["metadata"]["deletionTimestamp"] = now_iso()
        o["metadata"]["deletionGracePeriodSeconds"] = o["spec"]["terminationGracePeriodSeconds"]

    ctx.store.mutate("pods", pod["metadata"]["namespace"], pod["metadata"]["name"], mark)


def truth(ctx: Context, event: str) -> list[Obj]:
    return [t for t in read_truth(ctx.dir / "truth.jsonl") if t["event"] == event]


def events(ctx: Context, reason: str) -> list[Obj]:
    return [e for e in ctx.store.list("events", ctx.config.namespace) if e["reason"] == reason]


def set_replicas(ctx: Context, name: str, n: int) -> None:
    ctx.store.mutate("deployments", ctx.config.namespace, name, lambda d: d["spec"].__setitem__("replicas", n))


# -- bootstrap -----------------------------------------------------------------------------------------
def test_bootstrap_creates_nodes_deployments_and_pdbs(tmp_path: Path) -> None:
    config = make_config([svc("web", 2, pdb_min_available=1), svc("big", 3, virtual=True)], nodes_per_zone=2)
    ctx = new_context(config, tmp_path)
    bootstrap(ctx)
    bootstrap(ctx)  # idempotent
    names = {n["metadata"]["name"] for n in ctx.store.list("namespaces")}
    assert {"default", "kube-system", "kube-public", "shop"} <= names
    nodes = ctx.store.list("nodes")
    assert len(nodes) == 6 and {n["metadata"]["name"] for n in nodes} == set(ctx.vms)
    node = nodes[0]
    labels = node["metadata"]["labels"]
    assert labels["topology.kubernetes.io/zone"] == ctx.vms[node["metadata"]["name"]].zone
    assert labels["cloud.google.com/gke-nodepool"] == "default-pool"
    assert node["spec"]["providerID"].startswith("gce://sandbox-project/europe-west1-")
    assert node["status"]["allocatable"]["cpu"] == "4000m"
    assert condition(node, "Ready")["status"] == "True"
    assert condition(node, "MemoryPressure")["status"] == "False"
    assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.30.5-gke")
    web = ctx.store.get("deployments", "shop", "web")
    assert web["spec"]["replicas"] == 2
    tmpl = web["spec"]["template"]
    assert tmpl["metadata"]["labels"] == {"app": "web"}
    assert tmpl["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert tmpl["spec"]["terminationGracePeriodSeconds"] == 1
    big = ctx.store.get("deployments", "shop", "big")
    assert big["spec"]["template"]["metadata"]["annotations"] == {"sandbox/virtual": "true"}
    assert ctx.store.get("poddisruptionbudgets", "shop", "web")["spec"]["minAvailable"] == 1
    assert not ctx.store.exists("poddisruptionbudgets", "shop", "big")
    ctx.truth.close()


# -- process-backed pods ------------------------------------------------------------------------------
async def _spread_delete_scale(tmp_path: Path) -> None:
    config = make_config([svc("web", 3, pdb_min_available=2), svc("api", 2)])
    async with sandbox(tmp_path, config) as (ctx, ctl):
        web = await until(lambda: ready_pods(ctx, "web", 3), "web ready")
        await until(lambda: ready_pods(ctx, "api", 2), "api ready")
        assert sorted(zone_of(ctx, p) for p in web) == config.zone_names
        assert len(ctl.pod_pids()) == 5
        async with aiohttp.ClientSession() as http:
            for p in web:
                async with http.get(f"http://{p['status']['podIP']}:18080/healthz") as resp:
                    assert (await resp.json())["pod"] == p["metadata"]["name"]
        dep = await until(lambda: _with_status(ctx, "deployments", "web", "availableReplicas", 3), "deploy status")
        assert condition(dep, "Available")["status"] == "True"
        pdb = await until(lambda: _with_status(ctx, "poddisruptionbudgets", "web", "currentHealthy", 3), "pdb")
        assert pdb["status"]["disruptionsAllowed"] == 1 and pdb["status"]["desiredHealthy"] == 2
        # delete one pod like the API does: SIGTERM, then gone, then replaced
        victim = web[0]
        pid = ctl.pod_pids()[victim["metadata"]["name"]]
        api_delete(ctx, victim)
        await until(lambda: not ctx.store.exists("pods", "shop", victim["metadata"]["name"]), "victim deleted")
        assert not alive(pid)
        killed = [t for t in truth(ctx, "pod.killed") if t["pod"] == victim["metadata"]["name"]]
        assert killed and killed[0]["signal"] == "SIGTERM"
        await until(lambda: ready_pods(ctx, "web", 3), "replacement ready")
        assert events(ctx, "Killing") and events(ctx, "Started") and events(ctx, "Scheduled")
        # scale down to 1, then the PDB allows nothing
        set_replicas(ctx, "web", 1)
        await until(lambda: len(pods(ctx, "web")) == 1 and ready_pods(ctx, "web", 1), "scaled down")
        pdb = await until(lambda: _with_status(ctx, "poddisruptionbudgets", "web", "currentHealthy", 1), "pdb")
        assert pdb["status"]["disruptionsAllowed"] == 0
        assert condition(pdb, "DisruptionAllowed")["status"] == "False"


def _with_status(ctx: Context, plural: str, name: str, key: str, value: int) -> Obj | None:
    obj = ctx.store.get(plural, "shop", name)
    return obj if (obj.get("status") or {}).get(key) == value else None


def test_pods_spread_ready_deleted_replaced_and_scaled(tmp_path: Path) -> None:
    asyncio.run(_spread_delete_scale(tmp_path))


async def _unready_and_crash(tmp_path: Path) -> None:
    async with sandbox(tmp_path, make_config([svc("web", 1)])) as (ctx, ctl):
        [pod] = await until(lambda: ready_pods(ctx, "web", 1), "web ready")
        name = pod["metadata"]["name"]
        flag = tmp_path / f"unready-{name}"
        flag.touch()
        await until(lambda: not is_ready(ctx.store.get("pods", "shop", name)), "unready")
        assert [t for t in truth(ctx, "pod.unready") if t["pod"] == name]
        flag.unlink()
        await until(lambda: is_ready(ctx.store.get("pods", "shop", name)), "ready again")
        os.kill(ctl.pod_pids()[name], signal.SIGKILL)
        await until(lambda: truth(ctx, "pod.crashed"), "crash noticed")
        await until(lambda: ready_pods(ctx, "web", 1), "restarted")
        status = ctx.store.get("pods", "shop", name)["status"]["containerStatuses"][0]
        assert status["restartCount"] == 1 and "running" in status["state"]


def test_readiness_failure_and_crash_restart(tmp_path: Path) -> None:
    asyncio.run(_unready_and_crash(tmp_path))


async def _vm_stop_and_start(tmp_path: Path) -> None:
    async with sandbox(tmp_path, make_config([svc("web", 3)], nodes_per_zone=1)) as (ctx, ctl):
        web = await until(lambda: ready_pods(ctx, "web", 3), "web ready")
        victim = next(p for p in web if zone_of(ctx, p).endswith("-b"))
        node = victim["spec"]["nodeName"]
        pid = ctl.pod_pids()[victim["metadata"]["name"]]
        ctx.vms[node].status = "TERMINATED"
        await until(lambda: not alive(pid), "process killed with the VM")
        assert truth(ctx, "pod.killed")[-1]["reason"] == "vm-stopped"
        await until(lambda: condition(ctx.store.get("nodes", None, node), "Ready")["status"] == "Unknown",
                    "node unknown")
        taints = ctx.store.get("nodes", None, node)["spec"]["taints"]
        assert {(t["key"], t["effect"]) for t in taints} == {("node.kubernetes.io/unreachable", "NoSchedule"),
                                                            ("node.kubernetes.io/unreachable", "NoExecute")}
        assert truth(ctx, "node.notready")[0]["node"] == node
        await until(lambda: ctx.store.get("pods", "shop", victim["metadata"]["name"])["metadata"]
                    .get("deletionTimestamp"), "victim evicted")
        replaced = await until(lambda: ready_pods(ctx, "web", 3), "replacement ready")
        assert Counter(zone_of(ctx, p) for p in replaced)["europe-west1-b"] == 0
        assert truth(ctx, "pod.evicted")
        ctx.vms[node].status = "RUNNING"
        await until(lambda: not ctx.store.exists("pods", "shop", victim["metadata"]["name"]), "finalized")
        await until(lambda: condition(ctx.store.get("nodes", None, node), "Ready")["status"] == "True", "ready")
        assert "taints" not in ctx.store.get("nodes", None, node)["spec"]
        assert truth(ctx, "node.ready")


def test_vm_stop_kills_pods_node_notready_pods_replaced_then_ready(tmp_path: Path) -> None:
    asyncio.run(_vm_stop_and_start(tmp_path))


# -- scheduling (virtual pods) --------------------------------------------------------------------------
async def _cordon_and_scale(tmp_path: Path) -> None:
    async with sandbox(tmp_path, make_config([svc("v", 3, virtual=True)], nodes_per_zone=2)) as (ctx, ctl):
        first = await until(lambda: ready_pods(ctx, "v", 3), "virtual ready")
        assert sorted(zone_of(ctx, p) for p in first) == ctx.config.zone_names
        assert ctl.pod_pids() == {}
        cordoned = sorted(ctx.vms)[0]
        ctx.store.mutate("nodes", None, cordoned, lambda n: n["spec"].__setitem__("unschedulable", True))
        set_replicas(ctx, "v", 12)
        more = await until(lambda: ready_pods(ctx, "v", 12), "scaled up")
        on_cordoned = [p for p in more if p["spec"]["nodeName"] == cordoned]
        assert all(p in first for p in on_cordoned)
        assert set(Counter(zone_of(ctx, p) for p in more).values()) == {4}
        await until(lambda: _with_status(ctx, "deployments", "v", "readyReplicas", 12), "deploy status")
        set_replicas(ctx, "v", 2)
        await until(lambda: len(pods(ctx, "v")) == 2, "scaled down")
        assert _with_status(ctx, "replicasets", ctx.store.list("replicasets", "shop")[0]["metadata"]["name"],
                            "replicas", 2) or await until(
            lambda: ctx.store.list("replicasets", "shop")[0]["status"]["replicas"] == 2, "rs status")


def test_cordon_keeps_new_pods_off_and_scaling_works(tmp_path: Path) -> None:
    asyncio.run(_cordon_and_scale(tmp_path))


async def _exhaustion(tmp_path: Path) -> None:
    config = make_config([svc("v", 8, virtual=True, cpu_millis=500)], node=NodeShape(cpu_millis=1000))
    async with sandbox(tmp_path, config) as (ctx, _ctl):
        await until(lambda: sum(is_ready(p) for p in pods(ctx, "v")) == 6, "six fit")
        pending = await until(lambda: [p for p in pods(ctx, "v") if not p["spec"].get("nodeName")
                                       and condition(p, "PodScheduled")], "pending with condition")
        assert len(pending) == 2
        cond = condition(pending[0], "PodScheduled")
        assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
        assert cond["message"] == "0/3 nodes are available: 3 Insufficient cpu."
        failed = await until(lambda: events(ctx, "FailedScheduling"), "FailedScheduling event")
        assert failed[0]["message"].startswith("0/3 nodes are available")
        await asyncio.sleep(0.5)  # several more passes: still reported once per pod
        assert len(truth(ctx, "pod.unschedulable")) == 2
        set_replicas(ctx, "v", 6)
        await until(lambda: all(p["spec"].get("nodeName") for p in pods(ctx, "v")), "pending ones removed")


def test_capacity_exhaustion_leaves_pods_pending(tmp_path: Path) -> None:
    asyncio.run(_exhaustion(tmp_path))


# -- pod processes die with the daemon ------------------------------------------------------------------
_ORPHAN_SCRIPT = """
import asyncio, os, sys
from pathlib import Path
from harness.sandbox.controller.podproc import start_process

async def main():
    proc = await start_process([sys.executable, sys.argv[1], "--port", sys.argv[2]], "orphan", Path(sys.argv[3]))
    print(proc.pid, flush=True)
    os._exit(0)

asyncio.run(main())
"""


def test_pod_process_dies_with_the_daemon(tmp_path: Path) -> None:
    import subprocess

    from harness.sandbox.core.context import free_port

    out = subprocess.run([sys.executable, "-c", _ORPHAN_SCRIPT, FAKEPOD, str(free_port()), str(tmp_path)],
                         capture_output=True, text=True, timeout=30, check=True)
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
