"""Parameter models of the databases fault kinds (validated by the spec)."""

from __future__ import annotations

from harness.spec_registry import KindRegistry


def register_all(registry: KindRegistry) -> None:
    """Register every databases fault kind's params model."""
