"""A registry of parameter models by kind name (fault kinds, probe kinds).

A kind registers itself once; a duplicate name is an error. Dispatch looks the kind up here instead
of walking an if/elif ladder over strings.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from pydantic import BaseModel


class DuplicateKind(ValueError):
    """A kind was registered twice."""


class KindRegistry:
    """Maps a kind name (``pod-kill``, ``http`` ...) to the pydantic model of its parameters."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._models: dict[str, type[BaseModel]] = {}

    def register(self, kind: str, model: type[BaseModel]) -> type[BaseModel]:
        """Register ``model`` for ``kind``; raises DuplicateKind when the kind is already taken."""
        if kind in self._models:
            raise DuplicateKind(f"{self.what} kind {kind!r} is already registered")
        self._models[kind] = model
        return model

    def get(self, kind: str) -> type[BaseModel] | None:
        """The params model of ``kind``, or None when unknown."""
        return self._models.get(kind)

    def kinds(self) -> list[str]:
        """Every registered kind, sorted."""
        return sorted(self._models)

    def suggest(self, kind: str) -> str | None:
        """The closest registered kind to a misspelt one, or None."""
        close = difflib.get_close_matches(kind, self._models, n=1, cutoff=0.6)
        return close[0] if close else None

    def __contains__(self, kind: object) -> bool:
        return kind in self._models

    def __iter__(self) -> Iterator[str]:
        return iter(self.kinds())

    def __len__(self) -> int:
        return len(self._models)
