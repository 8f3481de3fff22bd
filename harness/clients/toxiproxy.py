"""Toxiproxy's HTTP API (v2) over httpx: proxies, toxics, enable/disable.

Works the same against a real Toxiproxy 2.x (staging) and the sandbox's compatible proxy. Calls are
blocking; async callers run them with ``asyncio.to_thread``. Errors map onto the harness tree:
connection failures, timeouts, 429 and 5xx are TransientClientError; other 4xx PermanentClientError
(with the server's ``error`` message).
"""

from __future__ import annotations

from typing import Any

import httpx

from harness.errors import PermanentClientError, TransientClientError

Obj = dict[str, Any]


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:200] or resp.reason_phrase
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return resp.reason_phrase


class ToxiproxyClient:
    """A thin client of one Toxiproxy server (``url`` like ``http://127.0.0.1:8474``)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, what: str, method: str, path: str, body: Any = None,
                 ok_missing: bool = False) -> Any:
        """One API call; returns the parsed JSON (None for 204, or for 404 when ``ok_missing``)."""
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise TransientClientError(f"{what}: {type(exc).__name__}: {exc}") from None
        if resp.status_code == 404 and ok_missing:
            return None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientClientError(f"{what}: {_message(resp)}", resp.status_code)
        if resp.status_code >= 400:
            raise PermanentClientError(f"{what}: {_message(resp)}", resp.status_code)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    # -- reads -------------------------------------------------------------------------------------
    def version(self) -> str:
        """The server's version string."""
        try:
            resp = self._http.get("/version")
        except httpx.HTTPError as exc:
            raise TransientClientError(f"toxiproxy version: {exc}") from None
        try:
            return str(resp.json().get("version"))
        except (ValueError, AttributeError):
            return resp.text.strip()

    def proxies(self) -> dict[str, Obj]:
        """Every proxy by name, each with ``enabled``, ``listen``, ``upstream`` and ``toxics``."""
        data: dict[str, Obj] = self._request("list proxies", "GET", "/proxies") or {}
        return data

    def proxy(self, name: str) -> Obj | None:
        """One proxy, or None when it does not exist."""
        data: Obj | None = self._request(f"get proxy {name}", "GET", f"/proxies/{name}", ok_missing=True)
        return data

    def toxics(self, proxy: str) -> list[Obj]:
        """The toxics active on ``proxy``."""
        data: list[Obj] = self._request(f"list toxics of {proxy}", "GET", f"/proxies/{proxy}/toxics") or []
        return data

    # -- changes -----------------------------------------------------------------------------------
    def add_toxic(self, proxy: str, name: str, type_: str, attributes: Obj, *,
                  stream: str = "downstream", toxicity: float = 1.0) -> Obj:
        """Add a toxic named ``name``; PermanentClientError (409) when that name already exists."""
        body = {"name": name, "type": type_, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        data: Obj = self._request(f"add toxic {name} to {proxy}", "POST", f"/proxies/{proxy}/toxics", body)
        return data

    def remove_toxic(self, proxy: str, name: str) -> bool:
        """Remove a toxic; False when it (or its proxy) was already gone. Idempotent."""
        path = f"/proxies/{proxy}/toxics/{name}"
        try:
            self._request(f"remove toxic {name} from {proxy}", "DELETE", path)
        except PermanentClientError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def set_enabled(self, proxy: str, enabled: bool) -> Obj:
        """Enable or disable a proxy (disabling closes its connections and refuses new ones)."""
        what = f"{'enable' if enabled else 'disable'} proxy {proxy}"
        data: Obj = self._request(what, "POST", f"/proxies/{proxy}", {"enabled": enabled})
        return data

    def active(self) -> dict[str, Obj]:
        """Per proxy: ``enabled`` and its toxics' names (what a report shows as active)."""
        return {name: {"enabled": bool(p.get("enabled", True)),
                       "toxics": [t.get("name") for t in p.get("toxics") or []]}
                for name, p in self.proxies().items()}
