"""Only the sandbox's owner can use it: its Kubernetes API wants the kubeconfig's bearer token (401
otherwise, as a real API server answers), and its folder and secret-holding files are private."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from harness.clients.kube import KubeClient
from harness.errors import PermanentClientError
from harness.sandbox import manage
from harness.sandbox.config import SandboxConfig
from harness.sandbox.core.context import new_context
from harness.sandbox.core.files import open_private, write_private
from harness.sandbox.kube.kubeconfig import read_kubeconfig
from harness.sandbox.kube.testing import (
    LoopThread,
    http_options,
    install_fake_kubelet,
    seed_cluster,
    serve_kubeapi,
)

NS = "shop"
POD = "checkout-7d9f-000"
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
#: (name, method, path, query, body) of requests that must be authenticated.
REQUESTS = [
    ("list", "GET", f"/api/v1/namespaces/{NS}/pods", {}, None),
    ("get", "GET", "/api/v1/nodes/gke-shop-default-pool-b-0", {}, None),
    ("watch", "GET", "/api/v1/pods", {"watch": "1", "timeoutSeconds": "1"}, None),
    ("eviction", "POST", f"/api/v1/namespaces/{NS}/pods/{POD}/eviction",
     {}, {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": POD, "namespace": NS}}),
    ("discovery", "GET", "/apis", {}, None),
    ("api-faults get", "GET", "/sandbox/api-faults", {}, None),
    ("api-faults put", "PUT", "/sandbox/api-faults", {}, {"rate": 1.0, "codes": [503]}),
    ("api-faults delete", "DELETE", "/sandbox/api-faults", {}, None),
]
WRONG = {
    "no header": {},
    "wrong token": {"Authorization": "Bearer not-the-token"},
    "bearer without a token": {"Authorization": "Bearer"},
    "basic auth": {"Authorization": "Basic c2FuZGJveDpzYW5kYm94"},
}
PUBLIC = ("/healthz", "/readyz", "/livez", "/version")


async def _async(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the API server alone ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """One API server on a seeded cluster; each test leaves it as it found it."""
    ctx = new_context(SandboxConfig(), tmp_path_factory.mktemp("kubeapi"))
    seed_cluster(ctx)
    with LoopThread() as lt, serve_kubeapi(ctx, lt) as server:
        lt.run(_async(install_fake_kubelet, ctx.store))
        options = http_options(server)
        headers = options.pop("headers")
        with httpx.Client(**options, timeout=10) as http:
            yield SimpleNamespace(ctx=ctx, lt=lt, server=server, http=http, headers=headers)


@pytest.mark.parametrize("wrong", WRONG.values(), ids=list(WRONG))
@pytest.mark.parametrize(("name", "method", "path", "query", "body"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_requests_without_the_token_get_401_and_change_nothing(api: SimpleNamespace, wrong: dict[str, str], name: str,
                                                               method: str, path: str, query: dict[str, str],
                                                               body: Any) -> None:
    r = api.http.request(method, path, params=query, json=body, headers=wrong)
    assert (r.status_code, r.headers["Content-Type"]) == (401, "application/json")
    assert r.json() == UNAUTHORIZED
    assert api.ctx.api_faults is None
    pod = api.lt.call(api.ctx.store.get, "pods", NS, POD)
    assert not pod["metadata"].get("deletionTimestamp")


@pytest.mark.parametrize(("name", "method", "path", "query", "body"),
                         [r for r in REQUESTS if r[0] != "eviction"], ids=[r[0] for r in REQUESTS if r[0] != "eviction"])
def test_requests_with_the_token_are_served(api: SimpleNamespace, name: str, method: str, path: str,
                                            query: dict[str, str], body: Any) -> None:
    try:
        r = api.http.request(method, path, params=query, json=body, headers=api.headers)
        assert r.status_code == 200, r.text
    finally:
        api.http.delete("/sandbox/api-faults", headers=api.headers).raise_for_status()
    if name == "api-faults put":
        assert r.json()["rate"] == 1.0


def test_an_eviction_with_the_token_is_served(api: SimpleNamespace) -> None:
    pod = "fluentbit-000"  # no PDB covers it; the fake kubelet removes it, nothing else depends on it
    r = api.http.post(f"/api/v1/namespaces/kube-system/pods/{pod}/eviction", headers=api.headers,
                      json={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod}})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "Success"


@pytest.mark.parametrize("path", PUBLIC)
def test_health_and_version_answer_anonymous_requests_but_not_a_wrong_token(api: SimpleNamespace, path: str) -> None:
    assert api.http.get(path).status_code == 200
    assert api.http.get(path, headers=api.headers).status_code == 200
    wrong = api.http.get(path, headers=WRONG["wrong token"])
    assert (wrong.status_code, wrong.json()) == (401, UNAUTHORIZED)


def test_the_api_speaks_https_only(api: SimpleNamespace) -> None:
    assert api.server.url.startswith("https://")
    with pytest.raises(httpx.HTTPError):
        httpx.get(api.server.url.replace("https://", "http://") + "/api", headers=api.headers, timeout=5)


# -- a whole sandbox, started by `up` into a folder it creates -------------------------------------------
@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A small sandbox whose folder ``<user folder>/.sandbox`` does not exist before `up`; the user's
    folder is 0751 (neither the default nor pytest's 0700)."""
    user = tmp_path_factory.mktemp("user-folder")
    user.chmod(0o751)
    cfg = user / "small.yaml"
    cfg.write_text("zones: [b]\nnodes_per_zone: 1\nprometheus: false\nservices:\n"
                   "  - {name: storefront, replicas: 1, path_prefix: /}\n"
                   "  - {name: catalog, replicas: 1, path_prefix: /api/catalog}\n")
    directory = user / ".sandbox"
    eps = manage.up(directory, cfg, timeout=180)
    try:
        yield SimpleNamespace(user=user, dir=directory, eps=eps, kubeconfig=directory / "kubeconfig",
                              access=read_kubeconfig(directory / "kubeconfig"))
    finally:
        manage.down(directory)


def test_up_creates_its_folder_0700_and_its_secret_files_0600(own: SimpleNamespace) -> None:
    assert _mode(own.user) == 0o751  # the user's folder is left alone
    assert _mode(own.dir) == 0o700
    for name in ("kubeconfig", "endpoints.json", "shop.json", "daemon.log"):
        assert _mode(own.dir / name) == 0o600, name
    assert not [p.name for p in own.dir.iterdir() if p.name.endswith(".tmp")]


def test_the_token_is_in_the_kubeconfig_only(own: SimpleNamespace) -> None:
    doc = yaml.safe_load(own.kubeconfig.read_text())
    assert doc["users"][0]["user"]["token"] == own.access.token and len(own.access.token) >= 32
    assert own.eps["kubernetes"] == own.access.server and own.access.server.startswith("https://127.0.0.1:")
    assert own.access.token not in (own.dir / "endpoints.json").read_text()
    assert own.access.token not in (own.dir / "daemon.log").read_text()


def test_the_running_sandbox_answers_401_without_the_token(own: SimpleNamespace) -> None:
    with httpx.Client(base_url=own.access.server, verify=own.access.verify(), timeout=10) as http:
        for headers in WRONG.values():
            r = http.get(f"/api/v1/namespaces/{NS}/pods", headers=headers)
            assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
            assert http.put("/sandbox/api-faults", json={"rate": 1.0}, headers=headers).status_code == 401
        assert http.get("/readyz").status_code == 200
        assert http.get(f"/api/v1/namespaces/{NS}/pods", headers=own.access.headers).status_code == 200


def test_the_admin_shutdown_wants_the_token_and_status_still_answers(own: SimpleNamespace) -> None:
    r = httpx.post(f"{own.eps['admin']}/shutdown", timeout=10)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    assert manage.is_up(own.dir)
    assert manage.status(own.dir)["components"]["kubeapi"]["ok"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_works_through_the_kubeconfig_and_not_without_its_token(own: SimpleNamespace, tmp_path: Path) -> None:
    def kubectl(kubeconfig: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "get", "pods", "-n", NS, "-o", "name"],
                              capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=str(tmp_path)))

    done = kubectl(own.kubeconfig)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split()) == 2 and all(line.startswith("pod/") for line in done.stdout.split())
    stolen = tmp_path / "wrong-token"
    stolen.write_text(own.kubeconfig.read_text().replace(own.access.token, "not-the-token"))
    refused = kubectl(stolen)
    assert refused.returncode != 0 and "You must be logged in to the server (Unauthorized)" in refused.stderr


def test_the_official_client_works_through_the_kubeconfig(own: SimpleNamespace, tmp_path: Path) -> None:
    with config.new_client_from_config(config_file=str(own.kubeconfig)) as api_client:
        pods = client.CoreV1Api(api_client).list_namespaced_pod(NS)
    assert len(pods.items) == 2
    stolen = tmp_path / "wrong-token"
    stolen.write_text(own.kubeconfig.read_text().replace(own.access.token, "not-the-token"))
    with config.new_client_from_config(config_file=str(stolen)) as api_client, pytest.raises(ApiException) as err:
        client.CoreV1Api(api_client).list_namespaced_pod(NS)
    assert err.value.status == 401 and json.loads(err.value.body) == UNAUTHORIZED


def test_the_harness_kube_client_works_through_the_kubeconfig(own: SimpleNamespace, tmp_path: Path) -> None:
    kube = KubeClient(str(own.kubeconfig))
    try:
        assert len(kube.list_pods(NS)) == 2
    finally:
        kube.close()
    stolen = tmp_path / "wrong-token"
    stolen.write_text(own.kubeconfig.read_text().replace(own.access.token, "not-the-token"))
    kube = KubeClient(str(stolen))
    try:
        with pytest.raises(PermanentClientError, match="Unauthorized"):
            kube.list_pods(NS)
    finally:
        kube.close()


# -- the sandbox folder's mode, without a daemon ---------------------------------------------------------
def test_a_folder_the_user_made_keeps_its_mode(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    mine.chmod(0o755)
    (mine / "notes.txt").write_text("mine")
    manage.prepare_dir(mine)
    for name in ("daemon.log", "endpoints.json"):  # what a first `up` leaves behind
        write_private(mine / name, "{}")
    manage.prepare_dir(mine)
    assert _mode(mine) == 0o755
    assert _mode(mine / "endpoints.json") == 0o600


def test_a_folder_the_sandbox_made_is_0700_and_tightened_again(tmp_path: Path) -> None:
    made = tmp_path / "a" / ".sandbox"
    manage.prepare_dir(made)
    assert _mode(made) == 0o700
    made.chmod(0o755)
    manage.prepare_dir(made)
    assert _mode(made) == 0o700


def test_a_folder_an_earlier_sandbox_made_is_tightened(tmp_path: Path) -> None:
    old = tmp_path / ".sandbox"
    old.mkdir()
    (old / "daemon.log").write_text("started")
    old.chmod(0o755)
    manage.prepare_dir(old)
    assert _mode(old) == 0o700


def test_private_files_are_0600_even_when_they_existed_wider(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_private(path, '{"a": 1}')
    assert (_mode(path), path.read_text()) == (0o600, '{"a": 1}')
    (tmp_path / "daemon.log").write_text("old")
    (tmp_path / "daemon.log").chmod(0o644)
    os.close(open_private(tmp_path / "daemon.log"))
    assert (_mode(tmp_path / "daemon.log"), (tmp_path / "daemon.log").read_text()) == (0o600, "")
