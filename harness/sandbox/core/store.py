"""The sandbox's object store: Kubernetes objects as plain JSON dicts, with resourceVersions and watches.

Everything runs on one asyncio loop, so every method here is synchronous and atomic. The API server
(`kubeapi`), the controller, the kubelet, the ingress and the Compute API all read and write through
one `Store`. Objects handed out are deep copies; mutate through `mutate()` or `replace()`.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TypeVar, cast

from harness.selectors import parse_field_selector, parse_label_selector

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """One served resource type."""

    plural: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in [
        Resource("namespaces", "Namespace", "", "v1", False, ("ns",)),
        Resource("nodes", "Node", "", "v1", False, ("no",)),
        Resource("pods", "Pod", "", "v1", True, ("po",)),
        Resource("events", "Event", "", "v1", True, ("ev",)),
        Resource("services", "Service", "", "v1", True, ("svc",)),
        Resource("endpoints", "Endpoints", "", "v1", True, ("ep",)),
        Resource("deployments", "Deployment", "apps", "v1", True, ("deploy",)),
        Resource("replicasets", "ReplicaSet", "apps", "v1", True, ("rs",)),
        Resource("daemonsets", "DaemonSet", "apps", "v1", True, ("ds",)),
        Resource("statefulsets", "StatefulSet", "apps", "v1", True, ("sts",)),
        Resource("poddisruptionbudgets", "PodDisruptionBudget", "policy", "v1", True, ("pdb",)),
        Resource("leases", "Lease", "coordination.k8s.io", "v1", True),
        # what deploy/ holds (stored as given: no controller acts on them)
        Resource("serviceaccounts", "ServiceAccount", "", "v1", True, ("sa",)),
        Resource("configmaps", "ConfigMap", "", "v1", True, ("cm",)),
        Resource("secrets", "Secret", "", "v1", True),
        Resource("cronjobs", "CronJob", "batch", "v1", True, ("cj",)),
        Resource("jobs", "Job", "batch", "v1", True),
        Resource("roles", "Role", "rbac.authorization.k8s.io", "v1", True),
        Resource("rolebindings", "RoleBinding", "rbac.authorization.k8s.io", "v1", True),
        Resource("clusterroles", "ClusterRole", "rbac.authorization.k8s.io", "v1", False),
        Resource("clusterrolebindings", "ClusterRoleBinding", "rbac.authorization.k8s.io", "v1", False),
    ]
}


T = TypeVar("T")


def clone(obj: T) -> T:
    """A deep copy of a JSON-shaped value (dicts, lists, scalars), several times faster than
    ``copy.deepcopy`` (no memo: stored objects hold no cycles); anything else goes through deepcopy."""
    return cast(T, _clone(obj))


def _clone(obj: Any) -> Any:
    kind = type(obj)
    if kind is dict:
        return {k: _clone(v) for k, v in obj.items()}
    if kind is list:
        return [_clone(v) for v in obj]
    if kind in (str, int, float, bool) or obj is None:
        return obj
    return copy.deepcopy(obj)


class StoreError(Exception):
    """Base for store errors; ``code`` and ``reason`` map onto a Kubernetes Status."""

    code = 500
    reason = "InternalError"


class NotFound(StoreError):
    code = 404
    reason = "NotFound"


class AlreadyExists(StoreError):
    code = 409
    reason = "AlreadyExists"


class Conflict(StoreError):
    code = 409
    reason = "Conflict"


def now_iso() -> str:
    """RFC 3339 UTC timestamp, second precision, as Kubernetes writes them."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Key = tuple[str, str, str]  # (plural, namespace or "", name)


class Store:
    """In-memory Kubernetes objects. ``listeners`` are called synchronously on every change."""

    def __init__(self) -> None:
        self._objects: dict[Key, Obj] = {}
        self._kinds: dict[str, dict[Key, Obj]] = {}
        """The same objects by plural: a list reads one kind, not every object of the store."""
        self._rv = 1000
        self._watchers: list[tuple[str, asyncio.Queue[tuple[str, Obj]]]] = []
        self.listeners: list[Callable[[str, str, Obj], None]] = []  # (event type, plural, obj)
        self.changed = asyncio.Event()

    # -- helpers -------------------------------------------------------------------------------------
    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def _key(self, plural: str, namespace: str | None, name: str) -> Key:
        res = RESOURCES[plural]
        return (plural, (namespace or "") if res.namespaced else "", name)

    def _bump(self, obj: Obj) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    def _notify(self, kind: str, plural: str, obj: Obj) -> None:
        for p, q in self._watchers:
            if p == plural:
                q.put_nowait((kind, clone(obj)))
        for fn in list(self.listeners):
            fn(kind, plural, obj)
        self.changed.set()

    # -- CRUD ----------------------------------------------------------------------------------------
    def create(self, plural: str, obj: Obj, namespace: str | None = None) -> Obj:
        """Store a new object; fills uid, resourceVersion, creationTimestamp, apiVersion, kind and a
        generated name when ``metadata.generateName`` is set."""
        res = RESOURCES[plural]
        obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise StoreError("metadata.name or metadata.generateName is required")
        key = self._key(plural, meta.get("namespace"), meta["name"])
        if key in self._objects:
            raise AlreadyExists(f'{plural} "{meta["name"]}" already exists')
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_iso())
        meta.setdefault("labels", {})
        meta["generation"] = 1
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        self._bump(obj)
        self._objects[key] = self._kinds.setdefault(plural, {})[key] = obj
        self._notify("ADDED", plural, obj)
        return clone(obj)

    def get(self, plural: str, namespace: str | None, name: str) -> Obj:
        return clone(self._get(plural, namespace, name))

    def _get(self, plural: str, namespace: str | None, name: str) -> Obj:
        try:
            return self._objects[self._key(plural, namespace, name)]
        except KeyError:
            raise NotFound(f'{plural} "{name}" not found') from None

    def exists(self, plural: str, namespace: str | None, name: str) -> bool:
        return self._key(plural, namespace, name) in self._objects

    def list(
        self,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        copy_out: bool = True,
    ) -> list[Obj]:
        """Objects of one type, optionally in one namespace and matching selectors, sorted by
        namespace/name. ``copy_out=False`` returns the live objects: read them, never mutate."""
        lab = parse_label_selector(label_selector)
        fld = parse_field_selector(field_selector)
        out = []
        for (_p, ns, _name), obj in sorted(self._kinds.get(plural, {}).items(), key=itemgetter(0)):
            if namespace and ns != namespace:
                continue
            if lab(obj["metadata"].get("labels") or {}) and fld(obj):
                out.append(clone(obj) if copy_out else obj)
        return out

    def replace(self, plural: str, obj: Obj, check_version: bool = False, *, owned: bool = False) -> Obj:
        """Replace an object whole (PUT). Keeps uid and creationTimestamp. ``owned``: ``obj`` is a private
        copy nobody else holds (mutate's), stored without copying it again."""
        meta = obj["metadata"]
        current = self._get(plural, meta.get("namespace"), meta["name"])
        if check_version and meta.get("resourceVersion") not in (None, current["metadata"]["resourceVersion"]):
            raise Conflict(
                f'Operation cannot be fulfilled on {plural} "{meta["name"]}": the object has been modified'
            )
        new = obj if owned else clone(obj)
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "namespace"):
            if k in current["metadata"]:
                new["metadata"][k] = current["metadata"][k]
        new["apiVersion"], new["kind"] = current["apiVersion"], current["kind"]
        if new.get("spec") != current.get("spec"):
            new["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        else:
            new["metadata"]["generation"] = current["metadata"].get("generation", 1)
        self._bump(new)
        key = self._key(plural, meta.get("namespace"), meta["name"])
        self._objects[key] = self._kinds.setdefault(plural, {})[key] = new
        self._notify("MODIFIED", plural, new)
        return clone(new)

    def mutate(self, plural: str, namespace: str | None, name: str, fn: Callable[[Obj], None]) -> Obj:
        """Apply ``fn`` to a copy of the object and store the result (a read-modify-write)."""
        obj = self.get(plural, namespace, name)
        fn(obj)
        return self.replace(plural, obj, owned=True)

    def delete(self, plural: str, namespace: str | None, name: str) -> Obj:
        """Remove an object now (pods normally go through deletionTimestamp and the kubelet)."""
        key = self._key(plural, namespace, name)
        obj = self._objects.pop(key, None)
        self._kinds.get(plural, {}).pop(key, None)
        if obj is None:
            raise NotFound(f'{plural} "{name}" not found')
        self._bump(obj)
        self._notify("DELETED", plural, obj)
        return clone(obj)

    # -- watch ---------------------------------------------------------------------------------------
    async def watch(
        self,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        send_initial: bool = False,
    ) -> AsyncIterator[tuple[str, Obj]]:
        """Yield (type, object) for every later change matching the filters."""
        lab = parse_label_selector(label_selector)
        fld = parse_field_selector(field_selector)
        q: asyncio.Queue[tuple[str, Obj]] = asyncio.Queue()
        entry = (plural, q)
        self._watchers.append(entry)
        try:
            if send_initial:
                for obj in self.list(plural, namespace, label_selector, field_selector):
                    yield "ADDED", obj
            while True:
                kind, obj = await q.get()
                meta = obj["metadata"]
                if namespace and meta.get("namespace") != namespace:
                    continue
                if lab(meta.get("labels") or {}) and fld(obj):
                    yield kind, obj
        finally:
            self._watchers.remove(entry)
