"""The objects a fresh sandbox cluster starts with: namespaces, nodes, deployments and PDBs.

``bootstrap`` is idempotent: objects that already exist are left alone.
"""

from __future__ import annotations

import math
from typing import Any

from ..config import ServiceSpec
from ..core.context import Context, Vm
from ..core.store import AlreadyExists, Obj, now_iso

KUBELET_VERSION = "v1.30.5-gke.1014001"
NODE_CONDITIONS: tuple[tuple[str, str, str], ...] = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "KubeletReady", "kubelet is posting ready status"),
)


def grace_seconds(value: float) -> int:
    """A grace period as the whole seconds Kubernetes stores (rounded up, at least 0)."""
    return max(0, math.ceil(value))


def node_conditions(ready: bool, ts: str) -> list[dict[str, Any]]:
    """The kubelet's node conditions: Ready True (or Unknown) and the pressure conditions False."""
    out = []
    for ctype, reason, message in NODE_CONDITIONS:
        is_ready = ctype == "Ready"
        if ready:
            status = "True" if is_ready else "False"
        else:
            status, reason, message = "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
        out.append({
            "type": ctype, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": ts, "lastTransitionTime": ts,
        })
    return out


def node_object(ctx: Context, vm: Vm) -> Obj:
    """A GKE-looking Node backed by ``vm``."""
    cfg, ts = ctx.config, now_iso()
    shape = cfg.node
    resources = {"cpu": f"{shape.cpu_millis}m", "memory": f"{shape.memory_mib}Mi", "pods": str(shape.max_pods),
                 "ephemeral-storage": "98831908Ki"}
    return {
        "metadata": {
            "name": vm.name,
            "labels": {
                "topology.kubernetes.io/zone": vm.zone,
                "topology.kubernetes.io/region": cfg.region,
                "failure-domain.beta.kubernetes.io/zone": vm.zone,
                "failure-domain.beta.kubernetes.io/region": cfg.region,
                "kubernetes.io/hostname": vm.name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": vm.machine_type,
                "beta.kubernetes.io/instance-type": vm.machine_type,
                "cloud.google.com/gke-nodepool": "default-pool",
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"providerID": f"gce://{cfg.project}/{vm.zone}/{vm.name}", "podCIDR": cfg.pod_network},
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
            "conditions": node_conditions(vm.status == "RUNNING", ts),
            "addresses": [
                {"type": "InternalIP", "address": vm.network_ip},
                {"type": "Hostname", "address": vm.name},
            ],
            "nodeInfo": {
                "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                "osImage": "Container-Optimized OS from Google", "kernelVersion": "6.1.100+",
                "containerRuntimeVersion": "containerd://1.7.22", "architecture": "amd64",
                "operatingSystem": "linux", "machineID": f"{vm.id:x}", "systemUUID": f"{vm.id:x}",
                "bootID": f"{vm.id:x}",
            },
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        },
    }


def deployment_object(ctx: Context, svc: ServiceSpec) -> Obj:
    """The Deployment of one shop service."""
    labels = {"app": svc.name}
    annotations = {"sandbox/virtual": "true"} if svc.virtual else {}
    container = {
        "name": svc.name,
        "image": f"shop/{svc.name}:1.0",
        "ports": [{"name": "http", "containerPort": ctx.config.pod_port, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": f"{svc.cpu_millis}m", "memory": f"{svc.memory_mib}Mi"}},
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": ctx.config.pod_port, "scheme": "HTTP"},
            "periodSeconds": 1, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 1,
        },
        "imagePullPolicy": "IfNotPresent",
    }
    return {
        "metadata": {"name": svc.name, "labels": dict(labels)},
        "spec": {
            "replicas": svc.replicas,
            "selector": {"matchLabels": dict(labels)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": dict(labels), "annotations": annotations},
                "spec": {
                    "containers": [container],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": grace_seconds(ctx.config.timings.default_grace_period),
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                },
            },
        },
    }


def pdb_object(svc: ServiceSpec) -> Obj:
    """The policy/v1 PodDisruptionBudget of one service (only when ``pdb_min_available`` is set)."""
    return {
        "metadata": {"name": svc.name, "labels": {"app": svc.name}},
        "spec": {"minAvailable": svc.pdb_min_available, "selector": {"matchLabels": {"app": svc.name}}},
    }


def _ensure(ctx: Context, plural: str, obj: Obj, namespace: str | None = None) -> None:
    try:
        ctx.store.create(plural, obj, namespace)
    except AlreadyExists:
        pass


def bootstrap(ctx: Context) -> None:
    """Create namespaces, one Node per VM, and a Deployment (+ PDB) per configured service."""
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease", ctx.config.namespace):
        _ensure(ctx, "namespaces", {"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
    for vm in ctx.vms.values():
        _ensure(ctx, "nodes", node_object(ctx, vm))
    ns = ctx.config.namespace
    for svc in ctx.config.services:
        _ensure(ctx, "deployments", deployment_object(ctx, svc), ns)
        if svc.pdb_min_available is not None:
            _ensure(ctx, "poddisruptionbudgets", pdb_object(svc), ns)
