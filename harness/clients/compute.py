"""Compute Engine through the official ``google-cloud-compute`` client, returning plain values.

On GKE the client uses the default credentials and endpoint; against the sandbox it is built with
``endpoint="http://127.0.0.1:PORT"`` (kept as-is by the REST transport) and anonymous credentials.
Long-running operations are started with the ``*_unary`` methods and awaited with the zone/global
``operations.wait`` under an explicit deadline. The client's own retries are switched off
(``retry=None``): the harness's one retry policy decides. Errors become TransientClientError (429,
5xx, connection problems) or PermanentClientError (everything else). Calls are blocking; async callers
run them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from google.api_core import exceptions as gexc
from google.cloud import compute_v1

from harness.errors import PermanentClientError, TransientClientError

DONE = compute_v1.Operation.Status.DONE


@dataclass(frozen=True)
class Instance:
    """The fields of a VM the harness needs."""

    name: str
    zone: str
    status: str
    labels: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    tags_fingerprint: str = ""
    created_by: str = ""
    network_ip: str = ""
    network: str = ""
    """The network of the VM's first interface (a URL naming its project: the host project on a Shared VPC)."""


def _short(url: str) -> str:
    """The last path segment of a resource URL (``.../zones/europe-west1-b`` -> ``europe-west1-b``)."""
    return url.rsplit("/", 1)[-1]


def _instance(raw: Any) -> Instance:
    meta = {item.key: item.value for item in raw.metadata.items} if raw.metadata else {}
    nics = list(raw.network_interfaces)
    return Instance(
        name=raw.name,
        zone=_short(raw.zone),
        status=raw.status,
        labels=dict(raw.labels),
        tags=tuple(raw.tags.items),
        tags_fingerprint=raw.tags.fingerprint,
        created_by=meta.get("created-by", ""),
        network_ip=nics[0].network_i_p if nics else "",
        network=nics[0].network if nics else "",
    )


def _mig_dict(raw: Any) -> dict[str, Any]:
    """A managed instance group as its REST JSON (camelCase, enums by name, empty fields left out)."""
    data: dict[str, Any] = compute_v1.InstanceGroupManager.to_dict(
        raw, use_integers_for_enums=False, preserving_proto_field_name=False,
        always_print_fields_with_no_presence=False)
    return data


def _firewall(raw: Any) -> dict[str, Any]:
    return {
        "name": raw.name,
        "network": raw.network,
        "direction": raw.direction,
        "priority": raw.priority,
        "target_tags": list(raw.target_tags),
        "denied": [d.I_p_protocol for d in raw.denied],
        "disabled": bool(raw.disabled),
    }


def map_error(exc: BaseException, what: str) -> Exception:
    """A google-api-core / transport error as the harness's transient or permanent client error."""
    if isinstance(exc, gexc.GoogleAPICallError):
        status = int(exc.code or 0)
        message = f"{what}: {exc.message}"
        if status == 429 or status >= 500 or status == 0:
            return TransientClientError(message, status)
        return PermanentClientError(message, status)
    if isinstance(exc, gexc.RetryError | requests.exceptions.RequestException | OSError):
        return TransientClientError(f"{what}: {exc}")
    return PermanentClientError(f"{what}: {exc}")


class ComputeClient:
    """Instances, operations and firewalls of one project."""

    def __init__(self, project: str, endpoint: str | None = None, timeout: float = 30.0,
                 credentials: Any = None) -> None:
        kwargs: dict[str, Any] = {}
        if endpoint:
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials

            kwargs = {"client_options": ClientOptions(api_endpoint=endpoint),
                      "credentials": credentials or AnonymousCredentials()}
        elif credentials is not None:
            kwargs = {"credentials": credentials}
        self.project = project
        self.timeout = timeout
        self.instances = compute_v1.InstancesClient(**kwargs)
        self.zone_ops = compute_v1.ZoneOperationsClient(**kwargs)
        self.global_ops = compute_v1.GlobalOperationsClient(**kwargs)
        self.firewalls = compute_v1.FirewallsClient(**kwargs)
        self.migs = compute_v1.InstanceGroupManagersClient(**kwargs)
        self.groups = compute_v1.InstanceGroupsClient(**kwargs)

    def close(self) -> None:
        """Close the HTTP sessions of every sub-client."""
        for c in (self.instances, self.zone_ops, self.global_ops, self.firewalls, self.migs, self.groups):
            c.transport.close()

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(retry=None, timeout=self.timeout, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure is mapped onto the harness's tree
            raise map_error(exc, what) from None

    # -- instances ---------------------------------------------------------------------------------
    def list_instances(self, zone: str, filter_: str | None = None) -> list[Instance]:
        """VMs in ``zone`` (optionally filtered, e.g. ``labels.goog-k8s-cluster-name = shop``)."""
        req = compute_v1.ListInstancesRequest(project=self.project, zone=zone, filter=filter_ or None)

        def run(**kw: Any) -> list[Instance]:
            return [_instance(i) for i in self.instances.list(request=req, **kw)]

        result: list[Instance] = self._call(f"list instances in {zone}", run)
        return result

    def aggregated_instances(self, filter_: str | None = None) -> dict[str, list[Instance]]:
        """VMs of every zone, by zone name (zones without VMs are left out)."""
        req = compute_v1.AggregatedListInstancesRequest(project=self.project, filter=filter_ or None)

        def run(**kw: Any) -> dict[str, list[Instance]]:
            out: dict[str, list[Instance]] = {}
            for scope, found in self.instances.aggregated_list(request=req, **kw):
                if found.instances:
                    out[_short(scope)] = [_instance(i) for i in found.instances]
            return out

        result: dict[str, list[Instance]] = self._call("aggregated list of instances", run)
        return result

    def get_instance(self, zone: str, name: str) -> Instance | None:
        """One VM, or None when it does not exist."""
        try:
            raw = self._call(f"get instance {name}", self.instances.get, project=self.project, zone=zone,
                             instance=name)
        except PermanentClientError as exc:
            if exc.status == 404:
                return None
            raise
        return _instance(raw)

    def stop(self, zone: str, name: str, deadline: float = 120.0) -> None:
        """Stop a VM and wait for the operation (at most ``deadline`` seconds)."""
        op = self._call(f"stop {name}", self.instances.stop_unary, project=self.project, zone=zone, instance=name)
        self.wait_zone_op(zone, op, deadline, f"stop {name}")

    def start(self, zone: str, name: str, deadline: float = 120.0) -> None:
        """Start a VM and wait for the operation (at most ``deadline`` seconds)."""
        op = self._call(f"start {name}", self.instances.start_unary, project=self.project, zone=zone,
                        instance=name)
        self.wait_zone_op(zone, op, deadline, f"start {name}")

    def set_tags(self, zone: str, name: str, tags: list[str], fingerprint: str, deadline: float = 60.0) -> None:
        """Replace a VM's network tags; ``fingerprint`` must be the current one (else 412, permanent)."""
        body = compute_v1.Tags(items=tags, fingerprint=fingerprint)
        op = self._call(f"set tags of {name}", self.instances.set_tags_unary, project=self.project, zone=zone,
                        instance=name, tags_resource=body)
        self.wait_zone_op(zone, op, deadline, f"set tags of {name}")

    # -- managed instance groups -------------------------------------------------------------------
    def list_migs(self, zone: str) -> list[dict[str, Any]]:
        """The managed instance groups of ``zone``, each as its REST JSON."""
        req = compute_v1.ListInstanceGroupManagersRequest(project=self.project, zone=zone)

        def run(**kw: Any) -> list[dict[str, Any]]:
            return [_mig_dict(m) for m in self.migs.list(request=req, **kw)]

        result: list[dict[str, Any]] = self._call(f"list instance group managers in {zone}", run)
        return result

    def get_mig(self, zone: str, name: str) -> dict[str, Any]:
        """One managed instance group as its REST JSON."""
        raw = self._call(f"get instance group manager {name}", self.migs.get, project=self.project, zone=zone,
                         instance_group_manager=name)
        return _mig_dict(raw)

    def managed_instances(self, zone: str, name: str) -> list[str]:
        """Names of the VMs a managed instance group manages."""
        req = compute_v1.ListManagedInstancesInstanceGroupManagersRequest(
            project=self.project, zone=zone, instance_group_manager=name)

        def run(**kw: Any) -> list[str]:
            return [_short(m.instance) for m in self.migs.list_managed_instances(request=req, **kw)]

        result: list[str] = self._call(f"list managed instances of {name}", run)
        return result

    def patch_mig(self, zone: str, name: str, body: dict[str, Any], deadline: float = 120.0) -> None:
        """PATCH a managed instance group with ``body`` (REST JSON, merge semantics) and wait for it."""
        resource = compute_v1.InstanceGroupManager.from_json(json.dumps(body), ignore_unknown_fields=False)
        op = self._call(f"patch instance group manager {name}", self.migs.patch_unary, project=self.project,
                        zone=zone, instance_group_manager=name, instance_group_manager_resource=resource)
        self.wait_zone_op(zone, op, deadline, f"patch instance group manager {name}")

    # -- firewalls ---------------------------------------------------------------------------------
    def insert_deny_firewall(self, name: str, direction: str, target_tags: list[str], priority: int = 0,
                             description: str = "", deadline: float = 60.0, network: str | None = None,
                             project: str | None = None) -> None:
        """Insert a rule denying all traffic (INGRESS from anywhere / EGRESS to anywhere) for the tags, on
        ``network`` (a URL or ``projects/P/global/networks/N``; none: the API's ``default``) in ``project``
        (the network's host project on a Shared VPC; none: this client's project)."""
        rule = compute_v1.Firewall(
            name=name, direction=direction, priority=priority, target_tags=target_tags,
            denied=[compute_v1.Denied(I_p_protocol="all")], description=description,
        )
        if network:
            rule.network = network
        if direction == "INGRESS":
            rule.source_ranges = ["0.0.0.0/0"]
        else:
            rule.destination_ranges = ["0.0.0.0/0"]
        op = self._call(f"insert firewall {name}", self.firewalls.insert_unary, project=project or self.project,
                        firewall_resource=rule)
        self.wait_global_op(op, deadline, f"insert firewall {name}", project)

    def delete_firewall(self, name: str, deadline: float = 60.0, project: str | None = None) -> bool:
        """Delete a rule (of ``project``, default this client's); False when it did not exist."""
        try:
            op = self._call(f"delete firewall {name}", self.firewalls.delete_unary, project=project or self.project,
                            firewall=name)
        except PermanentClientError as exc:
            if exc.status == 404:
                return False
            raise
        self.wait_global_op(op, deadline, f"delete firewall {name}", project)
        return True

    def list_firewalls(self, filter_: str | None = None, project: str | None = None) -> list[dict[str, Any]]:
        """Firewall rules of the project as small dicts (name, network, direction, priority, target_tags, denied)."""
        req = compute_v1.ListFirewallsRequest(project=project or self.project, filter=filter_ or None)

        def run(**kw: Any) -> list[dict[str, Any]]:
            return [_firewall(f) for f in self.firewalls.list(request=req, **kw)]

        result: list[dict[str, Any]] = self._call("list firewalls", run)
        return result

    # -- operations --------------------------------------------------------------------------------
    def wait_zone_op(self, zone: str, op: Any, deadline: float, what: str) -> None:
        """Wait for a zonal operation to be DONE within ``deadline`` seconds; raise on its error."""
        self._wait(op, deadline, what, lambda t: self.zone_ops.wait(
            project=self.project, zone=zone, operation=op.name, retry=None, timeout=t))

    def wait_global_op(self, op: Any, deadline: float, what: str, project: str | None = None) -> None:
        """Wait for a global operation (of ``project``) to be DONE within ``deadline`` seconds; raise on its error."""
        self._wait(op, deadline, what, lambda t: self.global_ops.wait(
            project=project or self.project, operation=op.name, retry=None, timeout=t))

    def _wait(self, op: Any, deadline: float, what: str, wait: Any) -> None:
        end = time.monotonic() + deadline
        while op.status != DONE:
            left = end - time.monotonic()
            if left <= 0:
                raise TransientClientError(f"{what}: operation {op.name} not done after {deadline:g}s")
            try:
                op = wait(min(left, self.timeout))
            except Exception as exc:  # noqa: BLE001
                mapped = map_error(exc, f"{what}: wait")
                if isinstance(mapped, PermanentClientError):
                    raise mapped from None
                time.sleep(min(0.5, max(0.0, end - time.monotonic())))
        if op.error and op.error.errors:
            messages = "; ".join(e.message for e in op.error.errors)
            raise PermanentClientError(f"{what}: operation failed: {messages}")
