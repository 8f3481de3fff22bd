"""The shared state of one sandbox daemon: config, store, truth log, ports, VMs and firewalls.

Every component (kubeapi, controller/kubelet, compute, ingress, toxiproxy, postgres, partner,
prometheus) receives the one `Context` and talks to the others only through it.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..config import SandboxConfig
from .apifaults import ApiFaults
from .ports import Listeners, bind, free_port
from .store import Store
from .truth import Truth


def claim_pod_network(cidr: str) -> tuple[str, int | None]:
    """Give this sandbox a loopback /16 of its own (127.100/16, else 127.101/16, ...), held by an
    flock for the life of the process, so two sandboxes on one machine never hand out the same pod IP."""
    net = ipaddress.ip_network(cidr)
    first = str(net.network_address).split(".")
    if net.prefixlen != 16 or first[0] != "127":
        return cidr, None
    lockdir = _shared_lockdir()
    for second in range(int(first[1]), 255):
        fd = _open_lock(lockdir / f"127.{second}.lock")
        if fd is None:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return f"127.{second}.0.0/16", fd
    return cidr, None


def _shared_lockdir() -> Path:
    """``/tmp/harness-sandbox-networks``, shared by every user's sandboxes (pod IPs are machine-wide):
    when we create it, it is made like /tmp itself (1777), so another user's sandbox can lock too."""
    lockdir = Path(tempfile.gettempdir()) / "harness-sandbox-networks"
    try:
        lockdir.mkdir()
        lockdir.chmod(0o1777)
    except FileExistsError:
        pass
    return lockdir


def _open_lock(path: Path) -> int | None:
    """A descriptor to flock ``path`` with: created readable by all (an flock needs no write access),
    opened read-only when another user made it; None when it can be neither made nor opened."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        os.fchmod(fd, 0o644)
        return fd
    except FileExistsError:
        pass
    except PermissionError:
        return None
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


def _address_in_use(ip: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((ip, port))
        except OSError:
            return True
    return False


class IpAllocator:
    """Hands out pod IPs from the loopback pod network, skipping addresses in use (another sandbox)."""

    def __init__(self, cidr: str, port: int) -> None:
        self._hosts = ipaddress.ip_network(cidr).hosts()
        self._port = port
        self._free: list[str] = []

    def allocate(self) -> str:
        while self._free:
            ip = self._free.pop(0)
            if not _address_in_use(ip, self._port):
                return ip
        for host in self._hosts:
            ip = str(host)
            if ip.endswith(".0") or ip.endswith(".255"):
                continue
            if not _address_in_use(ip, self._port):
                return ip
        raise RuntimeError("pod network exhausted")

    def release(self, ip: str) -> None:
        self._free.append(ip)


@dataclass
class Vm:
    """A Compute Engine instance backing one node (same name)."""

    name: str
    zone: str
    id: int
    status: str = "RUNNING"  # PROVISIONING, STAGING, RUNNING, STOPPING, TERMINATED
    tags: list[str] = field(default_factory=list)
    tags_fingerprint: str = "42WmSpB8rSM="
    labels: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    machine_type: str = "e2-standard-4"
    network_ip: str = ""
    creation_timestamp: str = ""
    network: str = "default"  # name of the VPC network its nic0 is on

C = TypeVar("C")


class Component(Protocol):
    """A part of the sandbox the daemon starts, checks and stops."""

    name: str

    async def start(self, ctx: Context) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> dict[str, Any]: ...


@dataclass
class Context:
    config: SandboxConfig
    dir: Path
    store: Store
    truth: Truth
    ports: dict[str, int] = field(default_factory=dict)
    vms: dict[str, Vm] = field(default_factory=dict)
    firewalls: dict[str, dict[str, Any]] = field(default_factory=dict)
    networks: list[str] = field(default_factory=lambda: ["default"])  # VPC network names (see `make_networks`)
    endpoints: dict[str, Any] = field(default_factory=dict)
    pod_ips: IpAllocator | None = None
    api_faults: ApiFaults | None = None  # set by PUT /sandbox/api-faults (`apifaults.configure`)
    components: dict[str, Component] = field(default_factory=dict)  # by name, as the daemon started them
    network_lock: int | None = None  # the flock'd fd that reserves this sandbox's pod network
    listeners: Listeners = field(default_factory=Listeners)  # bound sockets no server has taken yet
    secrets: dict[str, str] = field(default_factory=dict)  # generated per sandbox (see `secret`)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def listener(self, port_name: str, *, shared: bool = False) -> socket.socket:
        """The bound socket a server serves ``port_name`` on, now the caller's: the one bound by
        `new_context`, else (a server started again) a new one bound to the same port."""
        sock = self.listeners.take(port_name)
        return sock or bind(self.host, self.ports[port_name], reuse_addr=True, shared=shared)

    def secret(self, name: str) -> str:
        """A random secret generated for this sandbox on first use (the database passwords); published
        only in endpoints.json (mode 0600) and the files that need it."""
        if name not in self.secrets:
            import secrets

            self.secrets[name] = secrets.token_urlsafe(18)
        return self.secrets[name]

    def component(self, name: str, kind: type[C]) -> C:
        """The started component ``name``, which must be a ``kind``: a component may ask for another by
        class only where it may import that class (the daemon does; components use protocols)."""
        comp = self.components[name]
        if not isinstance(comp, kind):
            raise TypeError(f"component {name!r} is a {type(comp).__name__}, not a {kind.__name__}")
        return comp

    def url(self, port_name: str) -> str:
        return f"http://127.0.0.1:{self.ports[port_name]}"

    def node_names(self) -> list[str]:
        return list(self.vms)

    def zone_of_node(self, node: str) -> str | None:
        vm = self.vms.get(node)
        return vm.zone if vm else None


#: Ports of the sandbox's own servers: `new_context` binds them, each server is handed its socket.
BOUND_PORTS = ("kubernetes", "compute", "ingress", "toxiproxy", "partner", "admin")
#: Listeners of the fault proxy: bound like the others, shared so a disabled proxy keeps its port.
PROXY_PORTS = ("pg_proxy", "partner_proxy")
#: Ports of external programs that bind by themselves: a first guess, which their component replaces
#: when the start finds it taken (`ports.start_on_free_port`).
GUESSED_PORTS = ("postgres", "prometheus")
PORT_NAMES = BOUND_PORTS + PROXY_PORTS + GUESSED_PORTS


def node_name(config: SandboxConfig, zone_suffix: str, index: int) -> str:
    """GKE-style node (and VM) name, e.g. ``gke-shop-default-pool-b-0``."""
    return f"gke-{config.cluster_name}-default-pool-{zone_suffix}-{index}"


def mig_name(config: SandboxConfig, zone_suffix: str) -> str:
    """GKE-style name of a zone's node-pool managed instance group (and its instance group), e.g.
    ``gke-shop-default-pool-b-grp``; its members are ``<name without -grp>-<index>``."""
    return f"gke-{config.cluster_name}-default-pool-{zone_suffix}-grp"


def make_networks(config: SandboxConfig) -> list[str]:
    """The project's VPC networks: ``default`` and the nodes' ``config.node_network`` (once if equal)."""
    return list(dict.fromkeys(["default", config.node_network]))


def make_vms(config: SandboxConfig) -> dict[str, Vm]:
    """One VM per node, in every zone, named like the node it backs."""
    vms: dict[str, Vm] = {}
    n = 0
    for suffix in config.zones:
        zone = f"{config.region}-{suffix}"
        for i in range(config.nodes_per_zone):
            n += 1
            name = node_name(config, suffix, i)
            vms[name] = Vm(
                name=name,
                zone=zone,
                id=4_000_000_000_000_000_000 + n,
                labels={"goog-gke-node": "", "goog-k8s-cluster-name": config.cluster_name},
                tags=[f"gke-{config.cluster_name}-node"],
                metadata={
                    "created-by": f"projects/{config.project}/zones/{zone}/instanceGroupManagers/"
                    + mig_name(config, suffix),
                    "cluster-name": config.cluster_name,
                },
                network_ip=f"10.132.0.{n + 1}",
                creation_timestamp="2026-01-01T00:00:00.000-07:00",
                network=config.node_network,
            )
    return vms


def new_context(config: SandboxConfig, directory: Path, store: Store | None = None) -> Context:
    """A context with its listening sockets bound and VMs made, before any component starts."""
    directory.mkdir(parents=True, exist_ok=True)
    listeners = Listeners()
    ports = {name: listeners.bind(name) for name in BOUND_PORTS}
    ports.update({name: listeners.bind(name, shared=True) for name in PROXY_PORTS})
    ports.update({name: free_port() for name in GUESSED_PORTS})
    ctx = Context(
        config=config,
        dir=directory,
        store=store or Store(),
        truth=Truth(directory / "truth.jsonl"),
        ports=ports,
        vms=make_vms(config),
        networks=make_networks(config),
        listeners=listeners,
    )
    network, ctx.network_lock = claim_pod_network(config.pod_network)
    ctx.pod_ips = IpAllocator(network, config.pod_port)
    return ctx
