"""The pre-release gate's verdict: a new run against the last good run of the same experiment and target.

The baseline is the most recent *passed* run of the same experiment on the same target, found in a
reports folder (the run's own, or an artifact store shared by pipeline runs), started before the new
run; or a run folder given explicitly. The comparison is ``harness.report.regress.compare`` with the
experiment's ``gate:`` rules (the documented defaults unless overridden), the same the digest applies.
No baseline yet is said plainly, and the run is judged on its SLOs alone. The verdict is written to
``gate.json`` in the run folder, so the record holds what the pipeline acted on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.report.history import RunEntry, load_history, read_entry
from harness.report.regress import Finding, Rules, compare, last_good

GATE_FILE = "gate.json"
LAST_GOOD = "last-good"


@dataclass
class GateVerdict:
    """One experiment's gate: its run, the baseline (None: no baseline yet) and what regressed."""

    run: RunEntry
    baseline: RunEntry | None
    findings: list[Finding] = field(default_factory=list)
    rules: Rules = field(default_factory=Rules)
    searched: str = ""
    """Where the baseline was looked for (a reports folder, or the folder given)."""

    @property
    def regressed(self) -> bool:
        return bool(self.findings)

    def exit_code(self, run_exit: int) -> int:
        """The run's own exit code, or 1 when it regressed (the worse of the two)."""
        return max(run_exit, 1 if self.regressed else 0)

    def headline(self) -> str:
        name = f"gate {self.run.name} on {self.run.target}"
        if self.baseline is None:
            return (f"{name}: no baseline yet (no passed run of {self.run.name} on {self.run.target} in "
                    f"{self.searched}): judged on its SLOs alone")
        against = f"{self.baseline.folder} (passed {self.baseline.started})"
        if not self.regressed:
            return f"{name}: no regression against {against}"
        return f"{name}: REGRESSION against {against}"

    def table(self) -> list[list[str]]:
        """``[what, baseline, now, rule]`` per finding, worst first."""
        return [[f.what, f.baseline, f.now, f.rule] for f in self.findings]

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run.folder, "baseline": self.baseline.folder if self.baseline else None,
                "searched": self.searched, "regressed": self.regressed, "rules": asdict(self.rules),
                "findings": [asdict(f) for f in self.findings], "headline": self.headline()}


def find_baseline(run: RunEntry, baseline: str | Path, baseline_dir: Path) -> tuple[RunEntry | None, str]:
    """The baseline entry and where it was looked for. ``baseline`` is ``last-good`` or a run folder."""
    if str(baseline) != LAST_GOOD:
        folder = Path(baseline)
        entry = read_entry(folder)
        if entry is None:
            raise ValueError(f"--baseline {folder}: not a run folder with a run.json")
        return entry, str(folder)
    entries = [e for e in load_history(baseline_dir) if e.folder != run.folder]
    return last_good(entries, run.name, run.target, before=run.started), str(baseline_dir)


def judge(run_dir: Path, rules: Rules, baseline: str | Path = LAST_GOOD,
          baseline_dir: Path | None = None) -> GateVerdict:
    """Compare the run in ``run_dir`` with its baseline and write ``gate.json`` beside its run.json."""
    run = read_entry(run_dir)
    if run is None:
        raise ValueError(f"{run_dir} has no readable run.json")
    base, searched = find_baseline(run, baseline, baseline_dir or run_dir.parent)
    verdict = GateVerdict(run, base, compare(base, run, rules) if base else [], rules, searched)
    (run_dir / GATE_FILE).write_text(json.dumps(verdict.to_json(), indent=2) + "\n")
    return verdict


def render_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain Markdown table (SLI, baseline, now, rule), as the terminal and CI logs show it."""
    lines = ["| what | baseline | now | rule |", "| --- | --- | --- | --- |"]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
