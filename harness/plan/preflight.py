"""The doctor's checks before anything runs, for every way a run starts: ``harness run``, ``harness gate``,
``harness gameday run`` (harness.cli.doctor prints the table) and the pytest plugin (a failed item naming
the rows). One call, ``check_experiments``, plans and runs the checks (harness.plan.doctor) for some
loaded experiments, grouped by target; a ``Preflight`` says whether they passed and, per experiment, which
failed rows stop it::

    pre = preflight_checks(loaded)
    if not pre.ok:
        raise Refused(pre.refusal())
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from harness.clients.connect import resolve_connection
from harness.plan.doctor import EVERY_RUN, Report, Result, Row, doctor
from harness.spec.loader import LoadedExperiment

REFUSED = "refused: a check of `harness doctor` failed: nothing was run or injected"


def target_name(loaded: LoadedExperiment) -> str:
    """The name of the target ``loaded`` runs on."""
    return str(getattr(loaded.target, "name", "") or loaded.experiment.target)


async def check_experiments(loaded: Sequence[LoadedExperiment]) -> list[tuple[str, Report]]:
    """The doctor's report for ``loaded``, one per target they run on."""
    by_target: dict[str, list[LoadedExperiment]] = {}
    for x in loaded:
        by_target.setdefault(target_name(x), []).append(x)
    out = []
    for name, group in by_target.items():
        conn = resolve_connection(group[0].target)
        out.append((name, await doctor([(x.experiment, x.target.lease.namespace) for x in group], conn)))
    return out


def _needed_by(row: Row, experiment: str) -> bool:
    return any(who == EVERY_RUN or who.endswith(f"({experiment})") for who in row.needed_for)


@dataclass(frozen=True)
class Preflight:
    """The doctor's reports (one per target) for the experiments about to run."""

    reports: list[tuple[str, Report]]

    @property
    def ok(self) -> bool:
        return not self.failed()

    def failed(self, experiment: str | None = None) -> list[Row]:
        """The failed rows (``experiment`` given: those it needs, its own or every run's)."""
        return [row for _, r in self.reports for row in r.failed
                if experiment is None or _needed_by(row, experiment)]

    def summary(self) -> str:
        """One line: how many checks passed, in how long, and what could not be checked."""
        rows = [row for _, r in self.reports for row in r.rows]
        unchecked = [row for row in rows if row.result == Result.UNCHECKED]
        seconds = sum(r.seconds for _, r in self.reports)
        return (f"doctor: {len(rows) - len(unchecked)} checks ok in {seconds:.1f}s"
                + "".join(f"; not checked: {row.check} ({row.detail})" for row in unchecked))

    def refusal(self, experiment: str | None = None, skip: str = "--skip-doctor") -> str:
        """Why nothing runs, naming every failed row (``experiment``'s only, when given) and how to fix it."""
        lines = [f"{REFUSED} ({skip} runs anyway)"]
        for row in self.failed(experiment):
            lines.append(f"  FAILED {row.check}: {row.detail} [needed for {', '.join(row.needed_for)}]")
            lines.append(f"    how to fix: {row.fix}")
        return "\n".join(lines)


def preflight_checks(loaded: Sequence[LoadedExperiment]) -> Preflight:
    """Plan and run the doctor's checks for ``loaded`` (blocking: call it outside an event loop)."""
    return Preflight(asyncio.run(check_experiments(loaded)))
