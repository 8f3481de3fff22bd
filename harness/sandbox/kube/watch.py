"""Watches: one store listener keeps a bounded history of changes and fans them out to open watches.

A watch without ``resourceVersion`` (or with "0") starts with synthetic ADDED events for what exists;
one with a ``resourceVersion`` replays the history after it, so nothing that changed between a list
and the following watch is lost (``kubectl delete --wait`` and informers rely on this). A version older
than the history answers an ERROR event with a 410 Expired Status, as the real API server does.
Stored objects are never mutated in place (the store replaces them), so events hold references.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from harness.selectors import parse_field_selector, parse_label_selector

from ..core.store import Store
from .io import dumps, state
from .request import RequestInfo
from .status import failure
from .tables import table, wants_table

Obj = dict[str, Any]
Event = tuple[str, Obj]  # (type, object)

HISTORY_SIZE = 20_000


@dataclass(frozen=True)
class _Change:
    rv: int
    kind: str
    plural: str
    obj: Obj


@dataclass(eq=False)
class Subscription:
    """One open watch: its filters and the queue its handler drains (``None`` ends it)."""

    plural: str
    namespace: str | None
    labels: Callable[[dict[str, str]], bool]
    fields: Callable[[Obj], bool]
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)

    def matches(self, plural: str, obj: Obj) -> bool:
        meta = obj["metadata"]
        if plural != self.plural or (self.namespace and meta.get("namespace") != self.namespace):
            return False
        return self.labels(meta.get("labels") or {}) and self.fields(obj)


class Expired(Exception):
    """The requested resourceVersion is older than the kept history."""


class WatchHub:
    """Feeds open watches from the store's change listener."""

    def __init__(self, store: Store, history_size: int = HISTORY_SIZE) -> None:
        self._store = store
        self._history: deque[_Change] = deque(maxlen=history_size)
        self._floor = int(store.resource_version)
        self._subs: set[Subscription] = set()

    def attach(self) -> None:
        """Start listening to the store."""
        self._floor = int(self._store.resource_version)
        self._store.listeners.append(self.on_change)

    def detach(self) -> None:
        """Stop listening and end every open watch."""
        with contextlib.suppress(ValueError):
            self._store.listeners.remove(self.on_change)
        for sub in list(self._subs):
            sub.queue.put_nowait(None)

    @property
    def open_watches(self) -> int:
        return len(self._subs)

    def on_change(self, kind: str, plural: str, obj: Obj) -> None:
        """Store listener: remember the change and hand it to matching watches."""
        rv = int(obj["metadata"]["resourceVersion"])
        if len(self._history) == self._history.maxlen:
            self._floor = self._history[0].rv
        self._history.append(_Change(rv, kind, plural, obj))
        for sub in self._subs:
            if sub.matches(plural, obj):
                sub.queue.put_nowait((kind, obj))

    def subscribe(self, info: RequestInfo, query: Mapping[str, str]) -> Subscription:
        """Open a watch; its queue starts with the initial or replayed events."""
        sub = Subscription(info.plural, info.namespace, parse_label_selector(query.get("labelSelector")),
                           parse_field_selector(query.get("fieldSelector")))
        rv = query.get("resourceVersion")
        if rv in (None, "", "0"):
            for obj in self._store.list(info.plural, info.namespace, copy_out=False):
                if sub.matches(info.plural, obj):
                    sub.queue.put_nowait(("ADDED", obj))
        else:
            self._replay(sub, _parse_rv(rv))
        self._subs.add(sub)
        return sub

    def _replay(self, sub: Subscription, since: int) -> None:
        if since < self._floor:
            raise Expired(f"too old resource version: {since} ({self._floor})")
        for change in self._history:
            if change.rv > since and sub.matches(change.plural, change.obj):
                sub.queue.put_nowait((change.kind, change.obj))

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)


def _parse_rv(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        return -1


def _encoder(req: web.Request, info: RequestInfo) -> Callable[[str, Obj], bytes]:
    include = req.query.get("includeObject") or "Object"
    if wants_table(req.headers.get("Accept")):
        return lambda kind, obj: dumps(
            {"type": kind, "object": table(info.plural, [obj], obj["metadata"]["resourceVersion"], include)}
        ) + b"\n"
    return lambda kind, obj: dumps({"type": kind, "object": obj}) + b"\n"


def _timeout(req: web.Request) -> float | None:
    raw = req.query.get("timeoutSeconds")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


async def watch(req: web.Request, info: RequestInfo) -> web.StreamResponse:
    """Stream newline-delimited watch events until ``timeoutSeconds``, disconnect or shutdown."""
    hub = state(req).hub
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    try:
        sub = hub.subscribe(info, req.query)
    except Expired as exc:
        await resp.prepare(req)
        await resp.write(dumps({"type": "ERROR", "object": failure(410, str(exc), "Expired")}) + b"\n")
        return resp
    encode = _encoder(req, info)
    resp.enable_chunked_encoding()
    await resp.prepare(req)
    try:
        async with asyncio.timeout(_timeout(req)):
            while (event := await sub.queue.get()) is not None:
                await resp.write(encode(*event))
    except (TimeoutError, ConnectionResetError):
        pass
    finally:
        hub.unsubscribe(sub)
    return resp
