"""Listening ports without races: the sandbox binds its sockets itself and hands them to its servers.

Asking the kernel for a free port, closing the socket and passing the *number* on is a race: another
process (a second sandbox, a pytest-xdist worker) can take the port before the server binds it. So:

- the sandbox's own servers (aiohttp sites, asyncio servers, the partner process) are given a socket
  the sandbox has already bound (`Listeners`); the port is ours from the bind on, and the server only
  calls ``listen()`` on it. A bound socket that nobody listens on yet refuses connections, as a closed
  port would.
- external programs that bind by themselves (PostgreSQL, Prometheus) get a port that is free right now
  (`free_port`, only a first guess) and are started again on a new one when the start finds it taken
  (`PortTaken`, `start_on_free_port`).
"""

from __future__ import annotations

import socket
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

LOOPBACK = "127.0.0.1"
#: How many ports an external program is tried on before the sandbox gives up.
PORT_ATTEMPTS = 8


class PortTaken(RuntimeError):
    """An external program could not listen on the port it was given: another process holds it."""


def bind(host: str = LOOPBACK, port: int = 0, *, reuse_addr: bool = False, shared: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: one the kernel picks), not yet listening.

    With neither option the port is ours alone: no other socket can bind it, whatever options it sets.
    ``reuse_addr`` (SO_REUSEADDR) lets a server restarted on a known port past the old connections
    still in TIME_WAIT. ``shared`` (SO_REUSEPORT) lets another ``shared`` socket of this user bind the
    port alongside it: how a fault proxy keeps its port while disabled (a ``shared`` socket without
    ``reuse_addr`` still keeps out every socket that does not set SO_REUSEPORT).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if reuse_addr:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on *right now*: only a guess, since the port is free again once this
    returns. Never hand it to a server the sandbox runs itself (give it a `bind` socket); an external
    program started on it must be retried on a clash (`start_on_free_port`)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def start_on_free_port(start: Callable[[int], Awaitable[T]], first: int | None = None,
                             attempts: int = PORT_ATTEMPTS) -> tuple[int, T]:
    """Run ``start(port)`` on ``first`` (else a free port), and again on a new free port each time it
    raises `PortTaken`; the port it started on and what it returned."""
    port = first or free_port()
    for _ in range(attempts - 1):
        try:
            return port, await start(port)
        except PortTaken:
            port = free_port()
    return port, await start(port)


def _close_all(socks: dict[str, socket.socket]) -> None:
    for sock in socks.values():
        sock.close()
    socks.clear()


class Listeners:
    """Sockets the sandbox bound for its servers, by port name, until each server takes its own.

    Sockets never taken are closed by `close` (or when this object is garbage collected)."""

    def __init__(self, host: str = LOOPBACK) -> None:
        self.host = host
        self._socks: dict[str, socket.socket] = {}
        self._close = weakref.finalize(self, _close_all, self._socks)

    def bind(self, name: str, *, shared: bool = False) -> int:
        """Bind a socket for ``name`` on a port the kernel picks; the port."""
        if name in self._socks:
            raise ValueError(f"port {name!r} is bound already")
        sock = bind(self.host, 0, shared=shared)
        self._socks[name] = sock
        return int(sock.getsockname()[1])

    def take(self, name: str) -> socket.socket | None:
        """The bound socket for ``name``, now the caller's to serve on and close; None once taken."""
        return self._socks.pop(name, None)

    def close(self) -> None:
        """Close every socket no server took."""
        self._close()
