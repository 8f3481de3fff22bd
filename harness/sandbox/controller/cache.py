"""An informer-style cache over the store, and a cheap Event recorder.

The cache keeps the *live* objects of a few types keyed by (namespace, name), updated synchronously
by a store listener, so a reconcile pass never sorts or copies the whole store. Read them, never
mutate them: write through ``Store.mutate``.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import uuid
from typing import Any

from ..core.store import NotFound, Obj, Store, StoreError, now_iso

WATCHED = ("nodes", "pods", "deployments", "replicasets", "poddisruptionbudgets")


class Cache:
    """Live objects of the ``WATCHED`` types, plus a wake-up event set on relevant changes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {p: {} for p in WATCHED}
        self.wake = asyncio.Event()
        self.quiet = False  # set around writes that must not wake the controller (heartbeats)
        for plural in WATCHED:
            for obj in store.list(plural, copy_out=False):
                self.objects[plural][self._key(obj)] = obj
        store.listeners.append(self._on_change)

    @staticmethod
    def _key(obj: Obj) -> tuple[str, str]:
        meta = obj["metadata"]
        return meta.get("namespace", ""), meta["name"]

    def _on_change(self, kind: str, plural: str, obj: Obj) -> None:
        bucket = self.objects.get(plural)
        if bucket is None:
            return
        if kind == "DELETED":
            bucket.pop(self._key(obj), None)
        else:
            bucket[self._key(obj)] = obj
        if not self.quiet:
            self.wake.set()

    def close(self) -> None:
        """Stop listening to the store."""
        if self._on_change in self.store.listeners:
            self.store.listeners.remove(self._on_change)

    def all(self, plural: str) -> list[Obj]:
        """A snapshot list of the live objects of one type."""
        return list(self.objects[plural].values())

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        """The live object, or None."""
        return self.objects[plural].get((namespace, name))


class EventRecorder:
    """Writes core/v1 Events, keeping at most ``limit`` of them (oldest are deleted)."""

    def __init__(self, store: Store, limit: int = 2000) -> None:
        self.store = store
        self.limit = limit
        self._recent: collections.deque[tuple[str, str]] = collections.deque()
        self._seq = itertools.count()

    def record(self, obj: Obj, reason: str, message: str, type_: str = "Normal",
               component: str = "default-scheduler", host: str | None = None) -> None:
        """Record one Event about ``obj`` (a Pod or Node dict)."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        name = f"{meta['name']}.{uuid.uuid4().hex[:8]}{next(self._seq):x}"
        ts = now_iso()
        involved: dict[str, Any] = {
            "apiVersion": obj.get("apiVersion", "v1"), "kind": obj.get("kind", "Pod"),
            "name": meta["name"], "uid": meta.get("uid", ""),
        }
        if meta.get("namespace"):
            involved["namespace"] = namespace
        source = {"component": component, **({"host": host} if host else {})}
        event = {
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved, "reason": reason, "message": message, "type": type_,
            "source": source, "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
            "reportingComponent": component, "reportingInstance": host or "",
        }
        try:
            self.store.create("events", event, namespace)
        except StoreError:
            return
        self._recent.append((namespace, name))
        while len(self._recent) > self.limit:
            old_ns, old_name = self._recent.popleft()
            try:
                self.store.delete("events", old_ns, old_name)
            except NotFound:
                pass
