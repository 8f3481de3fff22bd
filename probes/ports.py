"""The seams probes read the world through: one Protocol per client, holding exactly the calls the
probes make. The real clients (harness.clients.kube.KubeClient, toxiproxy.ToxiproxyClient) satisfy them
structurally; mypy checks it where probes.env builds a ProbeEnv from them."""

from __future__ import annotations

from typing import Any, Protocol

Obj = dict[str, Any]


class KubeReader(Protocol):
    """The Kubernetes reads of the ``kubernetes`` probe."""

    def get_deployment(self, namespace: str, name: str) -> Obj: ...
    def list_pods(self, namespace: str | None = None, label_selector: str | None = None,
                  field_selector: str | None = None) -> list[Obj]: ...


class ToxiproxyReader(Protocol):
    """The Toxiproxy read of the ``toxiproxy`` probe."""

    def proxies(self) -> dict[str, Obj]: ...
