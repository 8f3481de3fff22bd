"""Sandbox-side enforcement of Compute Engine deny firewall rules for the traffic the sandbox carries.

- ingress -> pod: the ingress asks ``blocked(pod_ip)``; the pod IP is mapped to its pod, node and VM,
  and an INGRESS deny rule on that VM blocks the request.
- pod -> database / payment partner (through the fault proxy): pods connect from 127.0.0.1, so the
  proxy's hook gets the client's source port too; the port is mapped to the owning process through
  ``/proc/net/tcp`` (socket inode) and ``/proc/<pid>/fd``, the pid to its pod through the controller's
  ``pod_pids()``, and an EGRESS deny rule on the pod's VM refuses the connection.

Call ``install(ctx)`` once the components have started (the daemon does it after ``start``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..compute.firewalls import vm_blocked
from ..core.context import Context
from .ingress import Ingress
from .toxiproxy import Toxiproxy

PROC = Path("/proc")


@runtime_checkable
class PodProcesses(Protocol):
    """What the policy asks of the controller (a component it may not import): who runs which pod."""

    def pod_pids(self) -> dict[str, int]:
        """Pod name -> pid of every running pod process."""
        ...


def _hex_port(field: str) -> int:
    return int(field.rsplit(":", 1)[1], 16)


def socket_inodes(port: int, proc: Path = PROC) -> set[str]:
    """Inodes of the IPv4/IPv6 TCP sockets whose LOCAL port is ``port`` (the client end of a connection)."""
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and _hex_port(cols[1]) == port and cols[9] != "0":
                inodes.add(cols[9])
    return inodes


def pid_owning(inodes: set[str], pids: list[int], proc: Path = PROC) -> int | None:
    """The first of ``pids`` holding one of the socket ``inodes`` open, or None."""
    wanted = {f"socket:[{i}]" for i in inodes}
    for pid in pids:
        fd_dir = proc / str(pid) / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd_dir / fd) in wanted:
                    return pid
            except OSError:
                continue
    return None


class NetPolicy:
    """Answers the data plane's questions from ``ctx.firewalls``, ``ctx.vms`` and the pods in the store."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _rules_exist(self) -> bool:
        return any(r.get("denied") and not r.get("disabled") for r in self.ctx.firewalls.values())

    def _pods(self) -> list[dict[str, Any]]:
        pods: list[dict[str, Any]] = self.ctx.store.list("pods", None, copy_out=False)
        return pods

    def node_of_ip(self, pod_ip: str) -> str | None:
        """The node of the (live) pod with this IP."""
        for pod in self._pods():
            if (pod.get("status") or {}).get("podIP") == pod_ip and not pod["metadata"].get("deletionTimestamp"):
                return str(pod["spec"].get("nodeName") or "") or None
        return None

    def node_of_pod(self, name: str) -> str | None:
        """The node of the pod called ``name`` (any namespace)."""
        for pod in self._pods():
            if pod["metadata"]["name"] == name:
                return str(pod["spec"].get("nodeName") or "") or None
        return None

    def ingress_blocked(self, pod_ip: str) -> bool:
        """An INGRESS deny rule applies to the VM of the pod at ``pod_ip``."""
        if not self._rules_exist():
            return False
        node = self.node_of_ip(pod_ip)
        return node is not None and vm_blocked(self.ctx, node, "INGRESS")

    def pod_of_port(self, port: int) -> str | None:
        """The pod whose process owns the local end of a loopback connection from ``port``."""
        controller = self.ctx.components.get("controller")
        if not isinstance(controller, PodProcesses):
            return None
        by_pid = {pid: pod for pod, pid in controller.pod_pids().items()}
        pid = pid_owning(socket_inodes(port), list(by_pid))
        return by_pid.get(pid) if pid is not None else None

    def egress_blocked(self, ip: str, port: int) -> bool:
        """An EGRESS deny rule applies to the VM of the pod that opened the connection from ip:port."""
        if not self._rules_exist():
            return False
        pod = self.pod_of_port(port) if ip.startswith("127.0.0.") else None
        if pod is None:
            node = self.node_of_ip(ip)
        else:
            node = self.node_of_pod(pod)
        return node is not None and vm_blocked(self.ctx, node, "EGRESS")


def install(ctx: Context) -> NetPolicy:
    """Wire the policy into the ingress (``blocked``) and the fault proxy (``blocked_client``)."""
    policy = NetPolicy(ctx)
    ingress = ctx.components.get("ingress")
    if isinstance(ingress, Ingress):
        ingress.blocked = policy.ingress_blocked
    toxiproxy = ctx.components.get("toxiproxy")
    if isinstance(toxiproxy, Toxiproxy):
        toxiproxy.blocked_client = policy.egress_blocked
    return policy
