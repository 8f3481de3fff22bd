"""The fault environment of a run or a rollback, built from a target's Connection."""

from __future__ import annotations

import random

from harness.clients.connect import Connection, compute_client, kube_client, toxiproxy_client

from .base import FaultEnv
from .ports import Recorder, no_record


def fault_env(conn: Connection, record: Recorder = no_record, seed: int | None = None,
              max_pods_fraction: float = 1.0) -> FaultEnv:
    """The clients of ``conn`` (Compute Engine built on first use), journaling with ``record``."""
    return FaultEnv(
        record=record,
        kube=kube_client(conn),
        compute=compute_client(conn),
        toxiproxy=toxiproxy_client(conn),
        postgres={"dsn": conn.postgres_dsn, "allowed_hosts": conn.postgres_allowed_hosts},
        project=conn.project,
        region=conn.region,
        network=conn.network,
        network_project=conn.host_project,
        rng=random.Random(seed),
        max_pods_fraction=max_pods_fraction,
    )
