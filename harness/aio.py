"""Small asyncio helpers.

``wait_timeout`` replaces ``asyncio.wait_for`` where a task must stay cancellable: on Python 3.11,
``wait_for`` can swallow a cancellation that arrives as the awaited thing finishes, so a loop built on it
may never stop (seen in the sandbox controller and in a run's zone-drain hold).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_timeout(aw: Awaitable[T], timeout: float) -> T:
    """Await ``aw`` for at most ``timeout`` seconds (TimeoutError after that, ``aw`` cancelled).

    A cancellation of the caller always propagates, and cancels ``aw`` too.
    """
    task = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait({task}, timeout=max(0.0, timeout))
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
        raise TimeoutError
    return task.result()
