"""A kind that validates always runs: one registry entry per kind (``harness.spec.registry.FAULTS``,
``PROBES``) gives the spec its parameters model and the engine its implementation, and every kind the
JSON schema accepts is built from a minimal valid step and run once (``plan()`` for a fault, ``observe()``
for a probe) against unreachable loopback addresses: it answers with a plan, a refusal, a client error
or a failed observation, never an AttributeError or KeyError.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.faults.base import Fault, FaultEnv, FaultPlan, fault_class
from harness.spec.loader import json_schema
from harness.spec.params import FaultParams, ProbeParams
from harness.spec.registry import FAULTS, PROBES, DuplicateKind, Registry, UnknownKind
from probes.base import Observation, Probe, ProbeEnv, probe_class
from tests.kind_examples import MINIMAL_FAULTS, MINIMAL_PROBES, filled

FAULT_FIXED_KEYS = {"at", "name", "hold", "allow_empty"}
PROBE_FIXED_KEYS = {"name", "every", "timeout"}

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _schema_kinds(step: str, fixed: set[str]) -> set[str]:
    return set(json_schema()["$defs"][step]["properties"]) - fixed


def _kubeconfig(tmp: Path, port: int) -> str:
    path = tmp / "kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: dead, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: dead, user: {{token: "x"}}}}]
contexts: [{{name: dead, context: {{cluster: dead, user: dead}}}}]
current-context: dead
""")
    return str(path)


@pytest.fixture
def unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FaultEnv, ProbeEnv, int]]:
    """A fault and a probe environment whose every client points at a closed loopback port."""
    from harness.clients.connect import Lazy
    from harness.clients.kube import KubeClient
    from harness.clients.toxiproxy import ToxiproxyClient

    def compute() -> Any:
        from harness.clients.compute import ComputeClient  # seconds to import: only zone-outage needs it

        return ComputeClient("shop-project", dead, timeout=1)

    monkeypatch.setenv("HARNESS_RETRY_DEADLINE", "0")  # one attempt: the addresses stay unreachable
    port = _closed_port()
    dead = f"http://127.0.0.1:{port}"
    kube = KubeClient(_kubeconfig(tmp_path, port), timeout=1)
    toxiproxy = ToxiproxyClient(dead, timeout=1)
    fenv = FaultEnv(kube=kube, compute=Lazy(compute), toxiproxy=toxiproxy, project="shop-project",
                    postgres={"dsn": f"postgresql://harness@127.0.0.1:{port}/shop", "allowed_hosts": ["127.0.0.1"]})
    penv = ProbeEnv(site_url=dead, kube=kube, toxiproxy=toxiproxy, extra={"prometheus_url": dead})
    yield fenv, penv, port
    kube.close()
    toxiproxy.close()


def test_the_examples_cover_exactly_the_kinds_the_schema_accepts() -> None:
    assert set(MINIMAL_FAULTS) == _schema_kinds("FaultStep", FAULT_FIXED_KEYS) == set(FAULTS.kinds())
    assert set(MINIMAL_PROBES) == _schema_kinds("ProbeSpec", PROBE_FIXED_KEYS) == set(PROBES.kinds())


@pytest.mark.parametrize("kind", sorted(MINIMAL_FAULTS))
def test_every_fault_kind_the_schema_accepts_plans(kind: str, unreachable: tuple[FaultEnv, ProbeEnv, int]) -> None:
    env, _, port = unreachable
    cls = fault_class(kind)
    assert issubclass(cls, Fault) and FAULTS.params(kind) is cls.Params
    fault = cls(f"{kind}-0", cls.Params.model_validate(filled(MINIMAL_FAULTS[kind], port)), env)
    try:
        plan = asyncio.run(fault.plan())
    except HarnessError:
        return  # the target is unreachable: a client error, raised by code that exists and ran
    assert isinstance(plan, FaultPlan)


@pytest.mark.parametrize("kind", sorted(MINIMAL_PROBES))
def test_every_probe_kind_the_schema_accepts_observes(kind: str, unreachable: tuple[FaultEnv, ProbeEnv, int]) -> None:
    _, env, port = unreachable
    cls = probe_class(kind)
    assert issubclass(cls, Probe) and PROBES.params(kind) is cls.Params
    probe = cls("p", cls.Params.model_validate(filled(MINIMAL_PROBES[kind], port)), env, 1.0)
    try:
        obs = asyncio.run(probe.observe())
    finally:
        asyncio.run(probe.close())
    assert isinstance(obs, Observation) and not obs.ok and obs.detail


class _ExtraParams(ProbeParams):
    """Parameters of a made-up probe kind."""


class _ExtraProbe(Probe):
    kind = "made-up"
    Params = _ExtraParams

    async def observe(self) -> Observation:
        return Observation(True, 0.0)


class _OtherProbe(_ExtraProbe):
    """Another class claiming the same kind name."""


def test_a_kind_is_registered_once_with_its_params() -> None:
    registry: Registry[ProbeParams] = Registry("probe", ProbeParams)
    registry.register(_ExtraProbe)
    registry.register(_ExtraProbe)  # the same class again (a module imported twice) is harmless
    with pytest.raises(DuplicateKind):
        registry.register(_OtherProbe)
    assert registry.get("made-up") is _ExtraProbe and registry.params("made-up") is _ExtraParams
    assert registry.get("nope") is None and registry.suggest("made-upp") == "made-up"
    with pytest.raises(UnknownKind, match="did you mean `made-up`"):
        registry["made-u"]


def test_a_kind_without_params_of_its_family_is_refused() -> None:
    class NoParams(Probe):
        kind = "no-params"

        async def observe(self) -> Observation:
            return Observation(True, 0.0)

    class FaultParamsOnAProbe(NoParams):
        kind = "wrong-params"
        Params = FaultParams  # type: ignore[assignment]

    registry: Registry[ProbeParams] = Registry("probe", ProbeParams)
    for cls in (NoParams, FaultParamsOnAProbe):
        with pytest.raises(TypeError, match="Params"):
            registry.register(cls)


def test_the_registries_find_their_kinds_by_importing_the_plugin_packages() -> None:
    assert "prometheus" in PROBES and "pod-kill" in FAULTS and "zone-outage" in FAULTS
    assert FAULTS.plugins == ("harness.faults",) and PROBES.plugins == ("probes",)
