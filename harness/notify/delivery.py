"""Sending without ever holding up a run: each message is a task that calls a blocking client in a
daemon thread, retried by the one policy (``harness.retry``) and cut off after ``bound`` seconds.

A receiver that hangs costs the run at most ``bound`` (the thread is left to its socket timeout and,
being a daemon, never delays the process's exit); nothing a sink raises reaches the run: every
outcome becomes a ``notify.sent`` or ``notify.failed`` journal event, with the secrets scrubbed.
The threads are the outbox's own, never the run's executor (whose calls the cleanup waits for).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from harness.events import Event
from harness.retry import retry_transient

T = TypeVar("T")
Recorder = Callable[..., Any]
log = logging.getLogger("harness.notify")


def in_thread(call: Callable[[], T]) -> asyncio.Future[T]:
    """``call()`` in a new daemon thread; its result (or exception) on a future of the running loop.
    A future cancelled meanwhile (the bound passed) is left alone when the thread finally returns."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            future.set_result(value) if ok else future.set_exception(value)

    def work() -> None:
        try:
            outcome: tuple[bool, Any] = (True, call())
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task, never lost
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="harness-notify", daemon=True).start()
    return future


class Outbox:
    """The messages of one run under way; ``flush`` waits for them, never longer than ``bound``."""

    def __init__(self, bound: float, scrub: Callable[[str], str]) -> None:
        self.bound = bound
        self.scrub = scrub
        self.record: Recorder | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, sink: str, message: str, call: Callable[[], Any]) -> None:
        """Start delivering ``message`` to ``sink`` now (``call`` does the blocking send); returns at once."""
        task = asyncio.get_running_loop().create_task(self._deliver(sink, message, call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, sink: str, message: str, call: Callable[[], Any]) -> None:
        started = time.monotonic()
        last: list[str] = []

        def on_retry(what: str, exc: BaseException, attempt: int) -> None:
            last[:] = [str(exc)]
            self._journal(Event.RETRY, what=what, error=self.scrub(str(exc)), attempt=attempt)

        try:
            await asyncio.wait_for(retry_transient(lambda: in_thread(call), deadline=self.bound,
                                                   what=f"notify {sink} {message}", on_retry=on_retry),
                                   timeout=self.bound)
        except TimeoutError:
            why = f" (last: {last[0]})" if last else ""
            self._failed(sink, message, f"not sent within {self.bound:g} s{why}", started)
        except asyncio.CancelledError:
            self._failed(sink, message, "cancelled", started)
            raise
        except Exception as exc:  # noqa: BLE001 - a notification never fails a run
            self._failed(sink, message, f"{type(exc).__name__}: {exc}", started)
        else:
            self._journal(Event.NOTIFY_SENT, sink=sink, message=message, seconds=round(time.monotonic() - started, 3))

    def failed_now(self, sink: str, message: str, error: str) -> None:
        """Journal a message given up before it was sent (it could not be composed or started)."""
        self._failed(sink, message, error, time.monotonic())

    def _failed(self, sink: str, message: str, error: str, started: float) -> None:
        log.info("notification %s to %s failed: %s", message, sink, self.scrub(error))
        self._journal(Event.NOTIFY_FAILED, sink=sink, message=message, error=self.scrub(error),
                      seconds=round(time.monotonic() - started, 3))

    def _journal(self, event: Event, **fields: Any) -> None:
        if self.record is not None:
            with contextlib.suppress(Exception):  # a closed journal must not turn into a run failure
                self.record(event, **fields)

    async def flush(self) -> None:
        """Wait for every message under way; each is bounded, and whatever is left after ``bound``
        (plus a second of slack) is cancelled and journaled as failed."""
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=self.bound + 1.0)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
