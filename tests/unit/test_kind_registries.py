"""A kind that validates always runs: the kinds the spec accepts equal the kinds implemented, per family.

Parameters (``probes.params.PROBE_PARAMS``, ``harness.faults.params.FAULT_PARAMS``) and implementations
(``probes.base.load_all()``, ``harness.faults.base.load_all()``) live in separate registries; a kind in
one and not the other either validates and then crashes at run time, or can never be written.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.faults.base import load_all as load_faults
from harness.faults.params import FAULT_PARAMS
from harness.spec.registry import KindRegistry
from probes.base import Observation, Probe, ProbeRegistry
from probes.base import load_all as load_probes
from probes.params import PROBE_PARAMS, ProbeParams


def kind_mismatch(validated: Iterable[str], implemented: Iterable[str]) -> dict[str, list[str]]:
    """The kinds found in only one of the two registries ({} when they agree)."""
    accepted, runnable = set(validated), set(implemented)
    differences = {
        "validated but not implemented": sorted(accepted - runnable),
        "implemented but not validated": sorted(runnable - accepted),
    }
    return {why: kinds for why, kinds in differences.items() if kinds}


def test_every_validated_probe_kind_is_implemented_and_vice_versa():
    assert kind_mismatch(PROBE_PARAMS.kinds(), load_probes().kinds()) == {}


def test_every_validated_fault_kind_is_implemented_and_vice_versa():
    assert kind_mismatch(FAULT_PARAMS.kinds(), load_faults().kinds()) == {}


def test_prometheus_probe_kind_runs():
    assert "prometheus" in PROBE_PARAMS and "prometheus" in load_probes().kinds()


class _ExtraParams(ProbeParams):
    """Parameters of a kind nobody implemented."""


class _ExtraProbe(Probe):
    kind = "made-up"

    async def observe(self) -> Observation:
        return Observation(True, 0.0)


def test_the_comparison_reports_a_kind_with_params_but_no_implementation():
    params = KindRegistry("probe")
    for kind in PROBE_PARAMS.kinds():
        model = PROBE_PARAMS.get(kind)
        assert model is not None
        params.register(kind, model)
    params.register("made-up", _ExtraParams)
    assert kind_mismatch(params.kinds(), load_probes().kinds()) == {"validated but not implemented": ["made-up"]}


def test_the_comparison_reports_an_implementation_the_spec_cannot_name():
    implemented = ProbeRegistry()
    for kind in load_probes().kinds():
        implemented.register(load_probes().get(kind))
    implemented.register(_ExtraProbe)
    assert kind_mismatch(PROBE_PARAMS.kinds(), implemented.kinds()) == {"implemented but not validated": ["made-up"]}
