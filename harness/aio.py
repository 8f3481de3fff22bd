"""Small asyncio helpers.

``wait_timeout`` replaces ``asyncio.wait_for`` where a task must stay cancellable: on Python 3.11,
``wait_for`` can swallow a cancellation that arrives as the awaited thing finishes, so a loop built on it
may never stop (seen in the sandbox controller and in a run's zone-drain hold). ``cancel_all`` cancels
tasks until they end; ``TrackingExecutor`` knows which blocking calls are still running, so a run can wait
for them before it reverts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

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


async def cancel_all(tasks: list[asyncio.Task[None]], timeout: float = 10.0) -> None:
    """Cancel background tasks and wait for them, re-cancelling any that swallowed a cancellation."""
    deadline = time.monotonic() + timeout
    while any(not t.done() for t in tasks) and time.monotonic() < deadline:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=0.5)


class TrackingExecutor(ThreadPoolExecutor):
    """The run's default executor: knows which blocking calls are still running, so the cleanup can
    wait for an in-flight API call (a pod delete, a scale) before reverting what it changes."""

    def __init__(self) -> None:
        super().__init__(max_workers=32, thread_name_prefix="harness")
        self.pending: set[Future[Any]] = set()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        self.pending.add(future)
        future.add_done_callback(self.pending.discard)
        return future

    async def settle(self, timeout: float) -> list[Future[Any]]:
        """Wait up to ``timeout`` s for every running call; returns those still running."""
        running = [f for f in list(self.pending) if not f.done()]
        if running:
            await asyncio.wait([asyncio.wrap_future(f) for f in running], timeout=timeout)
        return [f for f in running if not f.done()]
