"""The bases of every kind's parameters, part of the spec's language: ``FaultParams`` and ``ProbeParams``.

Each kind's own model lives beside its implementation (``harness/faults/*.py``, ``probes/*.py``) and
derives from one of these; the spec relies only on what the bases promise (frozen, unknown keys refused,
``FaultParams.namespaces()`` for the namespace safety rules).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FaultParams(BaseModel):
    """Base of every fault kind's parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def namespaces(self) -> list[str]:
        """Kubernetes namespaces this fault touches (empty when it is not namespaced)."""
        return []


class ProbeParams(BaseModel):
    """Base of every probe kind's parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")
