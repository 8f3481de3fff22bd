"""Kinds by name, one registry per family: ``FAULTS`` and ``PROBES``.

A kind is declared once, where it is implemented: a class with ``kind = "pod-kill"`` and
``Params = PodKillParams`` (the pydantic model of its parameters), registered with the class decorator
``@FAULTS.register`` (``@PROBES.register``). The spec validates a kind's parameters with that entry's
``Params``; plan, run and rollback build that entry itself. One entry for both, so a kind cannot
validate without existing. A name registered twice is an error (``DuplicateKind``); a misspelt one gets
a did-you-mean (``suggest``).

How the spec knows every kind without importing faults or probes: each registry names its plugin
packages (``harness.faults``, ``probes``). On its first lookup (``get``, ``kinds``, ``in``, iteration)
it imports every module of those packages (``importlib`` + ``pkgutil``; modules only, not
sub-packages such as ``probes.journeys``), and each module registers its kinds as it is imported. The
dependency is real but taken at run time: nothing in ``harness.spec`` imports ``harness.faults`` or
``probes`` statically, so those may import the spec and never the other way round, and a new module
in a plugin package is found without being listed anywhere.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Iterator
from typing import ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

from harness.spec.params import FaultParams, ProbeParams


class DuplicateKind(ValueError):
    """A kind was registered twice."""


class UnknownKind(KeyError):
    """No kind of that name is registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Declared(Protocol):
    """What a registered class declares: its kind name (and a ``Params`` model, checked when it
    registers: a protocol cannot say "a subclass of P" for a class attribute that kinds narrow)."""

    kind: ClassVar[str]


P = TypeVar("P", bound=BaseModel)
C = TypeVar("C", bound=type[Declared])


class Registry(Generic[P]):
    """Maps a kind name (``pod-kill``, ``http`` ...) to the class declaring it, whose ``Params`` is a
    ``P`` model; the classes are found in ``plugins``."""

    def __init__(self, what: str, params_base: type[P], plugins: tuple[str, ...] = ()) -> None:
        self.what = what
        self.params_base = params_base
        self.plugins = plugins
        self._kinds: dict[str, type[Declared]] = {}
        self._params: dict[str, type[P]] = {}
        self._discovered = not plugins

    def register(self, cls: C) -> C:
        """Register ``cls`` under ``cls.kind`` (a class decorator). Raises DuplicateKind when another
        class has that name, TypeError when ``cls.Params`` is not a model of this family."""
        kind, params = getattr(cls, "kind", None), getattr(cls, "Params", None)
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"{cls.__name__} declares no `kind` name")
        if not (isinstance(params, type) and issubclass(params, self.params_base)):
            raise TypeError(f"{self.what} kind {kind!r}: `Params` must be a {self.params_base.__name__} model")
        existing = self._kinds.get(kind)
        if existing is not None and existing is not cls:
            raise DuplicateKind(f"{self.what} kind {kind!r} is already registered ({existing.__qualname__})")
        self._kinds[kind], self._params[kind] = cls, params
        return cls

    def unregister(self, kind: str) -> None:
        """Forget ``kind`` (for tests that register a kind of their own)."""
        self._kinds.pop(kind, None)
        self._params.pop(kind, None)

    def _discover(self) -> None:
        """Import every module of the plugin packages once, so each registers its kinds."""
        if self._discovered:
            return
        self._discovered = True  # before importing: a module may look a kind up while it loads
        try:
            for name in self.plugins:
                package = importlib.import_module(name)
                for module in pkgutil.iter_modules(package.__path__, f"{name}."):
                    if not module.ispkg:
                        importlib.import_module(module.name)
        except BaseException:
            self._discovered = False
            raise

    def get(self, kind: str) -> type[Declared] | None:
        """The class declaring ``kind``, or None when unknown."""
        self._discover()
        return self._kinds.get(kind)

    def params(self, kind: str) -> type[P] | None:
        """The parameters model of ``kind`` (the same entry's ``Params``), or None when unknown."""
        self._discover()
        return self._params.get(kind)

    def __getitem__(self, kind: str) -> type[Declared]:
        """The class declaring ``kind``; UnknownKind (a KeyError) with a did-you-mean otherwise."""
        found = self.get(kind)
        if found is None:
            close = self.suggest(kind)
            hint = f" (did you mean `{close}`?)" if close else ""
            raise UnknownKind(f"unknown {self.what} kind {kind!r}{hint}; kinds: {', '.join(self.kinds())}")
        return found

    def kinds(self) -> list[str]:
        """Every registered kind, sorted."""
        self._discover()
        return sorted(self._kinds)

    def suggest(self, kind: str) -> str | None:
        """The closest registered kind to a misspelt one, or None."""
        close = difflib.get_close_matches(kind, self.kinds(), n=1, cutoff=0.6)
        return close[0] if close else None

    def __contains__(self, kind: object) -> bool:
        self._discover()
        return kind in self._kinds

    def __iter__(self) -> Iterator[str]:
        return iter(self.kinds())

    def __len__(self) -> int:
        return len(self.kinds())


FAULTS: Registry[FaultParams] = Registry("fault", FaultParams, plugins=("harness.faults",))
"""Every fault kind: its parameters (validated by the spec) and its implementation (``harness.faults``)."""

PROBES: Registry[ProbeParams] = Registry("probe", ProbeParams, plugins=("probes",))
"""Every probe kind: its parameters (validated by the spec) and its implementation (``probes``)."""
