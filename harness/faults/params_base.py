"""The base of every fault kind's parameters (its own module, so kind modules import it without a cycle)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FaultParams(BaseModel):
    """Base of every fault kind's parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def namespaces(self) -> list[str]:
        """Kubernetes namespaces this fault touches (empty when it is not namespaced)."""
        return []
