"""Server-side printing: ``meta.k8s.io/v1`` Tables for ``kubectl get``, like the real API server's printers.

Each resource registers its columns and a row function in ``PRINTERS``; anything else gets NAME AGE.
Columns with ``priority: 1`` show only with ``-o wide``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .printers import age, event_cells, node_cells, pod_cells

__all__ = ["PRINTERS", "Printer", "age", "column", "table", "wants_table"]

Obj = dict[str, Any]
Cells = list[Any]


def column(name: str, description: str = "", type_: str = "string", priority: int = 0, fmt: str = "") -> Obj:
    """A ``TableColumnDefinition``."""
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


NAME = column("Name", "Name must be unique within a namespace.", fmt="name")
AGE = column("Age", "CreationTimestamp is a timestamp representing the server time when this object was created.")


def _name_age(obj: Obj) -> Cells:
    return [obj["metadata"]["name"], age(obj["metadata"].get("creationTimestamp"))]


def _namespace_cells(obj: Obj) -> Cells:
    return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", "Active"),
            age(obj["metadata"].get("creationTimestamp"))]


def _containers(obj: Obj) -> list[Obj]:
    return list(((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or [])


def _selector_text(obj: Obj) -> str:
    sel = (obj.get("spec") or {}).get("selector") or {}
    terms = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    return ",".join(terms) or "<none>"


def _workload_wide(obj: Obj) -> Cells:
    containers = _containers(obj)
    return [",".join(c.get("name", "") for c in containers) or "<none>",
            ",".join(c.get("image", "") for c in containers) or "<none>", _selector_text(obj)]


def _deployment_cells(obj: Obj) -> Cells:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [obj["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            age(obj["metadata"].get("creationTimestamp")), *_workload_wide(obj)]


def _replicaset_cells(obj: Obj) -> Cells:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [obj["metadata"]["name"], spec.get("replicas", 1), status.get("replicas", 0),
            status.get("readyReplicas", 0), age(obj["metadata"].get("creationTimestamp")), *_workload_wide(obj)]


def _pdb_cells(obj: Obj) -> Cells:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [obj["metadata"]["name"], str(spec.get("minAvailable", "N/A")), str(spec.get("maxUnavailable", "N/A")),
            status.get("disruptionsAllowed", 0), age(obj["metadata"].get("creationTimestamp"))]


def _lease_cells(obj: Obj) -> Cells:
    holder = (obj.get("spec") or {}).get("holderIdentity") or "<none>"
    return [obj["metadata"]["name"], holder, age(obj["metadata"].get("creationTimestamp"))]


def _service_cells(obj: Obj) -> Cells:
    spec = obj.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or "<none>"
    return [obj["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"),
            "<none>", ports, age(obj["metadata"].get("creationTimestamp")), selector]


_WORKLOAD_WIDE = [column("Containers", priority=1), column("Images", priority=1), column("Selector", priority=1)]


@dataclass(frozen=True)
class Printer:
    """The columns of one resource and the function that fills a row's cells."""

    columns: list[Obj]
    cells: Callable[[Obj], Cells]


PRINTERS: dict[str, Printer] = {
    "nodes": Printer(
        [NAME, column("Status", "The status of the node"), column("Roles", "The roles of the node"), AGE,
         column("Version", "Kubelet Version reported by the node."),
         column("Internal-IP", priority=1), column("External-IP", priority=1), column("OS-Image", priority=1),
         column("Kernel-Version", priority=1), column("Container-Runtime", priority=1)],
        node_cells,
    ),
    "pods": Printer(
        [NAME, column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
         column("Status", "The aggregate status of the containers in this pod."),
         column("Restarts", "The number of times the containers in this pod have been restarted."), AGE,
         column("IP", priority=1), column("Node", priority=1), column("Nominated Node", priority=1),
         column("Readiness Gates", priority=1)],
        pod_cells,
    ),
    "deployments": Printer(
        [NAME, column("Ready"), column("Up-to-date", type_="integer"), column("Available", type_="integer"), AGE,
         *_WORKLOAD_WIDE],
        _deployment_cells,
    ),
    "replicasets": Printer(
        [NAME, column("Desired", type_="integer"), column("Current", type_="integer"),
         column("Ready", type_="integer"), AGE, *_WORKLOAD_WIDE],
        _replicaset_cells,
    ),
    "events": Printer(
        [column("Last Seen"), column("Type"), column("Reason"), column("Object"),
         column("Subobject", priority=1), column("Source", priority=1), column("Message"),
         column("First Seen", priority=1), column("Count", type_="integer", priority=1),
         column("Name", priority=1)],
        event_cells,
    ),
    "poddisruptionbudgets": Printer(
        [NAME, column("Min Available"), column("Max Unavailable"),
         column("Allowed Disruptions", type_="integer"), AGE],
        _pdb_cells,
    ),
    "namespaces": Printer([NAME, column("Status", "The status of the namespace"), AGE], _namespace_cells),
    "leases": Printer([NAME, column("Holder"), AGE], _lease_cells),
    "services": Printer(
        [NAME, column("Type"), column("Cluster-IP"), column("External-IP"), column("Port(s)"), AGE,
         column("Selector", priority=1)],
        _service_cells,
    ),
}
GENERIC = Printer([NAME, AGE], _name_age)


def wants_table(accept: str | None) -> bool:
    """Whether the Accept header asks for a ``meta.k8s.io`` Table."""
    return accept is not None and "as=Table" in accept


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def table(plural: str, objects: Iterable[Obj], resource_version: str, include_object: str | None = None) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects``; ``include_object`` is None, Metadata (default) or Object."""
    printer = PRINTERS.get(plural, GENERIC)
    include = include_object or "Metadata"
    rows = []
    for obj in objects:
        row: Obj = {"cells": printer.cells(obj)}
        embedded = _row_object(obj, include)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": printer.columns,
        "rows": rows,
    }
