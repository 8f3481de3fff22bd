"""Write a kubeconfig that points kubectl and the official clients at the sandbox's API server, and
read back what a raw HTTP client needs to reach it (URL, bearer token, CA)."""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..core.files import write_private


def kubeconfig_dict(server_url: str, token: str, ca_pem: bytes, context: str = "sandbox") -> dict[str, object]:
    """The kubeconfig document (HTTPS trusting ``ca_pem``, the API server's bearer token) as a dict."""
    cluster = {"server": server_url, "certificate-authority-data": base64.b64encode(ca_pem).decode()}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
    }


def write_kubeconfig(path: Path, server_url: str, token: str, ca_pem: bytes, context: str = "sandbox") -> None:
    """Write a kubeconfig at ``path`` (mode 0600: it holds the token) whose current context talks to
    ``server_url`` with the bearer ``token``, trusting the CA ``ca_pem``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, yaml.safe_dump(kubeconfig_dict(server_url, token, ca_pem, context), sort_keys=False))


@dataclass(frozen=True)
class KubeAccess:
    """How a raw HTTP client reaches the API server of a kubeconfig's current context."""

    server: str
    token: str
    ca_pem: bytes

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>``."""
        return {"Authorization": f"Bearer {self.token}"}

    def verify(self) -> ssl.SSLContext:
        """An SSL context trusting the cluster's CA (``verify=`` for httpx)."""
        return ssl.create_default_context(cadata=self.ca_pem.decode())


def read_kubeconfig(path: Path) -> KubeAccess:
    """The server, bearer token and CA of the current context of the kubeconfig at ``path``."""
    doc = yaml.safe_load(Path(path).read_text())
    context = next(c["context"] for c in doc["contexts"] if c["name"] == doc["current-context"])
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in doc["users"] if u["name"] == context["user"])
    return KubeAccess(server=str(cluster["server"]), token=str(user["token"]),
                      ca_pem=base64.b64decode(cluster["certificate-authority-data"]))
