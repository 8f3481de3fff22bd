"""The probe environment of a run, built from a target's Connection."""

from __future__ import annotations

from harness.clients.connect import Connection, kube_client, toxiproxy_client

from .base import ProbeEnv
from .ports import KubeReader


def probe_env(conn: Connection, kube: KubeReader | None = None) -> ProbeEnv:
    """The clients of ``conn``; ``kube`` shares one already built (the run's)."""
    return ProbeEnv(site_url=conn.site_url, kube=kube or kube_client(conn), toxiproxy=toxiproxy_client(conn),
                    extra={"postgres_dsn": conn.extra.get("postgres") or conn.postgres_dsn,
                           "prometheus_url": conn.prometheus_url})
