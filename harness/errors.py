"""The harness's one exception tree.

    HarnessError
     ├── InvalidExperiment      bad input: file, line, field, hint (exit 2)
     ├── Refused                a safety rule said no before anything was touched (exit 2)
     ├── FaultError             injecting a fault failed
     │    ├── TransientFaultError   worth retrying (429, 5xx, timeouts)
     │    └── PermanentFaultError   retrying will not help (403, 404, bad target)
     ├── ProbeError             a probe could not observe
     ├── ClientError            an API call failed
     │    ├── TransientClientError
     │    └── PermanentClientError
     ├── Aborted                a guard fired or the run was interrupted (exit 3)
     └── RevertFailed           something is still injected; a human must act (exit 4)
          └── UndoFailed        (harness.faults.base) some undo records of one fault failed; also a
                                PermanentFaultError: every record was tried, each failure is named

Library code raises these; only the CLI turns them into exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file."""

    file: str
    line: int | None
    field: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class InvalidExperiment(HarnessError):
    """The experiment (or targets) file is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class Refused(HarnessError):
    """A safety rule refused the run before anything was injected."""


class FaultError(HarnessError):
    """Injecting or reverting a fault failed."""


class TransientFaultError(FaultError):
    """A fault step failed in a way that may succeed on retry."""


class PermanentFaultError(FaultError):
    """A fault step failed and retrying will not help."""


class ProbeError(HarnessError):
    """A probe could not observe the system."""


class ClientError(HarnessError):
    """An API call through harness.clients failed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class TransientClientError(ClientError):
    """429, 5xx, connection reset, timeout: retry with backoff."""


class PermanentClientError(ClientError):
    """4xx other than 429: retrying will not help."""


class Aborted(HarnessError):
    """A guard fired or the run was interrupted; every fault was reverted."""


class RevertFailed(HarnessError):
    """A revert failed; ``still_injected`` says exactly what is left."""

    def __init__(self, still_injected: list[str]) -> None:
        self.still_injected = still_injected
        super().__init__("still injected: " + "; ".join(still_injected))


class SandboxError(HarnessError):
    """The local sandbox could not be started, reached or stopped (raised by harness.sandbox, caught by
    the CLI like every other harness error)."""
