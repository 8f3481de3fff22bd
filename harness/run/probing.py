"""The experiment's probes during a run: each observes on its own schedule into the timeline and
journals every change of state. A probe that raises or hangs is a failed observation, never a failed
run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from harness.aio import wait_timeout
from harness.events import Event
from harness.journal import Journal
from harness.measure.timeline import TimelineWriter
from harness.spec.models import ProbeSpec
from probes.base import Observation, Probe, ProbeEnv, probe_class


async def observe(probe: Probe) -> Observation:
    """One observation, bounded by the probe's timeout (plus a second); any failure is a failed
    observation with the reason in its detail."""
    try:
        return await wait_timeout(probe.observe(), probe.timeout + 1)
    except TimeoutError:
        return Observation(False, probe.timeout * 1000, f"timed out after {probe.timeout:g}s", timed_out=True)
    except Exception as exc:  # noqa: BLE001 - a probe that breaks is a failed observation
        return Observation(False, None, f"{type(exc).__name__}: {exc}")


class RunProbes:
    """The probes of one run, built from their specs; ``start`` gives each its observing task."""

    def __init__(self, specs: Sequence[ProbeSpec], env: ProbeEnv) -> None:
        self.probes: list[tuple[ProbeSpec, Probe]] = [
            (spec, probe_class(spec.kind)(spec.name, spec.params, env, spec.timeout)) for spec in specs
        ]

    def start(self, timeline: TimelineWriter, journal: Journal) -> list[asyncio.Task[None]]:
        """One task per probe, observing until cancelled."""
        return [asyncio.create_task(probe_loop(spec, probe, timeline, journal)) for spec, probe in self.probes]

    def select(self, names: Sequence[str] | None) -> list[Probe]:
        """The probes named (all of them when ``names`` is None), in the experiment's order."""
        wanted = set(names) if names is not None else None
        return [p for s, p in self.probes if wanted is None or s.name in wanted]

    async def close(self) -> None:
        for _, probe in self.probes:
            await probe.close()


async def probe_loop(spec: ProbeSpec, probe: Probe, timeline: TimelineWriter, journal: Journal) -> None:
    """Observe every ``every`` seconds; journal each change of state (ok and detail), so reports show
    e.g. which toxics were active when, without copying every observation."""
    last: tuple[bool, str] | None = None
    while True:
        t0 = time.time()
        obs = await observe(probe)
        timeline.add_probe(spec.name, t0, obs.ok, obs.latency_sample)
        if (obs.ok, obs.detail) != last:
            last = (obs.ok, obs.detail)
            journal.write(Event.PROBE_CHANGED, probe=spec.name, ok=obs.ok, detail=obs.detail[:300])
        await asyncio.sleep(max(0.0, t0 + spec.every - time.time()))
