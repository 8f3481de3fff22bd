"""Faults through the target's Toxiproxy: ``db-latency``, ``db-bandwidth``, ``db-outage``,
``partner-latency``, ``partner-outage``, ``mongo-latency``.

Each toxic this fault adds gets a name unique to the fault (``harness-<fault id>-<token>-<type>-<stream>``),
and its undo record (``RemoveToxic``) is journaled before it is added; a disable journals ``EnableProxy``
first, and only when the proxy was enabled. Revert removes exactly those
toxics and re-enables exactly those proxies; both are idempotent (a toxic already gone is fine).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, model_validator

from harness.errors import PermanentFaultError
from harness.events import Event
from harness.retry import retry_transient
from harness.spec.access import Access, Endpoint
from harness.spec.fieldtypes import Duration
from harness.spec.params import FaultParams
from harness.spec.registry import FAULTS

from .base import Fault, FaultEnv, FaultPlan, undo_each
from .undo import EnableProxy, Journaled, ProxyUndo, RemoveToxic

ToxicSpec = tuple[str, str, dict[str, Any], float]  # type, stream, attributes, toxicity
Stream = Literal["upstream", "downstream", "both"]


# -- parameters -----------------------------------------------------------------------------------
class ProxyFaultParams(FaultParams):
    """Common to every fault done through a Toxiproxy proxy."""

    proxy: str = Field(min_length=1, description="Name of the Toxiproxy proxy to act on.")
    duration: Duration = Field(gt=0, description="How long the fault stays in place.")


class LatencyParams(ProxyFaultParams):
    """Add latency (with jitter) to a proxy's traffic."""

    latency: Duration = Field(gt=0, description="Added delay per chunk of data, e.g. 200ms.")
    jitter: Duration = Field(default=0.0, description="Random +/- variation around `latency`.")
    stream: Stream = Field(default="downstream", description="Which direction: upstream, downstream or both.")
    toxicity: float = Field(default=1.0, gt=0, le=1, description="Share of connections affected (0 < t <= 1).")


class BandwidthParams(ProxyFaultParams):
    """Limit a proxy's throughput."""

    rate: int = Field(ge=0, description="Bandwidth limit in KB/s (0 stops the data flowing).")
    stream: Stream = Field(default="downstream", description="Which direction: upstream, downstream or both.")
    toxicity: float = Field(default=1.0, gt=0, le=1, description="Share of connections affected (0 < t <= 1).")


class OutageParams(ProxyFaultParams):
    """Make a dependency unreachable: disable the proxy, reset connections, or let them time out."""

    mode: Literal["disable", "reset_peer", "timeout"] = Field(
        default="disable",
        description="disable: refuse and drop every connection; reset_peer: TCP RST; timeout: data stops.",
    )
    timeout: Duration = Field(
        default=0.0,
        description="reset_peer/timeout: delay before the connection is reset/closed; 0 = at once (reset_peer) "
                    "or never (timeout: data is held until the fault ends).",
    )
    stream: Literal["upstream", "downstream"] = Field(
        default="downstream", description="reset_peer/timeout: the direction the toxic sits on."
    )

    @model_validator(mode="after")
    def _timeout_needs_toxic(self) -> OutageParams:
        if self.mode == "disable" and self.timeout:
            raise ValueError("`timeout` applies to mode reset_peer or timeout, not disable")
        return self


class DbLatencyParams(LatencyParams):
    """Latency on the database proxy."""

    proxy: str = Field(default="postgres", min_length=1, description="Proxy in front of the database.")


class DbBandwidthParams(BandwidthParams):
    """Bandwidth limit on the database proxy."""

    proxy: str = Field(default="postgres", min_length=1, description="Proxy in front of the database.")


class DbOutageParams(OutageParams):
    """The database becomes unreachable through its proxy."""

    proxy: str = Field(default="postgres", min_length=1, description="Proxy in front of the database.")


class PartnerLatencyParams(LatencyParams):
    """Latency on an external partner's proxy."""

    proxy: str = Field(default="payment-partner", min_length=1, description="Proxy in front of the partner.")


class PartnerOutageParams(OutageParams):
    """An external partner becomes unreachable through its proxy."""

    proxy: str = Field(default="payment-partner", min_length=1, description="Proxy in front of the partner.")


class MongoLatencyParams(LatencyParams):
    """Latency on the proxy in front of MongoDB (named explicitly: the sandbox has no MongoDB)."""


async def _toxi(env: FaultEnv, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A Toxiproxy call off the event loop, through the one retry policy."""

    async def call() -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    return await retry_transient(call, deadline=30, what=what, on_retry=env.on_retry)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _streams(stream: str) -> list[str]:
    return ["upstream", "downstream"] if stream == "both" else [stream]


class ProxyFault(Fault):
    """A fault that adds toxics to (or disables) one named proxy."""

    access = Access(reaches=(Endpoint.TOXIPROXY,), other=("network: the Toxiproxy API (the target's toxiproxy_url)",))

    def toxics(self) -> list[ToxicSpec]:
        """The toxics this fault adds (empty when it disables the proxy instead)."""
        return []

    def disables(self) -> bool:
        """Whether this fault disables the proxy."""
        return False

    def describe(self) -> str:
        """One line saying what the fault does."""
        parts = [f"{t}({', '.join(f'{k}={v}' for k, v in a.items())}) on {s}" for t, s, a, _ in self.toxics()]
        return "disable" if self.disables() else "; ".join(parts)

    async def plan(self) -> FaultPlan:
        p = self.params
        target = f"toxiproxy/{p.proxy}"
        if self.env.toxiproxy is None:
            return FaultPlan([target], refuse=f"{self.kind}: the target has no Toxiproxy URL (toxiproxy_url)")
        proxies = await _toxi(self.env, "list proxies", self.env.toxiproxy.proxies)
        plan = FaultPlan([target], notes=[f"{self.describe()} on proxy {p.proxy!r} for {p.duration:g}s"],
                         blast={"proxies": 1})
        if p.proxy not in proxies:
            plan.refuse = f"{self.kind}: no proxy named {p.proxy!r} (proxies: {', '.join(sorted(proxies)) or 'none'})"
        elif not proxies[p.proxy].get("enabled", True):
            # not refused as empty: the dependency is down for the whole window either way (a run on it
            # fails its baseline rather than passing untested); the revert leaves it disabled
            plan.notes.append(f"proxy {p.proxy!r} is already disabled"
                              + ("; this fault changes nothing and will not re-enable it" if self.disables() else ""))
        return plan

    async def inject(self) -> None:
        p, client = self.params, self.env.toxiproxy
        if client is None:
            raise PermanentFaultError(f"{self.kind}: the target has no Toxiproxy URL")
        self.targets.append(f"toxiproxy/{p.proxy}")
        token = uuid.uuid4().hex[:6]
        added = []
        for type_, stream, attrs, toxicity in self.toxics():
            name = f"harness-{self.id}-{token}-{type_}-{stream}"
            self.record_undo(RemoveToxic(proxy=p.proxy, toxic=name))
            await _toxi(self.env, f"add toxic {name}", client.add_toxic, p.proxy, name, type_, attrs,
                        stream=stream, toxicity=toxicity)
            added.append(name)
        if self.disables():
            await self._disable()
        self.measurements.update({"proxy": p.proxy, "toxics": added, "disabled": self.disables()})
        self.env.record(Event.FAULT_ACTION, id=self.id, kind=self.kind, action="toxics", proxy=p.proxy,
                        toxics=added, disabled=self.disables())

    async def _disable(self) -> None:
        proxy, client = self.params.proxy, self.env.need_toxiproxy()
        current = await _toxi(self.env, f"get proxy {proxy}", client.proxy, proxy)
        if current is None:
            raise PermanentFaultError(f"{self.kind}: proxy {proxy!r} does not exist")
        if not current.get("enabled", True):
            return  # we did not disable it, so we will not enable it
        self.record_undo(EnableProxy(proxy=proxy))
        await _toxi(self.env, f"disable proxy {proxy}", client.set_enabled, proxy, False)

    @classmethod
    async def undo(cls, records: Sequence[Journaled], env: FaultEnv) -> None:
        """Remove every journaled toxic and re-enable every journaled proxy, newest first; a record
        that fails does not stop the others, and the error names each one that failed."""

        async def one(rec: ProxyUndo) -> None:
            client = env.need_toxiproxy()
            if isinstance(rec, RemoveToxic):
                await _toxi(env, f"remove toxic {rec.toxic}", client.remove_toxic, rec.proxy, rec.toxic)
            elif isinstance(rec, EnableProxy):
                await _toxi(env, f"enable proxy {rec.proxy}", client.set_enabled, rec.proxy, True)

        await undo_each(list(reversed(records)), ProxyUndo, one)


class LatencyFault(ProxyFault):
    """``latency`` toxics (with jitter) on the chosen stream(s)."""

    def toxics(self) -> list[ToxicSpec]:
        p = self.params
        attrs = {"latency": _ms(p.latency), "jitter": _ms(p.jitter)}
        return [("latency", s, attrs, p.toxicity) for s in _streams(p.stream)]


class BandwidthFault(ProxyFault):
    """``bandwidth`` toxics on the chosen stream(s)."""

    def toxics(self) -> list[ToxicSpec]:
        p = self.params
        return [("bandwidth", s, {"rate": int(p.rate)}, p.toxicity) for s in _streams(p.stream)]


class OutageFault(ProxyFault):
    """Disable the proxy, or add a ``reset_peer`` / ``timeout`` toxic."""

    def toxics(self) -> list[ToxicSpec]:
        p = self.params
        if p.mode == "disable":
            return []
        return [(p.mode, p.stream, {"timeout": _ms(p.timeout)}, 1.0)]

    def disables(self) -> bool:
        return bool(self.params.mode == "disable")


@FAULTS.register
class DbLatency(LatencyFault):
    kind = "db-latency"
    Params = DbLatencyParams


@FAULTS.register
class DbBandwidth(BandwidthFault):
    kind = "db-bandwidth"
    Params = DbBandwidthParams


@FAULTS.register
class DbOutage(OutageFault):
    kind = "db-outage"
    Params = DbOutageParams


@FAULTS.register
class PartnerLatency(LatencyFault):
    kind = "partner-latency"
    Params = PartnerLatencyParams


@FAULTS.register
class PartnerOutage(OutageFault):
    kind = "partner-outage"
    Params = PartnerOutageParams


@FAULTS.register
class MongoLatency(LatencyFault):
    kind = "mongo-latency"
    Params = MongoLatencyParams
