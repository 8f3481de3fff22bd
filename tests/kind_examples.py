"""A minimal valid parameter mapping for every fault and probe kind, shared by the tests that build
every kind the schema accepts (a new kind without an example fails those tests: add one here)."""

from __future__ import annotations

from typing import Any

MINIMAL_FAULTS: dict[str, dict[str, Any]] = {
    "pod-kill": {"namespace": "shop", "selector": "app=checkout", "count": 1},
    "deployment-scale": {"namespace": "shop", "name": "cart", "replicas": 0, "duration": "5s"},
    "zone-drain": {"zone": "europe-west1-b", "duration": "5s"},
    "zone-outage": {"zone": "europe-west1-b", "duration": "5s"},
    "db-latency": {"latency": "100ms", "duration": "5s"},
    "db-bandwidth": {"rate": 1, "duration": "5s"},
    "db-outage": {"duration": "5s"},
    "partner-latency": {"latency": "100ms", "duration": "5s"},
    "partner-outage": {"duration": "5s"},
    "mongo-latency": {"proxy": "mongo", "latency": "100ms", "duration": "5s"},
    "pg-connection-exhaustion": {"duration": "5s"},
    "pg-terminate-backends": {"application_name": "shop-%"},
    "pg-lock": {"table": "orders", "duration": "5s"},
    "pg-slow-queries": {"duration": "5s"},
    "mongo-stepdown": {"uri": "mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
                       "timeout": "300ms"},
}
"""A minimal valid parameter mapping per fault kind (``{port}``: a closed loopback port)."""

MINIMAL_PROBES: dict[str, dict[str, Any]] = {
    "http": {"url": "/health"},
    "kubernetes": {"namespace": "shop", "deployment": "checkout"},
    "postgres": {"dsn": "postgresql://harness@127.0.0.1:{port}/shop"},
    "toxiproxy": {"proxies": ["postgres"]},
    "prometheus": {"query": "up", "url": "http://127.0.0.1:{port}"},
}
"""A minimal valid parameter mapping per probe kind (``{port}``: a closed loopback port)."""

NAMESPACES: dict[str, list[str]] = {
    "pod-kill": ["shop"], "deployment-scale": ["shop"], "zone-drain": ["shop"], "zone-outage": ["shop"],
}
"""What ``namespaces()`` answers for the minimal params above; every other kind touches no namespace."""


def filled(values: dict[str, Any], port: int) -> dict[str, Any]:
    """``values`` with ``{port}`` replaced in its strings."""
    return {k: v.format(port=port) if isinstance(v, str) else v for k, v in values.items()}
