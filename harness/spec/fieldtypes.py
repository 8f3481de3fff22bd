"""Value types of the experiment spec: durations, ratios, objectives, thresholds, think time.

Every duration is float SECONDS ("800ms" -> 0.8, "2m" -> 120, "1m30s" -> 90); every ratio is a float
0..1 ("99%" -> 0.99). The ``Annotated`` aliases below plug the parsers into pydantic models and give
the JSON Schema a readable shape for editors.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$|^\s*\d+(\.\d+)?\s*$"

ObjectiveUnit = Literal["ratio", "duration", "number"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
}
_OBJECTIVE_RE = re.compile(r"^\s*(>=|<=|==|>|<)\s*(.+?)\s*$")


def _number(value: Any) -> float | None:
    """A real number from an int/float/numeric string, else None (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER_RE.match(value.strip()):
        return float(value.strip())
    return None


def parse_duration(text: str | float | int) -> float:
    """Parse ``"800ms"``, ``"2m"``, ``"1m30s"``, ``"1.5h"`` or a plain number of seconds into seconds.

    Raises ValueError for anything else, including negative durations.
    """
    number = _number(text)
    if number is None and isinstance(text, str):
        compact = text.strip().lower()
        matched = "".join(m.group(0) for m in _PART_RE.finditer(compact)).replace(" ", "")
        if compact and matched == compact.replace(" ", ""):
            number = sum(float(v) * _UNITS[u] for v, u in _PART_RE.findall(compact))
        elif compact.startswith("-"):
            raise ValueError(f"a duration cannot be negative, got {text!r}")
    if number is None or not math.isfinite(number):
        raise ValueError(f"expected a duration like 800ms, 30s, 2m or 1h, got {text!r}")
    if number < 0:
        raise ValueError(f"a duration cannot be negative, got {text!r}")
    return number


def parse_ratio(value: str | float | int) -> float:
    """Parse ``"99%"`` or ``0.99`` into a ratio 0..1; raises ValueError outside 0..1."""
    if isinstance(value, str) and value.strip().endswith("%"):
        number = _number(value.strip()[:-1])
        ratio = None if number is None else number / 100.0
    else:
        ratio = _number(value)
    if ratio is None:
        raise ValueError(f"expected a ratio like 99% or 0.99, got {value!r}")
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"a ratio must be between 0 and 1 (0%..100%), got {value!r}")
    return ratio


def _parse_amount(text: str) -> tuple[float, ObjectiveUnit]:
    """The right-hand side of an objective: ``99%``, ``800ms`` or a plain number."""
    if text.endswith("%"):
        return parse_ratio(text), "ratio"
    number = _number(text)
    if number is not None:
        return number, "number"
    return parse_duration(text), "duration"


class Objective(BaseModel):
    """A comparison an SLI must satisfy, e.g. ``>= 99%`` or ``<= 800ms``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Literal[">=", ">", "<=", "<", "=="] = Field(description="Comparison operator.")
    value: float = Field(description="Threshold in base units: a ratio 0..1, seconds, or a plain number.")
    text: str = Field(description="The objective as written, e.g. '>= 99%'.")
    unit: ObjectiveUnit = Field(
        default="number", description="What the threshold was written as: ratio (%), duration, number."
    )

    def met(self, measured: float) -> bool:
        """True when ``measured`` satisfies the objective."""
        return _OPS[self.op](measured, self.value)

    def __str__(self) -> str:
        return self.text


def parse_objective(text: str) -> Objective:
    """Parse ``">= 99%"``, ``"<= 800ms"``, ``"> 0.95"`` into an Objective; raises ValueError."""
    if isinstance(text, Objective):
        return text
    if not isinstance(text, str):
        raise ValueError(f"expected an objective like '>= 99%' or '<= 800ms' (quoted), got {text!r}")
    match = _OBJECTIVE_RE.match(text)
    if not match:
        raise ValueError(
            f"expected an operator (>=, >, <=, <, ==) then a value, like '>= 99%' or '<= 800ms', got {text!r}"
        )
    op, amount = match.groups()
    try:
        value, unit = _parse_amount(amount)
    except ValueError as exc:
        raise ValueError(f"cannot read the value of objective {text!r}: {exc}") from None
    return Objective(op=op, value=value, text=text.strip(), unit=unit)


def parse_threshold(value: str | float | int) -> float:
    """A guard threshold: ``0.25``, ``"25%"`` or a duration ``"800ms"``, in base units."""
    number = _number(value)
    if number is not None:
        return number
    if isinstance(value, str):
        return _parse_amount(value.strip())[0]
    raise ValueError(f"expected a number, a percentage or a duration, got {value!r}")


def parse_think_time(value: Any) -> tuple[float, float]:
    """``"0.5s..2s"``, ``[0.5, 2]`` or a single duration into (min, max) seconds."""
    if isinstance(value, list | tuple):
        parts = list(value)
    elif isinstance(value, str) and ".." in value:
        parts = value.split("..")
    else:
        parts = [value, value]
    if len(parts) != 2:
        raise ValueError(f"expected 'MIN..MAX' like '0.5s..2s', got {value!r}")
    low, high = (parse_duration(p.strip() if isinstance(p, str) else p) for p in parts)
    if low > high:
        raise ValueError(f"think time minimum {low}s is above its maximum {high}s")
    return (low, high)


def _objective_json() -> dict[str, Any]:
    return {"type": "string", "pattern": r"^\s*(>=|<=|==|>|<)\s*\S+", "examples": [">= 99%", "<= 800ms"]}


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": DURATION_PATTERN}]}),
]
"""Seconds; written as ``800ms``, ``30s``, ``2m``, ``1h`` or a plain number of seconds."""

Ratio = Annotated[
    float,
    BeforeValidator(parse_ratio),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "string", "pattern": r"%$"}]}),
]
"""A fraction 0..1; written as ``0.99`` or ``99%``."""

ObjectiveField = Annotated[
    Objective,
    BeforeValidator(parse_objective),
    PlainSerializer(lambda o: o.text, return_type=str),
    WithJsonSchema(_objective_json()),
]
"""An Objective written as a string like ``'>= 99%'``."""

Threshold = Annotated[
    float,
    BeforeValidator(parse_threshold),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}]}),
]
"""A guard threshold in base units: number, percentage or duration."""

ThinkTime = Annotated[
    tuple[float, float],
    BeforeValidator(parse_think_time),
    WithJsonSchema({"anyOf": [{"type": "string", "examples": ["0.5s..2s"]}, {"type": "array"}]}),
]
"""(min, max) seconds a simulated shopper waits between actions."""
