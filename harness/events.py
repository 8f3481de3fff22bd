"""The vocabulary of a run: the journal's event types and a run's status, as enums.

A leaf module (it imports nothing of the harness), so the journal, the engine, the faults and the pure
measurement code all name events the same way, and a misspelt event type is a mypy error instead of an
event nobody reads. Both are ``StrEnum``s: they are written to ``events.jsonl`` and ``run.json`` as the
plain strings they always were.
"""

from __future__ import annotations

from enum import StrEnum


class Event(StrEnum):
    """Every event type a run's journal (``events.jsonl``) can hold."""

    RUN_STARTED = "run.started"
    RUN_ABORTED = "run.aborted"
    RUN_STOPPING = "run.stopping"
    RUN_ENDED = "run.ended"
    RUN_THREADS_STUCK = "run.threads_stuck"
    PHASE = "phase"
    STEADY_STATE_FAILED = "steady_state.failed"
    FAULT_UNDO = "fault.undo"
    """How to undo the next change, written before the change (what `harness rollback` reads)."""
    FAULT_INJECTED = "fault.injected"
    FAULT_ACTION = "fault.action"
    FAULT_MEASURED = "fault.measured"
    FAULT_WARNING = "fault.warning"
    FAULT_ERROR = "fault.error"
    FAULT_REVERTED = "fault.reverted"
    FAULT_REVERT_FAILED = "fault.revert_failed"
    RETRY = "retry"
    LOAD_STARTED = "load.started"
    LOAD_ERROR = "load.error"
    LOAD_WORKER_LOST = "load.worker_lost"
    """A Locust worker (local or remote) disconnected or went missing: ``worker``, ``live`` (workers
    left), ``max_lost`` (the experiment's ``load.max_lost_workers``; one more aborts the run)."""
    LOAD_WORKER_JOINED = "load.worker_joined"
    """A Locust worker connected after the load started: ``worker``, ``live``."""
    PROBE_CHANGED = "probe.changed"
    GUARD_FIRED = "guard.fired"
    LEASE_ACQUIRED = "lease.acquired"
    """The target's lease (one run at a time) is this run's: ``holder``, ``namespace``, ``name``."""
    LEASE_RENEW_FAILED = "lease.renew_failed"
    LEASE_RELEASED = "lease.released"
    FREEZE_OVERRIDDEN = "freeze.overridden"
    """The run was started inside a freeze window anyway: ``window``, ``ends``, ``by``, ``reason``."""
    NOTIFY_SENT = "notify.sent"
    """A notification reached its receiver: ``sink`` (slack, grafana) and ``message``."""
    NOTIFY_FAILED = "notify.failed"
    """A notification was given up (the run goes on): ``sink``, ``message``, ``error``."""


class RunStatus(StrEnum):
    """A run's outcome in ``run.json`` (``running`` while it is under way)."""

    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    REFUSED = "refused"
    INVALID = "invalid"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"
    ERROR = "error"
    REVERT_FAILED = "revert_failed"

    @property
    def exit_code(self) -> int:
        """The process exit code of a run that ended so: 0 passed, 1 failed, 2 refused or invalid
        (nothing injected), 3 aborted, interrupted or error (every fault reverted), 4 something is
        still injected."""
        return _EXIT_CODES[self]


_EXIT_CODES = {RunStatus.PASSED: 0, RunStatus.FAILED: 1, RunStatus.REFUSED: 2, RunStatus.INVALID: 2,
               RunStatus.ABORTED: 3, RunStatus.INTERRUPTED: 3, RunStatus.ERROR: 3, RunStatus.REVERT_FAILED: 4,
               RunStatus.RUNNING: 4}
"""``running`` (a provisional run.json) maps to 4: a run that never finished may have left a fault."""
