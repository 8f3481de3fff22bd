"""Injected API faults, shared by the sandbox's Kubernetes and Compute Engine APIs (for testing retries).

``PUT /sandbox/api-faults`` stores a spec, parsed into an `ApiFaults`, in ``ctx.api_faults``::

    {"rate": 0.2, "codes": [429, 500, 503], "delay_ms": 0, "seed": 1}

While it is set, ``maybe_fault(ctx)`` answers a status code for that share of requests (or ``None``),
drawn from a seeded random generator so a test run is reproducible, and ``delay(ctx)`` sleeps
``delay_ms`` before every request is handled.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Context

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiFaultSpecError(ValueError):
    """The api-faults spec is malformed."""


@dataclass
class ApiFaults:
    """A validated api-faults spec, and the seeded generator its decisions are drawn from."""

    rate: float = 0.0
    codes: tuple[int, ...] = (500,)
    delay_ms: float = 0.0
    seed: int | None = None
    rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def public(self) -> dict[str, Any]:
        """The spec as the API answers it."""
        return {"rate": self.rate, "codes": list(self.codes), "delay_ms": self.delay_ms, "seed": self.seed}


def _codes(raw: object) -> tuple[int, ...]:
    codes = raw if raw is not None else [500]
    if not isinstance(codes, list) or not codes or not all(isinstance(c, int) for c in codes):
        raise ApiFaultSpecError("codes must be a non-empty list of integers")
    if not all(400 <= c <= 599 for c in codes):
        raise ApiFaultSpecError("codes must be HTTP error codes (400-599)")
    return tuple(codes)


def parse(spec: object) -> ApiFaults:
    """``spec`` (a JSON body) as `ApiFaults`; `ApiFaultSpecError` when malformed."""
    if not isinstance(spec, dict):
        raise ApiFaultSpecError("body must be a JSON object")
    rate = spec.get("rate", 0.0)
    delay_ms = spec.get("delay_ms", 0)
    seed = spec.get("seed")
    if not isinstance(rate, int | float) or not 0.0 <= float(rate) <= 1.0:
        raise ApiFaultSpecError("rate must be a number between 0 and 1")
    if not isinstance(delay_ms, int | float) or delay_ms < 0:
        raise ApiFaultSpecError("delay_ms must be a non-negative number")
    if seed is not None and not isinstance(seed, int):
        raise ApiFaultSpecError("seed must be an integer")
    return ApiFaults(rate=float(rate), codes=_codes(spec.get("codes")), delay_ms=float(delay_ms), seed=seed)


def configure(ctx: Context, spec: object) -> dict[str, Any]:
    """Validate ``spec`` and store it in ``ctx.api_faults``; returns the public view of it."""
    ctx.api_faults = parse(spec)
    return public_view(ctx)


def clear(ctx: Context) -> None:
    """Stop injecting faults."""
    ctx.api_faults = None


def public_view(ctx: Context) -> dict[str, Any]:
    """The spec as stored (``{}`` when none is)."""
    return ctx.api_faults.public() if ctx.api_faults else {}


def maybe_fault(ctx: Context) -> int | None:
    """The status code to answer instead of handling this request, or ``None`` to handle it."""
    faults = ctx.api_faults
    if faults is None or faults.rate <= 0.0 or faults.rng.random() >= faults.rate:
        return None
    return faults.rng.choice(faults.codes)


async def delay(ctx: Context) -> None:
    """Sleep the configured ``delay_ms`` (nothing when unset)."""
    if ctx.api_faults and ctx.api_faults.delay_ms > 0:
        await asyncio.sleep(ctx.api_faults.delay_ms / 1000.0)


def headers_for(code: int) -> dict[str, str]:
    """Extra response headers for an injected fault (429 and 503 carry ``Retry-After``)."""
    return {"Retry-After": "1"} if code in (429, 503) else {}
