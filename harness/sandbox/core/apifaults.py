"""Injected API faults, shared by the sandbox's Kubernetes and Compute Engine APIs (for testing retries).

``PUT /sandbox/api-faults`` stores a spec in ``ctx.api_faults``::

    {"rate": 0.2, "codes": [429, 500, 503], "delay_ms": 0, "seed": 1}

While it is set, ``maybe_fault(ctx)`` answers a status code for that share of requests (or ``None``),
drawn from a seeded random generator so a test run is reproducible, and ``delay(ctx)`` sleeps
``delay_ms`` before every request is handled.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

_RNG_KEY = "_rng"

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


def _codes(raw: Any) -> list[int]:
    codes = raw if raw is not None else [500]
    if not isinstance(codes, list) or not codes or not all(isinstance(c, int) for c in codes):
        raise ApiFaultSpecError("codes must be a non-empty list of integers")
    if not all(400 <= c <= 599 for c in codes):
        raise ApiFaultSpecError("codes must be HTTP error codes (400-599)")
    return codes


def configure(ctx: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Validate ``spec`` and store it in ``ctx.api_faults``; returns the public view of it."""
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
    ctx.api_faults.clear()
    ctx.api_faults.update(
        {"rate": float(rate), "codes": _codes(spec.get("codes")), "delay_ms": float(delay_ms), "seed": seed}
    )
    ctx.api_faults[_RNG_KEY] = random.Random(seed)
    return public_view(ctx)


def clear(ctx: Any) -> None:
    """Stop injecting faults."""
    ctx.api_faults.clear()


def public_view(ctx: Any) -> dict[str, Any]:
    """The spec as stored, without internal state."""
    return {k: v for k, v in ctx.api_faults.items() if not k.startswith("_")}


def maybe_fault(ctx: Any) -> int | None:
    """The status code to answer instead of handling this request, or ``None`` to handle it."""
    faults = ctx.api_faults
    if not faults or faults.get("rate", 0.0) <= 0.0:
        return None
    rng = faults.get(_RNG_KEY)
    if rng is None:
        rng = faults[_RNG_KEY] = random.Random(faults.get("seed"))
    if rng.random() >= faults["rate"]:
        return None
    return int(rng.choice(faults.get("codes") or [500]))


async def delay(ctx: Any) -> None:
    """Sleep the configured ``delay_ms`` (nothing when unset)."""
    ms = float(ctx.api_faults.get("delay_ms", 0.0) or 0.0) if ctx.api_faults else 0.0
    if ms > 0:
        await asyncio.sleep(ms / 1000.0)


def headers_for(code: int) -> dict[str, str]:
    """Extra response headers for an injected fault (429 and 503 carry ``Retry-After``)."""
    return {"Retry-After": "1"} if code in (429, 503) else {}
