"""SLI fields of the spec. The grammar itself is ``harness.measure.sli`` (one grammar for the spec and
the measurement: ``load.<m>``, ``step.<step>.<m>``, ``probe.<probe>.<m>``, ``recovery_time``); here
are the pydantic field type that parses an SLI once, at load, into the ``Sli`` the models carry, and
the check that an objective's unit fits its SLI: a ratio SLI takes a ``%`` or plain 0..1 objective, a
latency SLI (and recovery_time) a duration, rps a plain number.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import GetPydanticSchema
from pydantic_core import core_schema as cs

from harness.measure.sli import RECOVERY_TIME, SLI_HELP, Kind, Sli, parse_sli
from harness.spec.fieldtypes import Objective

__all__ = ["RECOVERY_TIME", "SLI_HELP", "SliField", "objective_mismatch"]


def _sli_schema(_source: Any, _handler: Any) -> cs.CoreSchema:
    """A string (same errors and JSON Schema as ``str``), parsed into an ``Sli``, dumped as its text."""
    return cs.no_info_after_validator_function(
        parse_sli, cs.str_schema(), serialization=cs.plain_serializer_function_ser_schema(lambda sli: sli.text)
    )


SliField = Annotated[Sli, GetPydanticSchema(_sli_schema)]
"""An SLI written as text in YAML, held parsed (``harness.measure.sli.Sli``) on the model."""


def objective_mismatch(sli: Sli, objective: Objective) -> str | None:
    """Why ``objective`` cannot apply to ``sli`` (a unit mismatch), or None when it fits."""
    if sli.kind is Kind.RATIO:
        if objective.unit == "duration" or not 0.0 <= objective.value <= 1.0:
            return f"{sli.metric} is a ratio: write a percentage like '>= 99%' or a number 0..1"
    elif sli.kind in (Kind.LATENCY, Kind.DURATION):
        if objective.unit != "duration":
            what = RECOVERY_TIME if sli.kind is Kind.DURATION else f"{sli.metric} is a latency and"
            return f"{what} needs a duration like '<= 800ms' or '<= 30s', not {objective.text!r}"
    elif objective.unit != "number":
        return f"rps is requests per second: write a plain number like '>= 50', not {objective.text!r}"
    return None
