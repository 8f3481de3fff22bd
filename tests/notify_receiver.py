"""A loopback HTTP receiver that records what it is sent, standing in for Slack's webhook and Grafana.

``mode``: ``ok`` (200), ``fail`` (500 every time), ``flaky`` (500 twice, then 200), ``hang`` (never
answers until the receiver stops). Started and stopped by the test (a context manager).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    mode: str = "ok"
    requests: list[Received] = field(default_factory=list)
    _release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def bodies(self, path: str) -> list[Any]:
        return [r.body for r in self.requests if r.path == path]

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(Received(self.path, dict(self.headers.items()), json.loads(raw or b"null")))
                if receiver.mode == "hang":
                    receiver._release.wait(30)
                    return
                failing = receiver.mode == "fail" or (receiver.mode == "flaky" and len(receiver.requests) <= 2)
                body = b'{"message":"boom"}' if failing else b'{"id": 1, "message": "Annotation added"}'
                self.send_response(500 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._release.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
