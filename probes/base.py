"""The probe interface and registry. A probe observes once per call; the run schedules it ``every``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Observation:
    """One probe result: did it pass, how long it took, and a short reason when it did not."""

    ok: bool
    latency_ms: float | None
    detail: str = ""
    timed_out: bool = False

    @property
    def latency_sample(self) -> float | None:
        """The latency the timeline records: a success's, or a timeout's (at the timeout); a fast
        failure records none, so it cannot lower a latency SLI."""
        return self.latency_ms if self.ok or self.timed_out else None


@dataclass
class ProbeEnv:
    """What probes reach the world through (built by harness.clients.connect)."""

    site_url: str = ""
    kube: Any = None  # harness.clients.kube.KubeClient
    toxiproxy: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class Probe(ABC):
    """One named probe of an experiment."""

    kind: ClassVar[str]

    def __init__(self, name: str, params: Any, env: ProbeEnv, timeout: float) -> None:
        self.name = name
        self.params = params
        self.env = env
        self.timeout = timeout

    @abstractmethod
    async def observe(self) -> Observation:
        """Look once; never raise for an observed failure, return ``ok=False`` with a detail."""

    async def close(self) -> None:
        """Release connections."""
        return None


class ProbeRegistry:
    """Probe kinds by name; registering a name twice is an error."""

    def __init__(self) -> None:
        self._kinds: dict[str, type[Probe]] = {}

    def register(self, cls: type[Probe]) -> type[Probe]:
        if cls.kind in self._kinds:
            raise ValueError(f"probe kind {cls.kind!r} registered twice")
        self._kinds[cls.kind] = cls
        return cls

    def get(self, kind: str) -> type[Probe]:
        return self._kinds[kind]

    def kinds(self) -> list[str]:
        return sorted(self._kinds)


REGISTRY = ProbeRegistry()
register = REGISTRY.register


def load_all() -> ProbeRegistry:
    """Import every probe module so each registers itself."""
    from . import http, kubernetes, postgres, prometheus, toxiproxy  # noqa: F401

    return REGISTRY
