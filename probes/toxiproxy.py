"""``toxiproxy`` probe: the fault proxy's state, so a report can show what was active when.

``ok`` means the API answered and every proxy named in ``proxies`` exists and is enabled; the
``detail`` lists the disabled proxies and the active toxics (``proxy: toxic(type stream attrs)``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import Field

from harness.clients.toxiproxy import ToxiproxyClient
from harness.errors import ClientError
from harness.spec.access import Access, Endpoint
from harness.spec.params import ProbeParams
from harness.spec.registry import PROBES

from .base import Observation, Probe
from .ports import ToxiproxyReader


class ToxiproxyProbeParams(ProbeParams):
    """Reads the fault proxy's state (proxies enabled, toxics present)."""

    url: str | None = Field(default=None, description="Toxiproxy API URL; default the target's.")
    proxies: list[str] | None = Field(default=None, description="Proxies that must exist and be enabled.")


def describe(proxies: dict[str, Any]) -> str:
    """Disabled proxies and active toxics in one line ('' when all is clean)."""
    parts = []
    for name, proxy in sorted(proxies.items()):
        if not proxy.get("enabled", True):
            parts.append(f"{name}: disabled")
        for t in proxy.get("toxics") or []:
            attrs = ",".join(f"{k}={v}" for k, v in (t.get("attributes") or {}).items())
            parts.append(f"{name}: {t.get('name')}({t.get('type')} {t.get('stream')} {attrs})")
    return "; ".join(parts)


@PROBES.register
class ToxiproxyProbe(Probe):
    kind = "toxiproxy"
    access = Access(reaches=(Endpoint.TOXIPROXY,), other=("network: the Toxiproxy API (the target's toxiproxy_url)",))
    Params = ToxiproxyProbeParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.params.url
        self._own = ToxiproxyClient(url, timeout=self.timeout) if url else None

    @property
    def client(self) -> ToxiproxyReader | None:
        """The probe's own client (``url``), else the target's."""
        return self._own or self.env.toxiproxy

    async def observe(self) -> Observation:
        client = self.client
        if client is None:
            return Observation(False, None, "no Toxiproxy URL: give `url` or set the target's toxiproxy_url")
        start = time.perf_counter()
        try:
            proxies = await asyncio.to_thread(client.proxies)
        except ClientError as exc:
            return Observation(False, (time.perf_counter() - start) * 1000, str(exc)[:300])
        ms = (time.perf_counter() - start) * 1000
        detail = describe(proxies)
        missing = [n for n in self.params.proxies or [] if n not in proxies]
        down = [n for n in self.params.proxies or [] if n in proxies and not proxies[n].get("enabled", True)]
        if missing or down:
            why = ", ".join([f"{n} missing" for n in missing] + [f"{n} disabled" for n in down])
            return Observation(False, ms, f"{why}; {detail}" if detail else why)
        return Observation(True, ms, detail)

    async def close(self) -> None:
        if self._own is not None:
            await asyncio.to_thread(self._own.close)
