"""One proxy of the fault proxy: its listener, its toxics and its live connections."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

from ..core.ports import bind
from ..core.truth import Truth
from .link import Connection
from .toxics import Toxic, ToxicError, new_toxic, update_toxic

#: Asked about every new client, ``(ip, port)`` of its end of the connection: True refuses it.
ClientCheck = Callable[[str, int], bool]


class ProxyError(Exception):
    """An API error with Toxiproxy's status code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def split_hostport(address: str) -> tuple[str, int]:
    """``host:port`` (also ``[::]:port``, ``:port``) -> (host, port); ProxyError 400 when malformed."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ProxyError(400, f"invalid address: {address!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _refused(check: ClientCheck, peer: tuple[Any, ...]) -> bool:
    """Ask the hook about a new client (``peer`` as asyncio gives it: ``(ip, port, ...)``)."""
    return check(str(peer[0]), int(peer[1]))


class Proxy:
    """A named TCP proxy ``listen`` -> ``upstream`` whose connections pass through its toxics.

    Its port stays its own from creation to `close`: while disabled it holds a bound socket that does
    not listen (connections are refused, as by a closed port, yet no other process can take the port),
    and enabling listens on that very socket. ``sock``, when given, is that socket (bound to ``listen``
    with `ports.bind(shared=True)`)."""

    def __init__(self, name: str, listen: str, upstream: str, truth: Truth,
                 blocked: Callable[[], ClientCheck | None], sock: socket.socket | None = None) -> None:
        split_hostport(listen)
        split_hostport(upstream)
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics: dict[str, Toxic] = {}
        self.conns: set[Connection] = set()
        self._truth = truth
        self._blocked = blocked
        self._server: asyncio.Server | None = None
        self._sock = sock  # bound to ``listen``, not listening: the port held while disabled
        self._handlers: set[asyncio.Task[Any]] = set()

    def to_json(self) -> dict[str, Any]:
        """The proxy as Toxiproxy's API shows it."""
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled, "toxics": [t.to_json() for t in self.toxics.values()]}

    # -- listener -----------------------------------------------------------------------------------

    async def enable(self) -> None:
        """Open the listener (an ``:0`` port becomes the real one); no-op when enabled."""
        if self.enabled:
            return
        host, port = split_hostport(self.listen)
        try:
            self._server = await asyncio.start_server(self._accept, sock=self._bound(host, port))
        except OSError as e:
            raise ProxyError(500, f"listen tcp {self.listen}: {e.strerror or e}") from e
        self._sock = None  # the server owns it now
        bound = self._server.sockets[0].getsockname()
        self.listen = f"{host}:{bound[1]}"
        self.enabled = True
        self._truth.record("proxy.enabled", proxy=self.name, listen=self.listen)

    def _bound(self, host: str, port: int) -> socket.socket:
        """The held socket when it is bound to ``host:port``, else a new one bound there."""
        if self._sock is not None and (not port or self._sock.getsockname()[:2] == (host, port)):
            return self._sock
        self._release()
        self._sock = bind(host, port, reuse_addr=True, shared=True)
        return self._sock

    def _release(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    async def close(self) -> None:
        """Disable, and give the port up."""
        await self.disable()
        self._release()

    async def disable(self) -> None:
        """Close the listener and every open connection, keeping the port; no-op when disabled."""
        if not self.enabled:
            return
        self.enabled = False
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):  # a listener not bound shared: no hold
                self._sock = bind(*split_hostport(self.listen), shared=True)
            server.close()
        for conn in list(self.conns):
            conn.close()
        for task in list(self._handlers):
            task.cancel()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=2)
        self._truth.record("proxy.disabled", proxy=self.name)

    async def update(self, body: dict[str, Any]) -> None:
        """Apply ``listen``/``upstream``/``enabled`` from an update request."""
        listen = body.get("listen") or self.listen
        upstream = body.get("upstream") or self.upstream
        split_hostport(listen)
        split_hostport(upstream)
        enabled = bool(body.get("enabled", self.enabled))
        if listen != self.listen or upstream != self.upstream:
            await self.disable()
            self.listen, self.upstream = listen, upstream
        if enabled:
            await self.enable()
        else:
            await self.disable()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        check = self._blocked()
        if not self.enabled or (check is not None and peer and _refused(check, peer)):
            writer.transport.abort()
            return
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        conn = Connection(self.upstream, lambda: list(self.toxics.values()), reader, writer)
        self.conns.add(conn)
        try:
            await conn.run()
        finally:
            conn.close()
            self.conns.discard(conn)
            if task is not None:
                self._handlers.discard(task)

    # -- toxics -------------------------------------------------------------------------------------

    def toxic(self, name: str) -> Toxic:
        """The named toxic, or ProxyError 404."""
        toxic = self.toxics.get(name)
        if toxic is None:
            raise ProxyError(404, "toxic not found")
        return toxic

    def add_toxic(self, body: dict[str, Any]) -> Toxic:
        """Create a toxic; it applies to open connections at once."""
        try:
            toxic = new_toxic(body)
        except ToxicError as e:
            raise ProxyError(400, str(e)) from e
        if toxic.name in self.toxics:
            raise ProxyError(409, "toxic already exists")
        self.toxics[toxic.name] = toxic
        for conn in list(self.conns):
            conn.sync_timers()
        self._truth.record("toxic.added", proxy=self.name, **toxic.to_json())
        return toxic

    def update_toxic(self, name: str, body: dict[str, Any]) -> Toxic:
        """Change a toxic's attributes or toxicity."""
        toxic = self.toxic(name)
        try:
            update_toxic(toxic, body)
        except ToxicError as e:
            raise ProxyError(400, str(e)) from e
        for conn in list(self.conns):
            conn.forget(toxic)
        self._truth.record("toxic.updated", proxy=self.name, **toxic.to_json())
        return toxic

    def remove_toxic(self, name: str) -> None:
        """Remove a toxic; held data flows on and its timers stop."""
        toxic = self.toxics.pop(self.toxic(name).name)
        toxic.removed.set()
        for conn in list(self.conns):
            conn.sync_timers()
        self._truth.record("toxic.removed", proxy=self.name, name=toxic.name, type=toxic.type)

    def remove_all_toxics(self) -> None:
        """Remove every toxic (part of /reset)."""
        for name in list(self.toxics):
            self.remove_toxic(name)
