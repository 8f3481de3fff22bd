"""Parameter models of the zones fault kinds (validated by the spec)."""

from __future__ import annotations

from harness.spec_registry import KindRegistry


def register_all(registry: KindRegistry) -> None:
    """Register every zones fault kind's params model."""
