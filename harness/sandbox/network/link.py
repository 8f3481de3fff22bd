"""The fault proxy's data plane for one client connection: two pipes (upstream, downstream) that pump
chunks through the stream's current toxic chain, plus the connection-wide toxic timers.

A pipe reads into a bounded queue stamped with arrival times and writes from it through the toxics, so
a latency toxic delays every chunk by the same amount without serialising throughput: data read at t
is written at t + latency. The chain is looked up for every chunk, so toxics added or removed while a
connection is open apply to it from the next chunk on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from .toxics import TOXIC_KINDS, Toxic

READ_SIZE = 64 * 1024
QUEUE_CHUNKS = 64


def _set_rst_on_close(writer: asyncio.StreamWriter) -> None:
    """SO_LINGER 0: closing the socket sends RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class Pipe:
    """One direction of a connection: ``reader`` -> toxics of ``stream`` -> ``writer``."""

    def __init__(self, link: Connection, stream: str, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.link = link
        self.stream = stream
        self.reader = reader
        self.writer = writer
        self.state: dict[int, dict[str, Any]] = {}
        self.queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(QUEUE_CHUNKS)

    async def run(self) -> None:
        """Pump until EOF on the reader (then forward EOF) or until the connection closes."""
        reading = asyncio.ensure_future(self._read())
        try:
            while (item := await self.queue.get()) is not None:
                t, data = item
                await self._emit(0, self._chain(), t, data)
            await self._forward_eof()
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(READ_SIZE):
                await self.queue.put((time.monotonic(), data))
        except (ConnectionError, OSError):
            pass
        await self.queue.put(None)

    def _chain(self) -> list[Toxic]:
        return [t for t in self.link.toxics() if t.stream == self.stream and self.link.active(t)]

    async def _emit(self, index: int, chain: list[Toxic], t: float, data: bytes) -> None:
        if index == len(chain):
            if not self.link.closed:
                self.writer.write(data)
                await self.writer.drain()
            return
        toxic = chain[index]

        async def send(chunk: bytes, t_out: float) -> None:
            await self._emit(index + 1, chain, t_out, chunk)

        state = self.state.setdefault(toxic.uid, {})
        await TOXIC_KINDS[toxic.type].process(toxic, state, t, data, send, self.link)

    async def _forward_eof(self) -> None:
        delays = [t.attr("delay") for t in self._chain() if t.type == "slow_close"]
        if delays:
            await asyncio.sleep(max(delays) / 1000.0)
        if self.writer.can_write_eof() and not self.writer.is_closing():
            with contextlib.suppress(OSError, RuntimeError):
                self.writer.write_eof()
                return
        self.link.close()


class Connection:
    """A client connection through a proxy: the upstream socket, both pipes and toxic timers."""

    def __init__(self, upstream: str, toxics: Callable[[], list[Toxic]],
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.upstream = upstream
        self.toxics = toxics
        self.client = (reader, writer)
        self.server: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.rng = random.Random()
        self.closed = False
        self._draws: dict[int, bool] = {}
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._pipes: list[asyncio.Task[None]] = []

    def active(self, toxic: Toxic) -> bool:
        """Whether the toxic applies to this connection (drawn once per toxic from its toxicity)."""
        if toxic.uid not in self._draws:
            self._draws[toxic.uid] = self.rng.random() < toxic.toxicity
        return self._draws[toxic.uid]

    def forget(self, toxic: Toxic) -> None:
        """Redraw toxicity and restart the timer of an updated toxic."""
        self._draws.pop(toxic.uid, None)
        timer = self._timers.pop(toxic.uid, None)
        if timer is not None:
            timer.cancel()
        self.sync_timers()

    async def run(self) -> None:
        """Connect upstream and pump both ways until both directions end or the link is closed."""
        host, _, port = self.upstream.rpartition(":")
        try:
            self.server = await asyncio.open_connection(host.strip("[]") or "127.0.0.1", int(port))
        except (OSError, ValueError):
            self.close()
            return
        self._pipes = [
            asyncio.ensure_future(Pipe(self, "upstream", self.client[0], self.server[1]).run()),
            asyncio.ensure_future(Pipe(self, "downstream", self.server[0], self.client[1]).run()),
        ]
        self.sync_timers()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        self.close()

    def sync_timers(self) -> None:
        """Start timers of newly applicable timer toxics; cancel those of removed toxics."""
        if self.closed:
            return
        current = {t.uid: t for t in self.toxics()}
        for uid in [u for u in self._timers if u not in current]:
            self._timers.pop(uid).cancel()
        for uid, toxic in current.items():
            timer = TOXIC_KINDS[toxic.type].timer
            if timer is not None and uid not in self._timers and self.active(toxic):
                self._timers[uid] = asyncio.ensure_future(timer(toxic, self))

    def close(self) -> None:
        """Close both sockets (FIN) and stop pumping."""
        if self.closed:
            return
        self.closed = True
        for task in [*self._pipes, *self._timers.values()]:
            if task is not asyncio.current_task():
                task.cancel()
        for pair in (self.client, self.server):
            if pair is not None:
                pair[1].close()

    def reset(self) -> None:
        """Close both sockets with RST (connection reset by peer)."""
        for pair in (self.client, self.server):
            if pair is not None:
                _set_rst_on_close(pair[1])
                pair[1].transport.abort()
        self.close()
