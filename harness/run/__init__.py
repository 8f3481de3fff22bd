"""The run: one execution of one experiment, from plan to exit code.

``lifecycle`` holds the ``Run`` (folder, phases, faults, signals, cleanup and reverts); ``probing``,
``steady`` and ``watch`` the observation while it runs (probe loops, steady-state checks, guards);
``outcome`` the verdict. It may import everything below it in the engine (plan, report, load, faults,
probes, clients, spec, measure and the shared utilities), never the CLI or the sandbox.
"""

from __future__ import annotations

from harness.run.lifecycle import SIGNALS, Run

__all__ = ["SIGNALS", "Run"]
