"""Load generation: Locust in its own processes, one record per wall-clock second.

The harness imports :class:`LoadRunner` from here; Locust itself is imported only by
:mod:`harness.load.locustproc`, inside the processes the runner starts (no module of the harness
process may import it, even indirectly: it monkey-patches the standard library). Imports are lazy so
that ``python -m harness.load.locustproc`` loads nothing (threads, subprocess) before gevent patches.
It may import the layers below it (`faults`, `probes`, `clients`, `spec`, `measure`, the shared
utilities; today `measure` for the histograms and `errors`), never `report`, its sibling layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.load.runner import (
        LoadError,
        LoadRunner,
        LoadTimeouts,
        LoadTotals,
        RemoteWorkers,
        WorkersMissing,
    )

__all__ = ["LoadError", "LoadRunner", "LoadTimeouts", "LoadTotals", "RemoteWorkers", "WorkersMissing"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from harness.load import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
