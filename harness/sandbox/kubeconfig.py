"""Write a kubeconfig that points kubectl and the official clients at the sandbox's API server."""

from __future__ import annotations

from pathlib import Path

import yaml


def kubeconfig_dict(server_url: str, context: str = "sandbox") -> dict[str, object]:
    """The kubeconfig document (plain HTTP, no credentials) as a dict."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": server_url}}],
        "users": [{"name": context, "user": {}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
    }


def write_kubeconfig(path: Path, server_url: str, context: str = "sandbox") -> None:
    """Write a kubeconfig at ``path`` whose current context talks to ``server_url``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig_dict(server_url, context), sort_keys=False))
    path.chmod(0o600)
