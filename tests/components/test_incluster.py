"""The Kubernetes client inside a pod: no kubeconfig, so it takes the service account that Kubernetes
mounts (``KUBERNETES_SERVICE_HOST``/``_PORT``, a token file and the cluster CA), here pointed at the
sandbox's API server with its real token and CA written where a pod would have them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.clients.kube import KubeClient
from harness.errors import PermanentClientError
from tests.components.test_kubeapi import Sandbox, sbx  # noqa: F401 - the in-process API server fixture


def _mount(sbx: Sandbox, tmp_path: Path, token: str | None = None) -> tuple[dict[str, str], tuple[str, str]]:  # noqa: F811
    """A pod's environment (no KUBECONFIG, a HOME without .kube) and its service-account files."""
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(token or sbx.api.token)
    (account / "ca.crt").write_bytes(sbx.api.tls.ca_pem)
    url = urlsplit(sbx.api.url)
    home = tmp_path / "home"
    home.mkdir()
    environ = {"KUBERNETES_SERVICE_HOST": str(url.hostname), "KUBERNETES_SERVICE_PORT": str(url.port),
               "HOME": str(home)}
    return environ, (str(account / "token"), str(account / "ca.crt"))


def test_without_a_kubeconfig_the_client_uses_the_service_account(sbx: Sandbox, tmp_path: Path) -> None:  # noqa: F811
    environ, files = _mount(sbx, tmp_path)
    kube = KubeClient(None, None, environ=environ, service_account=files)
    try:
        assert kube.source == "in-cluster"
        assert {n["metadata"]["name"] for n in kube.list_nodes()}
        assert kube.server_version().startswith("v1.")
    finally:
        kube.close()


def test_a_wrong_token_is_refused_by_the_api(sbx: Sandbox, tmp_path: Path) -> None:  # noqa: F811
    environ, files = _mount(sbx, tmp_path, token="not-the-token")
    kube = KubeClient(None, None, environ=environ, service_account=files)
    try:
        with pytest.raises(PermanentClientError) as caught:
            kube.list_nodes()
        assert caught.value.status == 401
    finally:
        kube.close()


def test_a_kubeconfig_in_home_wins_over_the_service_account(sbx: Sandbox, tmp_path: Path) -> None:  # noqa: F811
    environ, _ = _mount(sbx, tmp_path)
    (Path(environ["HOME"]) / ".kube").mkdir()
    (Path(environ["HOME"]) / ".kube" / "config").write_text((tmp_path / "kubeconfig").read_text())
    kube = KubeClient(None, None, environ=environ, service_account=("/nonexistent/token", "/nonexistent/ca.crt"))
    try:
        assert kube.source.endswith(".kube/config")
        assert kube.list_nodes()
    finally:
        kube.close()


def test_neither_a_kubeconfig_nor_a_pod_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(PermanentClientError, match="KUBERNETES_SERVICE_HOST is not set"):
        KubeClient(None, None, environ={"HOME": str(tmp_path)})
    with pytest.raises(PermanentClientError, match="in-cluster service account: Service token file does not exist"):
        KubeClient(None, None, environ={"HOME": str(tmp_path), "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                                        "KUBERNETES_SERVICE_PORT": "1"},
                   service_account=(str(tmp_path / "token"), str(tmp_path / "ca.crt")))
