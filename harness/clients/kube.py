"""Kubernetes through the official client, returning plain JSON dicts.

Lists are read with ``_preload_content=False`` and parsed as raw JSON: the client's own model
deserialisation costs seconds for thousands of pods, and the harness only needs a few fields.
Calls are blocking; async callers run them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.incluster_config import (
    SERVICE_CERT_FILENAME,
    SERVICE_TOKEN_FILENAME,
    InClusterConfigLoader,
)

from harness.errors import PermanentClientError, TransientClientError

Obj = dict[str, Any]

POOL_SIZE = 32
"""urllib3 connections kept per host: at least the concurrency of any caller (pod-kill deletes 24 pods at
once from threads; the client's default, 5 per CPU, would serialise them on a small machine)."""


def _map_error(exc: ApiException, what: str) -> Exception:
    status = int(exc.status or 0)
    message = what
    try:
        message = f"{what}: {json.loads(exc.body or '{}').get('message', exc.reason)}"
    except (TypeError, ValueError):
        message = f"{what}: {exc.reason}"
    if status == 429 or status >= 500 or status == 0:
        return TransientClientError(message, status)
    return PermanentClientError(message, status)


def default_kubeconfig(environ: Mapping[str, str]) -> str | None:
    """The kubeconfig used when none is given, as kubectl finds it: ``$KUBECONFIG`` (a list of files,
    merged) when one of them exists, else ``$HOME/.kube/config`` when it exists, else None."""
    listed = [f for f in environ.get("KUBECONFIG", "").split(os.pathsep) if f]
    if listed:
        return environ["KUBECONFIG"] if any(Path(f).expanduser().is_file() for f in listed) else None
    path = Path(environ.get("HOME") or Path.home()) / ".kube" / "config"
    return str(path) if path.is_file() else None


def configure(cfg: client.Configuration, kubeconfig: str | None, context: str | None,
              environ: Mapping[str, str] | None = None,
              service_account: tuple[str, str] = (SERVICE_TOKEN_FILENAME, SERVICE_CERT_FILENAME)) -> str:
    """Fill ``cfg`` from ``kubeconfig``; without one, from the default kubeconfig file when it exists,
    else from the pod's service account (``KUBERNETES_SERVICE_HOST``/``_PORT``, the token and CA files in
    ``service_account``; a rotated token is re-read). Returns where the credentials came from; a
    PermanentClientError says what is missing when there is none."""
    env = os.environ if environ is None else environ
    path = os.path.expanduser(kubeconfig) if kubeconfig else default_kubeconfig(env)
    if path is not None:
        config.load_kube_config(config_file=path, context=context, client_configuration=cfg)
        return path
    if not env.get("KUBERNETES_SERVICE_HOST"):
        raise PermanentClientError("no kubeconfig: give the target a `kubeconfig`, set KUBECONFIG, or run in a pod "
                                   "with a service account (KUBERNETES_SERVICE_HOST is not set)")
    token, cert = service_account
    try:
        InClusterConfigLoader(token_filename=token, cert_filename=cert, environ=env).load_and_set(cfg)
    except config.ConfigException as exc:
        raise PermanentClientError(f"in-cluster service account: {exc}") from None
    return "in-cluster"


class KubeClient:
    """A thin, typed-enough wrapper over CoreV1Api, AppsV1Api, PolicyV1Api and CoordinationV1Api.

    ``kubeconfig`` None means the default kubeconfig file when there is one, else the in-cluster
    service account (see ``configure``)."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, timeout: float = 10, *,
                 environ: Mapping[str, str] | None = None,
                 service_account: tuple[str, str] = (SERVICE_TOKEN_FILENAME, SERVICE_CERT_FILENAME)) -> None:
        cfg = client.Configuration()
        self.source = configure(cfg, kubeconfig, context, environ, service_account)
        """Where the credentials came from: a kubeconfig path, or ``in-cluster``."""
        cfg.retries = False  # the harness's retry policy decides, not urllib3
        cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize, POOL_SIZE)
        self.api = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.policy = client.PolicyV1Api(self.api)
        self.coordination = client.CoordinationV1Api(self.api)
        self.timeout = timeout

    def close(self) -> None:
        self.api.close()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, _request_timeout=self.timeout, **kwargs)
        except ApiException as exc:
            raise _map_error(exc, what) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransientClientError(f"{what}: {exc}") from None

    def _raw(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Obj:
        resp = self._call(what, fn, *args, _preload_content=False, **kwargs)
        data: Obj = json.loads(resp.data)
        return data

    # -- reads -------------------------------------------------------------------------------------
    def list_nodes(self, label_selector: str | None = None) -> list[Obj]:
        kw = {"label_selector": label_selector} if label_selector else {}
        items: list[Obj] = self._raw("list nodes", self.core.list_node, **kw)["items"]
        return items

    def get_node(self, name: str) -> Obj:
        return self._raw(f"get node {name}", self.core.read_node, name)

    def list_pods(
        self, namespace: str | None = None, label_selector: str | None = None, field_selector: str | None = None
    ) -> list[Obj]:
        kw = {k: v for k, v in {"label_selector": label_selector, "field_selector": field_selector}.items() if v}
        if namespace:
            data = self._raw("list pods", self.core.list_namespaced_pod, namespace, **kw)
        else:
            data = self._raw("list pods", self.core.list_pod_for_all_namespaces, **kw)
        items: list[Obj] = data["items"]
        return items

    def get_pod(self, namespace: str, name: str) -> Obj | None:
        try:
            return self._raw(f"get pod {namespace}/{name}", self.core.read_namespaced_pod, name, namespace)
        except PermanentClientError as exc:
            if exc.status == 404:
                return None
            raise

    def get_deployment(self, namespace: str, name: str) -> Obj:
        return self._raw(
            f"get deployment {namespace}/{name}", self.apps.read_namespaced_deployment, name, namespace
        )

    def list_deployments(self, namespace: str, label_selector: str | None = None) -> list[Obj]:
        kw = {"label_selector": label_selector} if label_selector else {}
        items: list[Obj] = self._raw(
            "list deployments", self.apps.list_namespaced_deployment, namespace, **kw
        )["items"]
        return items

    def list_all_deployments(self) -> list[Obj]:
        items: list[Obj] = self._raw("list deployments", self.apps.list_deployment_for_all_namespaces)["items"]
        return items

    def server_version(self) -> str:
        """The API server's ``gitVersion`` (``v1.32.4-gke.100``)."""
        return str(self._raw("get version", client.VersionApi(self.api).get_code).get("gitVersion", ""))

    def list_pdbs(self, namespace: str) -> list[Obj]:
        items: list[Obj] = self._raw("list pdbs", self.policy.list_namespaced_pod_disruption_budget, namespace)[
            "items"
        ]
        return items

    def list_namespaces(self) -> list[str]:
        return [n["metadata"]["name"] for n in self._raw("list namespaces", self.core.list_namespace)["items"]]

    # -- writes ------------------------------------------------------------------------------------
    def patch_node(self, name: str, body: Obj) -> Obj:
        return self._raw(f"patch node {name}", self.core.patch_node, name, body)

    def set_unschedulable(self, name: str, value: bool) -> Obj:
        return self.patch_node(name, {"spec": {"unschedulable": value}})

    def delete_pod(self, namespace: str, name: str, grace_period: int | None = None) -> bool:
        """Delete a pod; False when it was already gone."""
        body = client.V1DeleteOptions(grace_period_seconds=grace_period) if grace_period is not None else None
        try:
            self._raw(f"delete pod {namespace}/{name}", self.core.delete_namespaced_pod, name, namespace, body=body)
        except PermanentClientError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def evict_pod(self, namespace: str, name: str) -> bool:
        """Evict through the Eviction API. 429 (a PDB says no) raises TransientClientError."""
        body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace))
        try:
            self._call(
                f"evict pod {namespace}/{name}",
                self.core.create_namespaced_pod_eviction,
                name,
                namespace,
                body,
                _preload_content=False,
            )
        except PermanentClientError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def get_scale(self, namespace: str, name: str) -> int:
        data = self._raw(
            f"get scale {namespace}/{name}", self.apps.read_namespaced_deployment_scale, name, namespace
        )
        return int(data["spec"].get("replicas", 0))

    def set_scale(self, namespace: str, name: str, replicas: int) -> None:
        self._raw(
            f"scale {namespace}/{name}",
            self.apps.patch_namespaced_deployment_scale,
            name,
            namespace,
            {"spec": {"replicas": replicas}},
        )

    def create_event(self, namespace: str, body: Obj) -> None:
        self._raw("create event", self.core.create_namespaced_event, namespace, body)

    # -- leases (coordination.k8s.io/v1): one run at a time per target ---------------------------------
    def get_lease(self, namespace: str, name: str) -> Obj | None:
        try:
            return self._raw(f"get lease {namespace}/{name}", self.coordination.read_namespaced_lease, name, namespace)
        except PermanentClientError as exc:
            if exc.status == 404:
                return None
            raise

    def create_lease(self, namespace: str, body: Obj) -> Obj:
        """Create; a 409 (someone else created it first) raises PermanentClientError with status 409."""
        return self._raw("create lease", self.coordination.create_namespaced_lease, namespace, body)

    def replace_lease(self, namespace: str, name: str, body: Obj) -> Obj:
        """Replace at ``body``'s resourceVersion; a 409 means someone else wrote it since it was read."""
        return self._raw(f"replace lease {namespace}/{name}", self.coordination.replace_namespaced_lease,
                         name, namespace, body)


def pod_is_ready(pod: Obj) -> bool:
    """True when the pod is Ready and not terminating."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False
