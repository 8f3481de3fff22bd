"""``prometheus`` probe: an instant PromQL query through ``/api/v1/query``, its value held to an objective.

    probes:
      - name: checkout-up
        every: 2s
        prometheus: {query: 'sum(up{service="checkout"})', objective: ">= 2"}

Semantics of one observation:

- ``ok`` when the query returns at least one sample and *every* returned series meets ``objective``
  (without an objective, any sample passes). Aggregate in PromQL (``sum``, ``min``, ``max``) to judge
  one number; the detail of a failure names the worst series, its value and the objective.
- **No series** is a failed observation ("no series"), never a pass: write ``(…) or vector(0)`` when
  an empty result means zero. ``NaN`` (e.g. ``0/0`` in a ratio) meets no objective.
- A range vector, a string, a native-histogram sample, a query Prometheus refuses (HTTP 400 with its
  error text), a non-JSON answer or an unreachable Prometheus are failed observations with a detail.
- ``latency_ms`` is the query's round trip, so a probe's ``p95`` is Prometheus's latency, not the site's;
  a query that outlives the probe's ``timeout`` (also sent to Prometheus) fails, with latency at the timeout.

**PromQL SLIs.** Like every probe, each observation lands in the timeline as one ok/fail sample, so
``probe.<name>.success_ratio`` / ``error_ratio`` over a prometheus probe is a PromQL SLI: e.g. an
objective ``'< 0.05'`` on a 5xx-rate query and an SLO ``probe.<name>.success_ratio >= 95%`` in
``window: fault``. The Prometheus URL is the probe's ``url``, else the target's ``prometheus_url``
(``ProbeEnv.extra["prometheus_url"]``, set by ``probes.env.probe_env``).

A successful observation's detail names the objective and the series count but not the value, so the
journal (one event per change of detail) does not grow by one event per observation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import Field, field_validator, model_validator

from harness.spec.access import Access, Endpoint
from harness.spec.fieldtypes import Objective, ObjectiveField
from harness.spec.params import ProbeParams
from harness.spec.registry import PROBES

from .base import Observation, Probe


class PrometheusProbeParams(ProbeParams):
    """An instant PromQL query whose value must meet an objective (see ``probes.prometheus``).

    Every series the query returns must meet ``objective``; no series, a range vector, a string or a
    query Prometheus refuses is a failed observation. Aggregate in PromQL (``sum``, ``min``, ``max``)
    to judge one number.
    """

    query: str = Field(min_length=1, description="PromQL instant query, e.g. 'sum(up{service=\"checkout\"})'.")
    objective: ObjectiveField | None = Field(
        default=None,
        description="What every returned value must satisfy, e.g. '>= 1', '< 0.05', '<= 800ms' (read as "
        "0.8, Prometheus's seconds) or '>= 99%' (0.99); default: any returned sample passes.",
    )
    url: str | None = Field(
        default=None, description="Prometheus base URL (before /api/v1/query); default the target's prometheus_url."
    )

    @model_validator(mode="before")
    @classmethod
    def _threshold_keys(cls, value: Any) -> Any:
        bounds = {"min": ">=", "max": "<=", "above": ">", "below": "<"}
        used = [k for k in bounds if isinstance(value, dict) and k in value]
        if used:
            hint = " or ".join(f"objective: '{bounds[k]} {value[k]}'" for k in used)
            raise ValueError(f"`{'`, `'.join(used)}` is not a prometheus probe key: write {hint}")
        return value

    @field_validator("query")
    @classmethod
    def _query_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the PromQL query is empty")
        return value

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an absolute http(s) URL of Prometheus, e.g. http://prometheus:9090")
        return value


MAX_DETAIL = 300


@dataclass(frozen=True)
class Sample:
    """One value of a query's result: the series it belongs to (``''`` for a scalar) and the value."""

    series: str
    value: float


class QueryFailed(Exception):
    """Prometheus answered, but not with numbers this probe can judge."""


def _number(text: Any) -> float:
    try:
        return float(text)  # Prometheus writes "NaN", "+Inf", "-Inf" as strings too
    except (TypeError, ValueError):
        raise QueryFailed(f"unreadable sample value {text!r}") from None


def fmt(value: float) -> str:
    """A sample value as Prometheus writes it: 6 significant digits, NaN, +Inf, -Inf."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6g}"


def series_name(metric: dict[str, str]) -> str:
    """``name{label="value",…}`` of a result's metric labels (``{}`` for an aggregate without labels)."""
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{metric.get('__name__', '')}{{{labels}}}"


def samples(data: dict[str, Any]) -> list[Sample]:
    """The samples of a ``/api/v1/query`` result's ``data``; raises QueryFailed for non-numeric results."""
    kind, result = data.get("resultType"), data.get("result") or []
    if kind == "scalar":
        return [Sample("", _number(result[1]))]
    if kind == "vector":
        out = []
        for item in result:
            if "value" not in item:
                raise QueryFailed(f"{series_name(item.get('metric') or {})} is a native histogram: "
                                  "query histogram_quantile(), histogram_count() or histogram_sum() of it")
            out.append(Sample(series_name(item.get("metric") or {}), _number(item["value"][1])))
        return out
    if kind == "matrix":
        raise QueryFailed("the query returns a range vector (…[5m]): wrap it in rate(), "
                          "max_over_time() or similar for one value per series")
    raise QueryFailed(f"the query returns a {kind}, not a number")


def _worst(failing: list[Sample], objective: Objective) -> Sample:
    """The failing sample farthest from the objective (NaN only when nothing else fails)."""
    numbers = [s for s in failing if not math.isnan(s.value)]
    if not numbers:
        return failing[0]
    if objective.op in (">=", ">"):
        return min(numbers, key=lambda s: s.value)
    if objective.op in ("<=", "<"):
        return max(numbers, key=lambda s: s.value)
    return max(numbers, key=lambda s: abs(s.value - objective.value))


def _short(series: str, limit: int = 160) -> str:
    return series if len(series) <= limit else series[: limit - 1] + "…"


def judge(found: list[Sample], objective: Objective | None) -> tuple[bool, str]:
    """Whether every sample meets ``objective`` (any sample passes without one), and the detail.

    A failure's detail starts with the value and the objective; long series labels come last."""
    if not found:
        return False, "no series: the query returned an empty result (write `(…) or vector(0)` if empty means 0)"
    what = "scalar" if found[0].series == "" else f"{len(found)} series"
    if objective is None:
        return True, what
    failing = [s for s in found if not objective.met(s.value)]
    if not failing:
        return True, f"{what}, all {objective.text}" if len(found) > 1 else f"{what} {objective.text}"
    worst = _worst(failing, objective)
    if len(found) == 1:
        labels = f": {_short(worst.series)}" if worst.series not in ("", "{}") else ""
        return False, f"value {fmt(worst.value)}, expected {objective.text}{labels}"
    return False, (f"{len(failing)} of {len(found)} series fail {objective.text}, "
                   f"worst {fmt(worst.value)}: {_short(worst.series)}")


def refusal(resp: httpx.Response) -> str:
    """Why Prometheus refused a query: its ``errorType: error`` text, else the status and body start."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        return f"Prometheus {resp.status_code} {body.get('errorType', 'error')}: {body.get('error', '')}"
    return f"Prometheus answered HTTP {resp.status_code}: {resp.text[:200]!r}"


@PROBES.register
class PrometheusProbe(Probe):
    kind = "prometheus"
    access = Access(reaches=(Endpoint.PROMETHEUS,), other=("network: the Prometheus HTTP API (the target's prometheus_url)",))
    Params = PrometheusProbeParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)

    @property
    def base_url(self) -> str | None:
        """The probe's ``url``, else the target's Prometheus."""
        url = self.params.url or self.env.extra.get("prometheus_url")
        return str(url).rstrip("/") if url else None

    async def observe(self) -> Observation:
        base = self.base_url
        if base is None:
            return Observation(False, None, "no Prometheus URL: give `url` or set the target's prometheus_url")
        start = time.perf_counter()
        try:
            resp = await self._client.get(
                f"{base}/api/v1/query", params={"query": self.params.query, "timeout": f"{self.timeout:g}"}
            )
        except httpx.TimeoutException as exc:
            return Observation(False, self.timeout * 1000, f"Prometheus at {base} did not answer within "
                               f"{self.timeout:g}s ({type(exc).__name__})", timed_out=True)
        except httpx.HTTPError as exc:
            return Observation(False, (time.perf_counter() - start) * 1000,
                               f"Prometheus at {base} unreachable: {type(exc).__name__}: {exc}"[:MAX_DETAIL])
        ms = (time.perf_counter() - start) * 1000
        ok, detail = self._judge(resp)
        return Observation(ok, ms, detail[:MAX_DETAIL])

    def _judge(self, resp: httpx.Response) -> tuple[bool, str]:
        if resp.status_code != 200:
            return False, refusal(resp)
        try:
            body = resp.json()
            return judge(samples(body["data"]), self.params.objective)
        except QueryFailed as exc:
            return False, str(exc)
        except (ValueError, KeyError, TypeError, IndexError):
            return False, f"not a Prometheus query answer: {resp.text[:200]!r}"

    async def close(self) -> None:
        await self._client.aclose()
