"""The steady-state check before and after a run: every selected probe must pass once before the
deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from harness.run.probing import observe
from probes.base import Probe


async def steady_state(probes: Sequence[Probe], timeout: float) -> list[str]:
    """Observe each probe until it passes or ``timeout`` seconds (shared by all) have passed; the
    problems of those that never passed, as ``"name: detail"``."""
    deadline = time.time() + timeout
    failed: dict[str, str] = {}
    for probe in probes:
        while True:
            obs = await observe(probe)
            if obs.ok:
                failed.pop(probe.name, None)
                break
            failed[probe.name] = obs.detail
            if time.time() >= deadline:
                break
            await asyncio.sleep(0.5)
    return [f"{name}: {detail}" for name, detail in failed.items()]
