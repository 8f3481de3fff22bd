"""Parameter models of every probe kind, and the registry that maps a kind key to its model.

A probe is written as ``{name: checkout-health, every: 1s, http: {url: /api/checkout/health}}``; the
key ``http`` is looked up in ``PROBE_PARAMS`` and its value validated by the registered model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.selectors import SelectorError, parse_label_selector
from harness.spec.fieldtypes import ObjectiveField, Ratio
from harness.spec.registry import KindRegistry


class ProbeParams(BaseModel):
    """Base of every probe kind's parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class HttpProbeParams(ProbeParams):
    """An HTTP request that must answer with an expected status (and optionally body / JSON)."""

    url: str = Field(description="Absolute URL, or a path relative to the target's site URL.")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = Field(
        default="GET", description="HTTP method."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers.")
    body: str | dict[str, Any] | None = Field(default=None, description="Request body: text, or JSON object.")
    expect_status: list[int] = Field(
        default_factory=lambda: list(range(200, 400)),
        description="Statuses counted as success (an int or a list); default any 2xx/3xx.",
    )
    expect_body: str | None = Field(default=None, description="Substring the response body must contain.")
    expect_json: dict[str, Any] | None = Field(
        default=None, description="JSON paths (dotted, e.g. 'status' or 'db.ok') and the value each must have."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("expect_status", mode="before")
    @classmethod
    def _status_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("expect_status")
    @classmethod
    def _status_range(cls, value: list[int]) -> list[int]:
        bad = [s for s in value if not 100 <= s <= 599]
        if bad or not value:
            raise ValueError(f"HTTP statuses must be 100..599, got {bad or 'an empty list'}")
        return value

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if not (value.startswith("/") or value.startswith(("http://", "https://"))):
            raise ValueError("expected an absolute http(s) URL or a path starting with '/'")
        return value


class KubernetesProbeParams(ProbeParams):
    """Counts ready pods of a deployment (or a label selector) against a minimum."""

    namespace: str = Field(description="Namespace to look in.")
    deployment: str | None = Field(default=None, description="Deployment whose ready replicas count.")
    selector: str | None = Field(default=None, description="Label selector of the pods that count.")
    min_ready: int | None = Field(default=None, ge=0, description="At least this many ready pods.")
    min_ready_fraction: Ratio | None = Field(
        default=None, description="At least this share of desired replicas ready (0..1 or %)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> KubernetesProbeParams:
        if (self.deployment is None) == (self.selector is None):
            raise ValueError("give exactly one of `deployment` or `selector`")
        if self.selector is not None:
            try:
                parse_label_selector(self.selector)
            except SelectorError as exc:
                raise ValueError(f"invalid label selector: {exc}") from None
        return self


class PostgresProbeParams(ProbeParams):
    """Runs a query against PostgreSQL; success when it answers within the probe timeout."""

    dsn: str | None = Field(
        default=None, description="Connection string (default: the target's); use ${env:NAME} for secrets."
    )
    query: str = Field(default="SELECT 1", description="Query to run.")


class ToxiproxyProbeParams(ProbeParams):
    """Reads the fault proxy's state (proxies enabled, toxics present)."""

    url: str | None = Field(default=None, description="Toxiproxy API URL; default the target's.")
    proxies: list[str] | None = Field(default=None, description="Proxies that must exist and be enabled.")


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


def default_probe_registry() -> KindRegistry:
    """A registry holding every built-in probe kind."""
    registry = KindRegistry("probe")
    registry.register("http", HttpProbeParams)
    registry.register("kubernetes", KubernetesProbeParams)
    registry.register("postgres", PostgresProbeParams)
    registry.register("toxiproxy", ToxiproxyProbeParams)
    registry.register("prometheus", PrometheusProbeParams)
    return registry


PROBE_PARAMS = default_probe_registry()
"""The registry the spec validates probes against (extend with ``PROBE_PARAMS.register``)."""
