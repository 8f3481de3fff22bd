"""Grafana: annotations through ``POST /api/annotations`` with a Bearer token, over httpx.

``GrafanaAnnotations.post`` raises ``TransientClientError`` for what a retry may cure (connection
errors, timeouts, 429, 5xx) and ``PermanentClientError`` for the rest; its messages never carry the
token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from harness.errors import PermanentClientError, TransientClientError


@dataclass(frozen=True)
class Annotation:
    """One Grafana annotation: a region from ``time`` to ``time_end`` (epoch milliseconds)."""

    time: int
    time_end: int
    tags: list[str]
    text: str
    dashboard_uid: str | None = None
    label: str = ""
    """What the harness calls it in its journal (the fault id); not sent."""

    def to_json(self) -> dict[str, Any]:
        """The request body of ``POST /api/annotations``."""
        body: dict[str, Any] = {"time": self.time, "timeEnd": self.time_end, "tags": self.tags, "text": self.text}
        if self.dashboard_uid:
            body["dashboardUID"] = self.dashboard_uid
        return body


class GrafanaAnnotations:
    """Posts annotations to one Grafana; one short-lived connection per call (no pool left open)."""

    def __init__(self, url: str, token: str, timeout: float = 3.0) -> None:
        self._url = url.rstrip("/") + "/api/annotations"
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._timeout = httpx.Timeout(timeout)

    def post(self, annotation: Annotation) -> int | None:
        """Create ``annotation``; returns Grafana's annotation id when it says one."""
        try:
            with httpx.Client(timeout=self._timeout) as http:
                resp = http.post(self._url, json=annotation.to_json(), headers=self._headers)
        except httpx.HTTPError as exc:  # timeouts, refused or reset connections
            raise TransientClientError(f"grafana unreachable: {type(exc).__name__}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientClientError(f"grafana answered {resp.status_code}", status=resp.status_code)
        if resp.status_code >= 300:
            raise PermanentClientError(f"grafana answered {resp.status_code}: {resp.text[:200]}", status=resp.status_code)
        try:
            data = resp.json()
        except ValueError:
            return None
        ident = data.get("id") if isinstance(data, dict) else None
        return ident if isinstance(ident, int) else None
