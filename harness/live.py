"""The live view of a run: a rich panel on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table


@dataclass
class LiveState:
    """What the view shows; the run updates it, the view renders it."""

    name: str
    phase: str = "starting"
    started: float = field(default_factory=time.time)
    rps: float = 0.0
    error_ratio: float = 0.0
    p95_ms: float | None = None
    users: int = 0
    active_faults: list[str] = field(default_factory=list)
    slo_state: str = ""
    note: str = ""


class LiveView:
    """Renders ``LiveState`` every second (TTY) or every ``every`` seconds as a log line."""

    def __init__(self, state: LiveState, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.state = state
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self._last = 0.0
        self._live: Live | None = None

    def _table(self) -> Table:
        s = self.state
        t = Table(title=f"harness run: {s.name}", show_header=False)
        t.add_row("phase", s.phase)
        t.add_row("elapsed", f"{time.time() - s.started:.0f}s")
        t.add_row("load", f"{s.rps:.1f} rps, {s.users} users, errors {s.error_ratio:.1%}, "
                          f"p95 {s.p95_ms or 0:.0f} ms")
        t.add_row("faults", ", ".join(s.active_faults) or "none active")
        if s.slo_state:
            t.add_row("SLOs", s.slo_state)
        if s.note:
            t.add_row("note", s.note)
        return t

    def start(self) -> None:
        if self.tty:
            self._live = Live(self._table(), console=Console(file=self.stream), refresh_per_second=2)
            self._live.start()

    def line(self) -> str:
        s = self.state
        p95 = f"{s.p95_ms:.0f}ms" if s.p95_ms is not None else "-"
        faults = ",".join(s.active_faults) or "-"
        return (f"[{time.time() - s.started:6.0f}s] phase={s.phase} rps={s.rps:.1f} users={s.users} "
                f"errors={s.error_ratio:.1%} p95={p95} faults={faults}")

    def refresh(self, force: bool = False) -> None:
        if self._live is not None:
            self._live.update(self._table())
            return
        now = time.time()
        if force or now - self._last >= self.every:
            self._last = now
            print(self.line(), file=self.stream, flush=True)

    def say(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text)
        else:
            print(text, file=self.stream, flush=True)

    def stop(self) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.stop()
            self._live = None

    def update_from(self, seconds: list[Any]) -> None:
        """Take load figures from the newest flushed timeline seconds."""
        if not seconds:
            return
        last = seconds[-1]
        load = getattr(last, "load", None)
        if load is not None:
            self.state.rps = float(load.requests)
            self.state.error_ratio = load.failures / load.requests if load.requests else 0.0
            p95 = load.hist.percentile(0.95) if getattr(load, "hist", None) is not None else None
            self.state.p95_ms = p95
            self.state.users = int(getattr(load, "users", 0) or 0)
