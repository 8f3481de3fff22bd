"""The sandbox's controller-manager, scheduler and kubelets, as one daemon component.

Every pass (on a store change, at least every ``timings.reconcile_interval``) runs, in order:
workloads (Deployment -> ReplicaSet -> Pods), the scheduler, every node's kubelet, the node lifecycle
controller and the disruption (PDB) controller. A failing pass is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from typing import Any

import aiohttp

from harness.aio import wait_timeout

from ..core.context import Context
from ..core.store import Obj
from .bootstrap import bootstrap
from .cache import Cache, EventRecorder
from .kubelet import Kubelet
from .nodes import NodeLifecycle
from .pdb import Disruption
from .podproc import PodCommand, shop_command
from .podworker import Runtime
from .scheduler import Scheduler
from .workloads import Workloads

log = logging.getLogger(__name__)

STOP_GRACE = 2.0


class Controller:
    """Component "controller". ``pod_command`` builds a pod's argv (default: the shop module);
    ``run_bootstrap`` creates the initial cluster objects on start (idempotent)."""

    name = "controller"

    def __init__(self, pod_command: PodCommand | None = None, run_bootstrap: bool = True,
                 event_limit: int = 2000) -> None:
        self._pod_command = pod_command
        self._run_bootstrap = run_bootstrap
        self._event_limit = event_limit
        self._task: asyncio.Task[None] | None = None
        self._rt: Runtime | None = None
        self.kubelets: dict[str, Kubelet] = {}
        self.heartbeats: dict[str, float] = {}
        self.passes = 0
        self.last_error: str | None = None
        self.last_pass_seconds = 0.0

    async def start(self, ctx: Context) -> None:
        """Bootstrap (optionally) and start the reconcile loop."""
        self.ctx = ctx
        if self._run_bootstrap:
            bootstrap(ctx)
        cache = Cache(ctx.store)
        events = EventRecorder(ctx.store, self._event_limit)
        command = self._pod_command or shop_command(ctx.dir / "shop.json")
        self._rt = Runtime(ctx, cache, events, command, aiohttp.ClientSession())
        self.workloads = Workloads(ctx, cache)
        self.scheduler = Scheduler(ctx, cache, events)
        self.lifecycle = NodeLifecycle(ctx, cache, events, self.heartbeats)
        self.disruption = Disruption(ctx, cache)
        self._task = asyncio.create_task(self._loop(), name="sandbox-controller")

    async def _loop(self) -> None:
        assert self._rt is not None
        cache, interval = self._rt.cache, self.ctx.config.timings.reconcile_interval
        debounce = min(0.05, interval / 4)
        while True:
            cache.wake.clear()
            began = time.monotonic()
            try:
                self.reconcile_once()
                self.last_error = None
            except Exception as exc:  # never crash the daemon
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("sandbox controller pass failed")
            self.passes += 1
            self.last_pass_seconds = time.monotonic() - began
            await asyncio.sleep(max(debounce, 2 * self.last_pass_seconds))  # never more than ~a third of the loop
            with contextlib.suppress(TimeoutError):
                await wait_timeout(cache.wake.wait(), interval)  # never swallows stop()'s cancel

    def reconcile_once(self) -> None:
        """One synchronous pass of every loop."""
        assert self._rt is not None
        self.workloads.reconcile()
        self.scheduler.reconcile()
        pods_by_node: dict[str, list[Obj]] = defaultdict(list)
        pods_by_ns: dict[str, list[Obj]] = defaultdict(list)
        for pod in self._rt.cache.all("pods"):
            pods_by_ns[pod["metadata"].get("namespace", "")].append(pod)
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                pods_by_node[node].append(pod)
        nodes = {n["metadata"]["name"] for n in self._rt.cache.all("nodes")}
        for name in nodes:
            kubelet = self.kubelets.get(name)
            if kubelet is None:
                kubelet = self.kubelets[name] = Kubelet(self._rt, name, self.heartbeats)
            kubelet.sync(pods_by_node.get(name, []))
        for name in [n for n in self.kubelets if n not in nodes]:
            self.kubelets.pop(name).kill_all("node-deleted")
        self.lifecycle.reconcile(pods_by_node)
        self.disruption.reconcile(pods_by_ns)

    def pod_pids(self) -> dict[str, int]:
        """Pod name -> pid of every running pod process."""
        out: dict[str, int] = {}
        for kubelet in self.kubelets.values():
            out.update(kubelet.pids())
        return out

    def health(self) -> dict[str, Any]:
        """ok while the loop runs; pass count, last pass duration, pods and processes."""
        running = self._task is not None and not self._task.done()
        pods = len(self._rt.cache.objects["pods"]) if self._rt else 0
        return {"ok": running, "passes": self.passes, "last_pass_seconds": round(self.last_pass_seconds, 4),
                "pods": pods, "processes": len(self.pod_pids()), "last_error": self.last_error}

    async def stop(self) -> None:
        """Cancel the loop, SIGTERM every pod process (SIGKILL after a short wait), cancel all tasks."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._rt is None:
            return
        workers = [w for k in self.kubelets.values() for w in k.workers.values()]
        await asyncio.gather(*(w.shutdown(STOP_GRACE) for w in workers), return_exceptions=True)
        self.kubelets.clear()
        tasks = list(self._rt.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._rt.session.close()
        self._rt.cache.close()
        self._rt = None
