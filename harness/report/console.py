"""The live view of a run: a rich panel on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

RECENT = 5
"""Seconds the live error ratio is computed over (every second counts, none is sampled)."""


@dataclass
class LiveState:
    """What the view shows; the run updates it, the view renders it."""

    name: str
    phase: str = "starting"
    started: float = field(default_factory=time.time)
    rps: float = 0.0
    error_ratio: float = 0.0  # over the last RECENT seconds
    requests: int = 0  # since start
    failures: int = 0  # since start
    probe_failures: int = 0  # over the last RECENT seconds
    p95_ms: float | None = None
    recent: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=RECENT))
    users: int = 0
    active_faults: list[str] = field(default_factory=list)
    slo_state: str = ""
    note: str = ""


class ConsoleView:
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
        t.add_row("load", f"{s.rps:.1f} rps, {s.users} users, p95 {s.p95_ms or 0:.0f} ms")
        t.add_row("errors", _errors(s))
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
                f"errors {_errors(s)} p95={p95} faults={faults}")

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
        """Fold every newly flushed timeline second into the view (none is skipped)."""
        s = self.state
        for second in seconds:
            load = getattr(second, "load", None)
            req, fail = (load.requests, load.failures) if load is not None else (0, 0)
            probe_fail = sum(c.failures for c in getattr(second, "probes", {}).values())
            s.recent.append((req, fail, probe_fail))
            s.requests, s.failures = s.requests + req, s.failures + fail
            if load is not None:
                s.rps = float(load.requests)
                s.p95_ms = load.hist.percentile(0.95)
                s.users = int(getattr(load, "users", 0) or 0)
        req5 = sum(r for r, _, _ in s.recent)
        s.error_ratio = sum(f for _, f, _ in s.recent) / req5 if req5 else 0.0
        s.probe_failures = sum(p for _, _, p in s.recent)


def _errors(s: LiveState) -> str:
    """``last 5s 2.1% · since start 0.4% (12/3,001) · probes failing 3``."""
    total = f"{s.failures / s.requests:.1%} ({s.failures:,}/{s.requests:,})" if s.requests else "-"
    text = f"last {RECENT}s {s.error_ratio:.1%} · since start {total}"
    return text + (f" · probe failures {s.probe_failures}" if s.probe_failures else "")
