"""``http`` probe: one request with httpx (async); status, body substring and JSON fields checked."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .base import Observation, Probe, register


def _json_path(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


@register
class HttpProbe(Probe):
    kind = "http"

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
