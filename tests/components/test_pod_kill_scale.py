"""pod-kill at scale on a miniature sandbox of 1,000 virtual pods: bounded-concurrency deletes, one undo
record per batch journaled before any delete of that batch reaches the API server, and the fault window
opening at the first action (the first undo record, written just before the first delete call).

Timing goals (1,500 of 5,000 pods in 3 s) are `make bench` figures, not asserted here."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.clients.kube import KubeClient
from harness.faults.base import FaultEnv
from harness.faults.pods import BATCH, PodKill, PodKillParams
from harness.journal import Journal, read_journal
from harness.measure.slo import windows_from_events
from harness.sandbox.controller.manager import Controller
from harness.sandbox.core.context import new_context
from harness.sandbox.kube.apiserver import KubeApi
from harness.sandbox.kube.kubeconfig import write_kubeconfig
from harness.sandbox.kube.requestlog import read_requests
from harness.sandbox.kube.testing import LoopThread
from tests.zone_mini import mini_config, vsvc, wait_for

PODS, KILL = 1000, 250


class Big:
    """The Kubernetes API and the controller of 1,000 virtual (processless) pods, in a background loop."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ctx = new_context(mini_config([vsvc("catalog", PODS, cpu=10)], nodes_per_zone=4), tmp / "sb")
        self.lt = LoopThread().__enter__()
        self.parts: list[Any] = [KubeApi(), Controller()]
        for part in self.parts:
            self.lt.run(part.start(self.ctx))
            self.ctx.components[part.name] = part
        api = self.parts[0]
        write_kubeconfig(tmp / "kubeconfig", api.url, api.token, api.tls.ca_pem)
        self.kube = KubeClient(str(tmp / "kubeconfig"))
        self.journal = Journal(tmp / "events.jsonl")

    def live(self) -> int:
        return len([p for p in self.kube.list_pods("shop", "app=catalog")
                    if not p["metadata"].get("deletionTimestamp")])

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        return [e for e in read_journal(self.tmp / "events.jsonl") if type_ is None or e["type"] == type_]

    def close(self) -> None:
        self.kube.close()
        self.journal.close()
        for part in reversed(self.parts):
            self.lt.run(asyncio.wait_for(part.stop(), 20))
        self.lt.__exit__(None, None, None)
        self.ctx.truth.close()


@pytest.fixture
def big(tmp_path: Path) -> Iterator[Big]:
    b = Big(tmp_path)
    try:
        yield b
    finally:
        b.close()


def test_pod_kill_journals_each_batch_before_its_deletes_and_opens_the_window_at_the_first(big: Big) -> None:
    wait_for(lambda: big.live() == PODS, 120, "1,000 pods")
    env = FaultEnv(record=big.journal.write, kube=big.kube)
    fault = PodKill("kill", PodKillParams(namespace="shop", selector="app=catalog", count=KILL, seed=3), env)
    opened: list[float] = []
    fault.on_first_action = lambda: opened.append(time.time())
    start = time.time()
    asyncio.run(fault.inject())

    undos = big.events("fault.undo")
    batches = [u["undo"]["killed"] for u in undos]
    assert len(undos) == math.ceil(KILL / BATCH) and all(0 < len(b) <= BATCH for b in batches)
    killed = [n for b in batches for n in b]
    assert len(killed) == len(set(killed)) == KILL
    assert sorted(fault.targets) == sorted(f"shop/{n}" for n in killed)
    (action,) = big.events("fault.action")
    assert action["pods"] == killed and action["failed"] == 0

    deletes = {r["name"]: r["ts"] for r in read_requests(big.ctx.dir / "requests.jsonl")
               if r.get("verb") == "delete" and r.get("resource") == "pods"}
    assert set(deletes) == set(killed)
    for undo, batch in zip(undos, batches, strict=True):  # each batch journaled before any of its deletes
        assert undo["ts"] <= min(deletes[n] for n in batch)
    for later, earlier in zip(batches[1:], batches, strict=False):  # and after the previous batch began
        assert min(deletes[n] for n in earlier) <= min(deletes[n] for n in later)

    windows = windows_from_events(start, time.time() + 1, big.events())
    assert windows.fault is not None
    first_delete = min(deletes.values())
    assert windows.fault[0] == undos[0]["ts"] == min(u["ts"] for u in undos)
    assert windows.fault[0] <= first_delete and action["first_delete"] <= first_delete
    assert windows.fault[0] <= action["first_delete"]
    # the run's timeline opens the window there too (the logs keep milliseconds: compare at that precision)
    assert len(opened) == 1 and round(opened[0], 3) <= first_delete
    wait_for(lambda: big.live() == PODS, 120, "replacements")
