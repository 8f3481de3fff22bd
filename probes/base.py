"""The probe interface. A probe observes once per call; the run schedules it ``every``. Probe kinds
register into ``harness.spec.registry.PROBES`` (one class per kind declaring ``kind`` and ``Params``);
``probe_class`` looks an implementation up."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.spec.access import NONE, Access
from harness.spec.params import ProbeParams
from harness.spec.registry import PROBES

from .ports import KubeReader, ToxiproxyReader


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
    """What probes reach the world through (built by probes.env); a client the target lacks is None."""

    site_url: str = ""
    kube: KubeReader | None = None
    toxiproxy: ToxiproxyReader | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Probe(ABC):
    """One named probe of an experiment. A kind subclasses it with ``kind`` (its YAML key) and ``Params``
    (its parameters model) and registers with ``@PROBES.register``."""

    kind: ClassVar[str]
    Params: ClassVar[type[ProbeParams]]
    access: ClassVar[Access] = NONE
    """The permissions this kind needs (harness rbac prints them as RBAC)."""

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


def probe_class(kind: str) -> type[Probe]:
    """The implementation of probe ``kind``; UnknownKind (a KeyError, with a did-you-mean) when none."""
    cls = PROBES[kind]
    if not issubclass(cls, Probe):
        raise TypeError(f"probe kind {kind!r} is declared by {cls.__qualname__}, which is not a Probe")
    return cls
