"""The kubelet's per-pod worker: start the container (a real process, or none for virtual pods), probe
readiness, restart crashes, and terminate gracefully when the pod is deleted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ..core.context import Context
from ..core.store import NotFound, Obj, now_iso
from .cache import Cache, EventRecorder
from .podproc import PodCommand, PodProcess, start_process
from .util import is_virtual, pod_fields, set_condition

log = logging.getLogger(__name__)

CRASH_RESET_SECONDS = 10.0  # a container that ran this long resets the crash back-off
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class Runtime:
    """What every kubelet and pod worker shares."""

    ctx: Context
    cache: Cache
    events: EventRecorder
    pod_command: PodCommand
    session: aiohttp.ClientSession
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a tracked task whose failure is logged, never raised."""
        task = asyncio.ensure_future(_logged(coro, name))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


async def _logged(coro: Coroutine[Any, Any, Any], name: str) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("sandbox kubelet task %s failed", name)


async def _start_uncancelled(command: list[str], pod: str, log_dir: Path) -> PodProcess:
    """Start a process; if cancelled meanwhile, the process is killed as soon as it exists."""
    starting = asyncio.ensure_future(start_process(command, pod, log_dir))
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        starting.add_done_callback(_kill_started)
        raise


def _kill_started(fut: asyncio.Future[PodProcess]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        fut.result().kill()


class PodWorker:
    """Runs one pod on one node."""

    def __init__(self, rt: Runtime, pod: Obj, restart: bool) -> None:
        self.rt = rt
        meta, status = pod["metadata"], pod.get("status") or {}
        self.namespace, self.name, self.uid = meta.get("namespace", ""), meta["name"], meta["uid"]
        self.node = pod["spec"]["nodeName"]
        self.pod = pod
        self.virtual = is_virtual(pod)
        self.ip: str | None = status.get("podIP")
        cstat = (status.get("containerStatuses") or [{}])[0]
        self.restarts = int(cstat.get("restartCount", 0)) + (1 if restart else 0)
        self.proc: PodProcess | None = None
        self.started = False
        self.started_at: str | None = None
        self.task: asyncio.Task[Any] | None = None
        self.term_task: asyncio.Task[Any] | None = None
        self.finished = False

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin running the pod (after the container start delay)."""
        self.task = self.rt.spawn(self._run(), f"run {self.name}")

    def terminate(self, pod: Obj) -> None:
        """Graceful deletion: SIGTERM, grace period, SIGKILL, then remove the pod (idempotent)."""
        if self.term_task is not None or self.finished:
            return
        meta = pod["metadata"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        self.term_task = self.rt.spawn(self._terminate(float(grace)), f"terminate {self.name}")

    def hard_kill(self, reason: str) -> None:
        """SIGKILL at once (the VM stopped, or the pod vanished); leaves the pod object alone."""
        if self.finished:
            return
        self.finished = True
        for task in (self.task, self.term_task):
            if task is not None:
                task.cancel()
        if self.proc is not None and self.proc.running:
            self.proc.kill()
            self.rt.spawn(self.proc.wait(), f"reap {self.name}")
            self.rt.ctx.truth.record("pod.killed", **self._fields(), signal="SIGKILL", reason=reason)
        elif self.virtual and self.started:
            self.rt.ctx.truth.record("pod.killed", **self._fields(), signal="SIGKILL", reason=reason)

    async def shutdown(self, grace: float) -> None:
        """Daemon stop: end the process without touching the store."""
        self.finished = True
        for task in (self.task, self.term_task):
            if task is not None:
                task.cancel()
        if self.proc is not None:
            await self.proc.terminate(grace)

    @property
    def pid(self) -> int | None:
        """The pid of the running process, if any."""
        return self.proc.pid if self.proc is not None and self.proc.running else None

    # -- running -------------------------------------------------------------------------------------
    async def _run(self) -> None:
        t = self.rt.ctx.config.timings
        await asyncio.sleep(t.container_start_delay)
        if self.ip is None:
            assert self.rt.ctx.pod_ips is not None
            self.ip = self.rt.ctx.pod_ips.allocate()
        if self.virtual:  # no image, no process: only Scheduled and Started events, to stay cheap at scale
            self.started_at = now_iso()
            self._set_status(ready=True)
            self._started()
            self.rt.ctx.truth.record("pod.ready", **self._fields())
            return
        image = self.pod["spec"]["containers"][0].get("image", "")
        self._event("Pulled", f'Container image "{image}" already present on machine')
        crashes = 0
        while True:
            command = self.rt.pod_command(self.pod, self.ip, self.rt.ctx.config.pod_port)
            self.proc = await _start_uncancelled(command, self.name, self.rt.ctx.dir / "pods")
            self.started_at = now_iso()
            self._set_status(ready=False)
            self._started()
            began = time.monotonic()
            code = await self._probe_until_exit(self.proc)
            crashes = 0 if time.monotonic() - began > CRASH_RESET_SECONDS else crashes + 1
            self.rt.ctx.truth.record("pod.crashed", **self._fields(), exit_code=code, restarts=self.restarts + 1)
            self.restarts += 1
            self._set_status(ready=False, exit_code=code)
            self._event("BackOff", "Back-off restarting failed container", "Warning")
            await asyncio.sleep(min(t.container_start_delay * 2 ** min(crashes, 8), MAX_BACKOFF_SECONDS))

    def _started(self) -> None:
        self.started = True
        self.rt.ctx.truth.record("pod.started", **self._fields(), ip=self.ip, restarts=self.restarts,
                                 pid=self.pid)
        self._event("Started", f"Started container {self.pod['spec']['containers'][0]['name']}")

    async def _probe_until_exit(self, proc: PodProcess) -> int:
        """Probe readiness every period until the process exits; its exit code."""
        t = self.rt.ctx.config.timings
        waiter = asyncio.ensure_future(proc.wait())
        ready, streak = False, 0
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=t.readiness_period)
                if done:
                    return waiter.result()
                ok = await self._probe()
                streak = streak + 1 if ok else 0
                if ok and not ready and streak >= t.readiness_threshold:
                    ready = True
                    self._set_status(ready=True)
                    self.rt.ctx.truth.record("pod.ready", **self._fields())
                elif not ok and ready:
                    ready = False
                    self._set_status(ready=False)
                    self.rt.ctx.truth.record("pod.unready", **self._fields())
                    self._event("Unhealthy", "Readiness probe failed: GET /readyz", "Warning")
        finally:
            waiter.cancel()

    async def _probe(self) -> bool:
        url = f"http://{self.ip}:{self.rt.ctx.config.pod_port}/readyz"
        timeout = aiohttp.ClientTimeout(total=min(1.0, max(0.2, self.rt.ctx.config.timings.readiness_period)))
        try:
            async with self.rt.session.get(url, timeout=timeout) as resp:
                await resp.read()
                return 200 <= resp.status < 400
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False

    # -- terminating ---------------------------------------------------------------------------------
    async def _terminate(self, grace: float) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.proc is not None and self.proc.running:
            self._event("Killing", f"Stopping container {self.pod['spec']['containers'][0]['name']}")
            # a shop pod closes its listener on SIGTERM and only then drains: it stops serving here, not at exit
            self.rt.ctx.truth.record("pod.terminating", **self._fields(), signal="SIGTERM")
            sig = await self.proc.terminate(grace)
            self.rt.ctx.truth.record("pod.killed", **self._fields(), signal=sig, reason="deleted")
        elif self.virtual and self.started:
            self.rt.ctx.truth.record("pod.killed", **self._fields(), signal="SIGTERM", reason="deleted")
        self.finished = True
        self._remove()

    def _remove(self) -> None:
        try:
            self.rt.ctx.store.delete("pods", self.namespace, self.name)
        except NotFound:
            pass
        else:
            self.rt.ctx.truth.record("pod.deleted", **self._fields())
        self.release_ip()

    def release_ip(self) -> None:
        """Give the pod IP back (the pod is gone)."""
        if self.ip and self.rt.ctx.pod_ips is not None:
            self.rt.ctx.pod_ips.release(self.ip)
            self.ip = None

    # -- status --------------------------------------------------------------------------------------
    def _fields(self) -> dict[str, Any]:
        return {**pod_fields(self.pod), "node": self.node}

    def _event(self, reason: str, message: str, type_: str = "Normal") -> None:
        self.rt.events.record(self.pod, reason, message, type_, component="kubelet", host=self.node)

    def _set_status(self, ready: bool, exit_code: int | None = None) -> None:
        def put(o: Obj) -> None:
            _pod_status(o, self, ready, exit_code)

        try:
            self.pod = self.rt.ctx.store.mutate("pods", self.namespace, self.name, put)
        except NotFound:
            pass


def _pod_status(pod: Obj, w: PodWorker, ready: bool, exit_code: int | None) -> None:
    """Write the running pod's status: phase, IPs, container status and conditions."""
    status = pod.setdefault("status", {})
    ts = now_iso()
    node = w.rt.cache.get("nodes", "", w.node) or {}
    host_ip = next((a["address"] for a in (node.get("status") or {}).get("addresses") or []
                    if a.get("type") == "InternalIP"), "")
    container = pod["spec"]["containers"][0]
    old = (status.get("containerStatuses") or [{}])[0]
    running = exit_code is None
    state: dict[str, Any] = ({"running": {"startedAt": w.started_at or ts}} if running else
                             {"waiting": {"reason": "CrashLoopBackOff"}})
    cs = {
        "name": container["name"], "image": container.get("image", ""),
        "imageID": f"{container.get('image', '')}@sha256:{'0' * 64}",
        "containerID": f"containerd://{w.uid.replace('-', '')}{w.restarts:04d}",
        "ready": ready, "started": running, "restartCount": w.restarts, "state": state,
        "lastState": ({"terminated": {"exitCode": exit_code, "reason": "Error", "finishedAt": ts}}
                      if not running else old.get("lastState", {})),
    }
    status.update(phase="Running", hostIP=host_ip, podIP=w.ip, podIPs=[{"ip": w.ip}],
                  containerStatuses=[cs], qosClass=status.get("qosClass", "Burstable"))
    status.setdefault("startTime", ts)
    flag = "True" if ready else "False"
    reason = "" if ready else "ContainersNotReady"
    message = "" if ready else f"containers with unready status: [{container['name']}]"
    set_condition(pod, "PodReadyToStartContainers", "True")
    set_condition(pod, "Initialized", "True")
    set_condition(pod, "ContainersReady", flag, reason, message)
    set_condition(pod, "Ready", flag, reason, message)
    set_condition(pod, "PodScheduled", "True")

