"""The one retry policy: transient errors only, exponential backoff with jitter, a hard deadline."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from .errors import TransientClientError, TransientFaultError

T = TypeVar("T")
log = logging.getLogger("harness.retry")

TRANSIENT = (TransientClientError, TransientFaultError)


async def retry_transient(
    fn: Callable[[], Awaitable[T]],
    *,
    deadline: float = 30.0,
    what: str = "",
    on_retry: Callable[[str, BaseException, int], None] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, retrying transient errors until ``deadline`` seconds have passed.

    Permanent errors propagate at once; the last transient error propagates after the deadline.
    ``on_retry(what, error, attempt)`` is told about every retry (the run journals them).
    The environment variable ``HARNESS_RETRY_DEADLINE`` (seconds) caps every deadline, for operators
    who would rather hear about a stuck API sooner.
    """
    cap = os.environ.get("HARNESS_RETRY_DEADLINE")
    if cap:
        deadline = min(deadline, float(cap))

    def _before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None:
            log.info("retrying %s after %r (attempt %d)", what, exc, state.attempt_number)
            if on_retry:
                on_retry(what, exc, state.attempt_number)

    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(TRANSIENT),
        stop=stop_after_delay(deadline),
        wait=wait_exponential_jitter(initial=0.2, max=3.0),
        before_sleep=_before_sleep,
        reraise=True,
    ):
        with attempt:
            return await fn()
    raise AssertionError("unreachable")
