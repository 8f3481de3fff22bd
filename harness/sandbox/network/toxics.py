"""Toxics of the Toxiproxy-compatible fault proxy: their JSON, defaults and per-chunk behaviour.

Each kind registers once in `TOXIC_KINDS`. A chunk read at time ``t`` travels through the stream's
toxics in order; each toxic ``process`` calls ``send(data, t_out)`` for whatever it lets through
(maybe later, maybe in pieces, maybe never), ``t_out`` being when it left that toxic in an unloaded
pipeline (so two 500 ms latency toxics add 1 s, and back-to-back chunks still overlap). Kinds with a ``timer`` also act on the connection on their own (timeout,
reset_peer), starting when the toxic first applies to that connection.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

Send = Callable[[bytes, float], Awaitable[None]]
STREAMS = ("upstream", "downstream")


class Link(Protocol):
    """What a toxic may do to the connection it sits on."""

    rng: random.Random

    def close(self) -> None: ...

    def reset(self) -> None: ...


class ToxicError(ValueError):
    """A toxic definition the API refuses (HTTP 400)."""


_uids = itertools.count(1)


@dataclass
class Toxic:
    """One active toxic of one proxy."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any]
    uid: int = field(default_factory=lambda: next(_uids))
    removed: asyncio.Event = field(default_factory=asyncio.Event)

    def to_json(self) -> dict[str, Any]:
        """The toxic as Toxiproxy's API shows it."""
        return {"name": self.name, "type": self.type, "stream": self.stream,
                "toxicity": self.toxicity, "attributes": dict(self.attributes)}

    def attr(self, key: str) -> float:
        """A numeric attribute (missing or null counts as 0)."""
        return float(self.attributes.get(key) or 0)


Process = Callable[[Toxic, dict[str, Any], float, bytes, Send, Link], Awaitable[None]]
Timer = Callable[[Toxic, Link], Awaitable[None]]


@dataclass(frozen=True)
class ToxicKind:
    """A registered toxic type: attribute defaults, per-chunk behaviour, optional connection timer."""

    defaults: dict[str, float]
    process: Process
    timer: Timer | None = None


async def _latency(toxic: Toxic, state: dict[str, Any], t: float, data: bytes, send: Send, link: Link) -> None:
    jitter = toxic.attr("jitter")
    delay = (toxic.attr("latency") + (link.rng.uniform(-jitter, jitter) if jitter else 0)) / 1000.0
    due = t + delay
    wait = due - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)
    await send(data, due)


async def _bandwidth(toxic: Toxic, state: dict[str, Any], t: float, data: bytes, send: Send, link: Link) -> None:
    rate = toxic.attr("rate") * 1000.0  # KB/s -> bytes/s
    if rate <= 0:
        await send(data, t)
        return
    piece = max(1, int(rate / 10))  # 100 ms worth of data per write
    for i in range(0, len(data), piece):
        chunk = data[i:i + piece]
        due = max(state.get("next", 0.0), time.monotonic()) + len(chunk) / rate
        state["next"] = due
        await send(chunk, time.monotonic())
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)


async def _hold(toxic: Toxic, state: dict[str, Any], t: float, data: bytes, send: Send, link: Link) -> None:
    """timeout: nothing passes while the toxic is there; held data flows on once it is removed."""
    await toxic.removed.wait()
    await send(data, time.monotonic())


async def _passthrough(toxic: Toxic, state: dict[str, Any], t: float, data: bytes, send: Send, link: Link) -> None:
    await send(data, t)


async def _limit_data(toxic: Toxic, state: dict[str, Any], t: float, data: bytes, send: Send, link: Link) -> None:
    limit = int(toxic.attr("bytes"))
    sent = int(state.get("sent", 0))
    allowed = data[: max(0, limit - sent)]
    state["sent"] = sent + len(allowed)
    if allowed:
        await send(allowed, t)
    if state["sent"] >= limit:
        link.close()


async def _slicer(toxic: Toxic, state: dict[str, Any], t: float, data: bytes, send: Send, link: Link) -> None:
    average = max(1, int(toxic.attr("average_size")))
    variation = int(toxic.attr("size_variation"))
    delay = toxic.attr("delay") / 1_000_000.0  # microseconds
    i = 0
    while i < len(data):
        size = max(1, average + (link.rng.randint(-variation, variation) if variation else 0))
        await send(data[i:i + size], t if i == 0 else time.monotonic())
        i += size
        if delay > 0 and i < len(data):
            await asyncio.sleep(delay)


async def _timeout_timer(toxic: Toxic, link: Link) -> None:
    timeout = toxic.attr("timeout")
    if timeout <= 0:
        return  # hold forever, never close
    await asyncio.sleep(timeout / 1000.0)
    link.close()


async def _reset_timer(toxic: Toxic, link: Link) -> None:
    await asyncio.sleep(toxic.attr("timeout") / 1000.0)
    link.reset()


TOXIC_KINDS: dict[str, ToxicKind] = {
    "latency": ToxicKind({"latency": 0, "jitter": 0}, _latency),
    "bandwidth": ToxicKind({"rate": 0}, _bandwidth),
    "timeout": ToxicKind({"timeout": 0}, _hold, _timeout_timer),
    "reset_peer": ToxicKind({"timeout": 0}, _passthrough, _reset_timer),
    "slow_close": ToxicKind({"delay": 0}, _passthrough),
    "limit_data": ToxicKind({"bytes": 0}, _limit_data),
    "slicer": ToxicKind({"average_size": 0, "size_variation": 0, "delay": 0}, _slicer),
}


def _toxicity(value: Any) -> float:
    try:
        number = float(1.0 if value is None else value)
    except (TypeError, ValueError) as e:
        raise ToxicError("toxicity must be a number between 0 and 1") from e
    if not 0.0 <= number <= 1.0:
        raise ToxicError("toxicity must be between 0 and 1")
    return number


def _attributes(kind: ToxicKind, given: Any) -> dict[str, Any]:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ToxicError("attributes must be an object")
    attrs: dict[str, Any] = {k: int(v) if float(v).is_integer() else v for k, v in kind.defaults.items()}
    for key, value in given.items():
        if key in attrs and not isinstance(value, int | float):
            raise ToxicError(f"attribute {key} must be a number")
        attrs[key] = value
    return attrs


def new_toxic(body: dict[str, Any]) -> Toxic:
    """A toxic from a create request, with Toxiproxy's defaults (stream downstream, toxicity 1,
    name ``<type>_<stream>``); `ToxicError` when the type or a field is invalid."""
    kind = TOXIC_KINDS.get(str(body.get("type")))
    if kind is None:
        raise ToxicError("invalid toxic type")
    stream = str(body.get("stream") or "downstream").lower()
    if stream not in STREAMS:
        raise ToxicError(f"stream must be one of {', '.join(STREAMS)}")
    name = str(body.get("name") or f"{body['type']}_{stream}")
    return Toxic(name, str(body["type"]), stream, _toxicity(body.get("toxicity")),
                 _attributes(kind, body.get("attributes")))


def update_toxic(toxic: Toxic, body: dict[str, Any]) -> None:
    """Apply an update request (attributes merge, toxicity replaces) in place."""
    if "toxicity" in body:
        toxic.toxicity = _toxicity(body["toxicity"])
    if "attributes" in body:
        merged = {**toxic.attributes, **(body["attributes"] or {})}
        toxic.attributes = _attributes(TOXIC_KINDS[toxic.type], merged)
