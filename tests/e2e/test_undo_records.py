"""Undo of every fault kind tries every record and reports each failure: one record that cannot be
reverted does not leave the others injected. Through the session sandbox's real APIs."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import psycopg
import pytest

from harness.clients.kube import KubeClient
from harness.clients.toxiproxy import ToxiproxyClient
from harness.errors import PermanentFaultError, RevertFailed
from harness.faults.base import FaultEnv, fault_class
from harness.faults.undo import read_undo

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proxy(api: str, name: str) -> None:
    body = {"name": name, "listen": f"127.0.0.1:{_free_port()}", "upstream": "127.0.0.1:9", "enabled": True}
    httpx.post(f"{api}/proxies", json=body, timeout=5).raise_for_status()


def test_proxy_undo_goes_on_after_a_failed_record_and_names_it(sandbox: Any) -> None:
    api = sandbox.endpoints["toxiproxy"]
    _proxy(api, "undo-kept")
    _proxy(api, "undo-gone")
    client = ToxiproxyClient(api)
    try:
        env = FaultEnv(toxiproxy=client)
        model = fault_class("db-latency").Params
        fault = fault_class("db-latency")("lat", model.model_validate(
            {"proxy": "undo-kept", "latency": "50ms", "stream": "upstream", "duration": "5s"}), env)
        asyncio.run(fault.inject())
        [toxic] = [t["name"] for t in client.toxics("undo-kept")]
        # an outage journaled "enable undo-gone" before disabling it; then someone deleted that proxy
        records = [*fault._undo, *read_undo([{"proxy": "undo-gone", "enable": True}])]  # journaled before `action`
        httpx.delete(f"{api}/proxies/undo-gone", timeout=5).raise_for_status()
        with pytest.raises(RevertFailed) as failed:
            asyncio.run(type(fault).undo(records, env))  # newest first: the failing record goes first
        assert client.toxics("undo-kept") == []  # the next record was still reverted
        assert len(failed.value.still_injected) == 1
        assert failed.value.still_injected[0].startswith("enable proxy 'undo-gone': ")
        assert "404" in failed.value.still_injected[0] or "not found" in failed.value.still_injected[0].lower()
        assert isinstance(failed.value, PermanentFaultError)  # also a FaultError: retrying will not help
        asyncio.run(type(fault).undo(fault._undo, env))  # idempotent: the toxic is already gone
        assert toxic not in str(failed.value)
    finally:
        httpx.delete(f"{api}/proxies/undo-kept", timeout=5)
        client.close()


def test_scale_zone_and_pg_undo_try_every_record(sandbox: Any) -> None:
    kube = KubeClient(sandbox.kubeconfig)
    env = FaultEnv(kube=kube)
    node = kube.list_nodes()[0]["metadata"]["name"]
    try:
        kube.set_scale("shop", "catalog", 2)
        scale = [{"namespace": "shop", "name": "catalog", "replicas": 3},
                 {"namespace": "shop", "name": "katalog", "replicas": 1}]
        with pytest.raises(RevertFailed) as failed:
            asyncio.run(fault_class("deployment-scale").undo(read_undo(scale), env))
        assert kube.get_scale("shop", "catalog") == 3
        assert [s.split(":")[0] for s in failed.value.still_injected] == ["scale shop/katalog back to 1"]

        kube.set_unschedulable(node, True)
        zone = [{"action": "uncordon", "node": node}, {"action": "unplug", "node": node}]
        with pytest.raises(RevertFailed) as failed:
            asyncio.run(fault_class("zone-drain").undo(read_undo(zone), env))
        assert not kube.get_node(node)["spec"].get("unschedulable")
        assert failed.value.still_injected == [f"unknown undo record {zone[1]!r}"]
    finally:
        kube.set_scale("shop", "catalog", 3)
        kube.set_unschedulable(node, False)
        kube.close()
    sandbox.wait_deployments_ready()

    admin = sandbox.endpoints["postgres_admin"]
    held = psycopg.connect(admin, application_name="harness-undo-every-abc123")
    try:
        pg = [{"dsn": admin, "application_name": "harness-undo-every-abc123"},
              {"dsn": "host=127.0.0.1 port=notaport", "application_name": "harness-undo-every-zzz"}]
        with pytest.raises(RevertFailed) as failed:
            asyncio.run(fault_class("pg-lock").undo(read_undo(pg), FaultEnv()))
        assert [s.split(":")[0] for s in failed.value.still_injected] == [
            "terminate the sessions harness-undo-every-zzz on host=127.0.0.1 port=notaport"]
        deadline = time.monotonic() + 5
        while not held.closed and time.monotonic() < deadline:
            try:
                held.execute("SELECT 1")
            except psycopg.OperationalError:
                break
            time.sleep(0.1)
        with pytest.raises(psycopg.OperationalError):
            held.execute("SELECT 1")  # terminated by the first record's undo
    finally:
        held.close()
