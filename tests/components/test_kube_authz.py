"""The sandbox's API server answers SelfSubjectAccessReview and refuses the permissions its config denies
with a real 403 Forbidden, for the official client and for ``kubectl auth can-i``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from harness.sandbox.config import SandboxConfig
from harness.sandbox.core.context import new_context
from harness.sandbox.kube.kubeconfig import write_kubeconfig
from harness.sandbox.kube.testing import LoopThread, seed_cluster, serve_kubeapi

NS = "shop"


async def _async(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@pytest.fixture
def denied(tmp_path: Path) -> Iterator[SimpleNamespace]:
    cfg = SandboxConfig(denied_permissions=["create pods/eviction", "patch nodes", "compute.instances.stop"])
    ctx = new_context(cfg, tmp_path / "sbx")
    seed_cluster(ctx)
    with LoopThread() as lt, serve_kubeapi(ctx, lt) as api:
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(kubeconfig, api.url, api.token, api.tls.ca_pem)
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        with api_client:
            yield SimpleNamespace(ctx=ctx, lt=lt, kubeconfig=kubeconfig, tmp=tmp_path,
                                  core=client.CoreV1Api(api_client), authz=client.AuthorizationV1Api(api_client))


def _review(sbx: SimpleNamespace, verb: str, resource: str, subresource: str = "", namespace: str = NS) -> Any:
    attrs = client.V1ResourceAttributes(verb=verb, resource=resource, subresource=subresource or None,
                                        namespace=namespace or None, group="")
    body = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs))
    return sbx.authz.create_self_subject_access_review(body)


def test_access_review_allows_all_but_the_denied(denied: SimpleNamespace) -> None:
    assert _review(denied, "delete", "pods").status.allowed is True
    assert _review(denied, "create", "pods", "eviction").status.allowed is False
    assert _review(denied, "patch", "nodes", namespace="").status.allowed is False
    assert _review(denied, "list", "nodes", namespace="").status.allowed is True


def test_a_denied_request_is_a_real_403(denied: SimpleNamespace) -> None:
    pod = denied.core.list_namespaced_pod(NS).items[0].metadata.name
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=NS))
    with pytest.raises(ApiException) as caught:
        denied.core.create_namespaced_pod_eviction(pod, NS, eviction)
    status = json.loads(caught.value.body)
    assert caught.value.status == 403 and status["reason"] == "Forbidden"
    assert status["message"] == (f'pods "{pod}" is forbidden: User "harness" cannot create resource "pods/eviction" '
                                 f'in API group "" in the namespace "{NS}"')
    with pytest.raises(ApiException) as node:
        denied.core.patch_node("gke-shop-default-pool-b-0", {"spec": {"unschedulable": True}})
    assert node.value.status == 403 and "at the cluster scope" in json.loads(node.value.body)["message"]
    assert denied.core.list_namespaced_pod(NS).items  # what is not denied still works


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_auth_can_i(denied: SimpleNamespace) -> None:
    env = dict(os.environ, HOME=str(denied.tmp), KUBECONFIG=str(denied.kubeconfig))

    def can_i(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = ["kubectl", "--cache-dir", str(denied.tmp / "cache"), "auth", "can-i", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)

    yes = can_i("delete", "pods", "-n", NS)
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes"), yes.stderr
    no = can_i("create", "pods", "--subresource=eviction", "-n", NS)
    assert no.returncode == 1 and no.stdout.startswith("no"), no.stderr
