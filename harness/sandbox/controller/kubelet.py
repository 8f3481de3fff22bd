"""The kubelet of one sandbox node: runs the pods bound to it while its VM is RUNNING, heartbeats, and
kills every pod process at once when the VM stops.

A VM that comes back with a new instance id (its managed instance group recreated it) is a fresh boot:
the kubelet forgets its last heartbeat, so the node lifecycle controller turns the node NotReady, and
starts posting again only after ``timings.container_start_delay`` (the kubelet starting), when the
node turns Ready as after any start."""

from __future__ import annotations

import time

from ..core.store import NotFound, Obj, now_iso
from .podworker import PodWorker, Runtime
from .util import condition, is_terminating

HEARTBEAT_INTERVAL = 1.0


class Kubelet:
    """Syncs the pods bound to ``node`` on every controller pass."""

    def __init__(self, rt: Runtime, node: str, heartbeats: dict[str, float]) -> None:
        self.rt = rt
        self.node = node
        self.heartbeats = heartbeats
        self.workers: dict[str, PodWorker] = {}
        self.vm_up: bool | None = None
        self.vm_id: int | None = None  # the instance id seen last; a new one is a fresh boot
        self._booting_until = 0.0
        self._last_write = 0.0

    def vm_running(self) -> bool:
        """The node's VM is RUNNING (a node without a VM counts as running)."""
        vm = self.rt.ctx.vms.get(self.node)
        return vm is None or vm.status == "RUNNING"

    def sync(self, pods: list[Obj]) -> None:
        """Reconcile the workers with the pods bound here."""
        if not self.vm_running():
            if self.vm_up is not False:
                self.kill_all("vm-stopped")
            self.vm_up = False
            return
        self.vm_up = True
        if self._fresh_boot():
            self.kill_all("vm-recreated")
            self.heartbeats[self.node] = float("-inf")  # a new kubelet has never posted status
            self._booting_until = time.monotonic() + self.rt.ctx.config.timings.container_start_delay
        if time.monotonic() < self._booting_until:
            return
        self.heartbeat()
        seen = set()
        for pod in pods:
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            worker = self.workers.get(uid)
            if worker is None:
                worker = self._new_worker(pod)
            if is_terminating(pod):
                worker.terminate(pod)
        for uid in [u for u in self.workers if u not in seen]:
            gone = self.workers.pop(uid)
            gone.hard_kill("deleted")
            gone.release_ip()

    def _fresh_boot(self) -> bool:
        """Whether the VM's instance id changed since the last pass (recreated, not merely started)."""
        vm = self.rt.ctx.vms.get(self.node)
        if vm is None:
            return False
        seen, self.vm_id = self.vm_id, vm.id
        return seen is not None and seen != vm.id

    def _new_worker(self, pod: Obj) -> PodWorker:
        restart = bool((pod.get("status") or {}).get("containerStatuses"))
        worker = PodWorker(self.rt, pod, restart=restart)
        self.workers[pod["metadata"]["uid"]] = worker
        if not is_terminating(pod):
            worker.start()
        return worker

    def kill_all(self, reason: str) -> None:
        """SIGKILL every pod process of this node now (the VM went away)."""
        for worker in self.workers.values():
            worker.hard_kill(reason)
        self.workers.clear()

    def heartbeat(self) -> None:
        """Note the kubelet is alive; post lastHeartbeatTime about once a second."""
        now = time.monotonic()
        self.heartbeats[self.node] = now
        if now - self._last_write < HEARTBEAT_INTERVAL:
            return
        node = self.rt.cache.get("nodes", "", self.node)
        ready = condition(node, "Ready") if node else None
        if not ready or ready.get("status") != "True":
            return  # the node lifecycle controller flips it back to Ready first
        self._last_write = now
        ts = now_iso()
        if ready.get("lastHeartbeatTime") == ts:
            return

        def beat(o: Obj) -> None:
            for c in (o.get("status") or {}).get("conditions") or []:
                c["lastHeartbeatTime"] = ts

        self.rt.cache.quiet = True
        try:
            self.rt.ctx.store.mutate("nodes", None, self.node, beat)
        except NotFound:
            pass
        finally:
            self.rt.cache.quiet = False

    def pids(self) -> dict[str, int]:
        """Pod name -> pid of every running pod process here."""
        return {w.name: w.pid for w in self.workers.values() if w.pid is not None}
