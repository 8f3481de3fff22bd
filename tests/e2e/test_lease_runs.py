"""One run at a time per target, against the session sandbox: a second run is refused (exit 2) naming
the holder; a holder killed with -9 loses the lease after its duration and the next run proceeds."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from harness.clients.lease import LEASE_NAME, parse_micro_time
from harness.journal import read_journal
from tests.zone_mini import wait_for

pytestmark = pytest.mark.e2e

SLOW = """
probes:
  - {name: site, every: 0.5s, timeout: 2s, http: {url: "/api/catalog/products?limit=2"}}
slos:
  - {name: up, sli: probe.site.success_ratio, objective: ">= 50%", min_samples: 1}
steady_state: {before: false, after: false}
timeline: {baseline: 60s, recovery: 0s}
"""
QUICK = SLOW.replace("baseline: 60s", "baseline: 2s")


def _holding(workspace: Any) -> Any:
    def started() -> Any:
        dirs = workspace.run_dirs()
        if not dirs or not (dirs[-1] / "events.jsonl").exists():
            return None
        events = read_journal(dirs[-1] / "events.jsonl")
        return next((e for e in events if e["type"] == "lease.acquired"), None)
    return wait_for(started, 60, "the first run to take the lease")


def test_a_second_run_is_refused_and_a_dead_holders_lease_expires(workspace: Any, sandbox: Any) -> None:
    targets = workspace.root / "targets.yaml"
    targets.write_text(targets.read_text() + "    lease: {seconds: 4}\n")
    slow, quick = workspace.experiment("holds-the-site", SLOW), workspace.experiment("wants-the-site", QUICK)
    first = workspace.popen("run", str(slow))
    try:
        acquired = _holding(workspace)
        refused = workspace.harness("run", str(quick), check=2)
        assert f"holds the lease default/{LEASE_NAME}" in refused.stderr
        assert acquired["holder"] in refused.stderr and "holds-the-site" in acquired["holder"]
        assert "nothing was injected" in refused.stderr and len(workspace.run_dirs()) == 1
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    lease = sandbox.kube().get_lease("default", LEASE_NAME)["spec"]
    assert lease["holderIdentity"] == acquired["holder"]  # killed: it could not release
    expires = parse_micro_time(lease["renewTime"]) + lease["leaseDurationSeconds"]
    time.sleep(max(0.0, expires - time.time()) + 0.5)
    workspace.harness("run", str(quick), check=0)
    assert sandbox.kube().get_lease("default", LEASE_NAME)["spec"].get("holderIdentity") is None  # released
