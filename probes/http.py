"""``http`` probe: one request with httpx (async); status, body substring and JSON fields checked."""

from __future__ import annotations

import time
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from harness.spec.params import ProbeParams
from harness.spec.registry import PROBES

from .base import Observation, Probe


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


def _json_path(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


@PROBES.register
class HttpProbe(Probe):
    kind = "http"
    Params = HttpProbeParams

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)

    @property
    def url(self) -> str:
        url = str(self.params.url)
        if url.startswith(("http://", "https://")):
            return url
        return self.env.site_url.rstrip("/") + "/" + url.lstrip("/")

    def _expected(self, status: int) -> bool:
        exp = self.params.expect_status
        if not exp:
            return 200 <= status < 400
        return status in (exp if isinstance(exp, list | tuple) else [exp])

    async def observe(self) -> Observation:
        p = self.params
        start = time.perf_counter()
        try:
            resp = await self._client.request(p.method, self.url, headers=dict(p.headers or {}), content=p.body)
        except httpx.TimeoutException as exc:
            return Observation(False, self.timeout * 1000, f"timed out after {self.timeout:g}s ({type(exc).__name__})",
                               timed_out=True)
        except httpx.HTTPError as exc:
            return Observation(False, (time.perf_counter() - start) * 1000, f"{type(exc).__name__}: {exc}")
        ms = (time.perf_counter() - start) * 1000
        if not self._expected(resp.status_code):
            return Observation(False, ms, f"status {resp.status_code}")
        if p.expect_body and p.expect_body not in resp.text:
            return Observation(False, ms, f"body lacks {p.expect_body!r}")
        for path, want in (p.expect_json or {}).items():
            try:
                got = _json_path(resp.json(), path)
            except ValueError:
                return Observation(False, ms, "body is not JSON")
            if got != want:
                return Observation(False, ms, f"{path} is {got!r}, expected {want!r}")
        return Observation(True, ms)

    async def close(self) -> None:
        await self._client.aclose()
