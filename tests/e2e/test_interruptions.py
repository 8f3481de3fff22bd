"""The interruption matrix: every way a run can end early, against six fault kinds at once.

One experiment injects pod-kill, deployment-scale, zone-drain, zone-outage (stop-instances), a Toxiproxy
toxic and pg-connection-exhaustion together; each test ends it one way (SIGINT, SIGTERM, SIGHUP, a guard,
an exception inside a running fault, kill -9 then `harness rollback`). In every cell nothing may be left
injected, and run.json's status must match the exit code.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from harness.events import RunStatus
from harness.journal import pending_faults, read_journal
from tests.e2e.test_zone_e2e import _cluster_clean
from tests.fixtures.tinyshop import TinyShop
from tests.zone_mini import ZONE_B, ZONE_C, wait_for

pytestmark = pytest.mark.e2e

FAULT_IDS = ("kill", "scale", "drain", "outage", "toxic", "exhaust")


def _experiment(guard_url: str) -> str:
    return f"""
probes:
  - {{name: switch, every: 0.5s, timeout: 2s, http: {{url: "{guard_url}/api/catalog/products"}}}}
slos:
  - {{name: recovery, sli: recovery_time, objective: "<= 60s"}}
  - {{name: switch-ok, sli: probe.switch.success_ratio, objective: ">= 90%", window: fault, min_samples: 1}}
steady_state: {{before: false, after: false}}
timeline:
  baseline: 0s
  faults:
    - {{at: 0s, name: kill, pod-kill: {{namespace: shop, selector: app=catalog, count: 1, every: 2s, duration: 120s}}}}
    - {{at: 0s, name: scale, deployment-scale: {{namespace: shop, name: cart, replicas: 2, duration: 120s}}}}
    - {{at: 0s, name: drain, zone-drain: {{zone: {ZONE_B}, duration: 120s, eviction_deadline: 5s}}}}
    - {{at: 0s, name: outage, zone-outage: {{zone: {ZONE_C}, mode: stop-instances, duration: 120s, recheck_every: 1s}}}}
    - {{at: 0s, name: toxic, db-latency: {{proxy: postgres, latency: 50ms, duration: 120s}}}}
    - {{at: 0s, name: exhaust, pg-connection-exhaustion: {{reserve: 3, duration: 120s}}}}
  recovery: 1s
safety:
  allowed_namespaces: [shop]
  max_pods_fraction: 1.0
  abort_when:
    - {{sli: probe.switch.error_ratio, above: 0.5, for: 1s}}
"""


@pytest.fixture
def switch() -> Iterator[TinyShop]:
    """A local HTTP endpoint the test flips to failing, to make the experiment's guard fire."""
    with TinyShop() as shop:
        yield shop


def _all_injected(workspace: Any, timeout: float = 90) -> Any:
    def ready() -> Any:
        dirs = workspace.run_dirs()
        if not dirs or not (dirs[-1] / "events.jsonl").exists():
            return None
        events = read_journal(dirs[-1] / "events.jsonl")
        injected = {e.get("id") for e in events if e.get("type") == "fault.injected"}
        return dirs[-1] if injected >= set(FAULT_IDS) else None
    return wait_for(ready, timeout, "all six faults injected")


def _nothing_injected(sandbox: Any, folder: Any) -> None:
    assert pending_faults(read_journal(folder / "events.jsonl")) == []
    kube = sandbox.kube()
    try:
        assert kube.get_scale("shop", "cart") == 3
    finally:
        kube.close()
    with httpx.Client(base_url=sandbox.endpoints["toxiproxy"], timeout=10) as tp:
        for name in tp.get("/proxies").json():
            assert tp.get(f"/proxies/{name}/toxics").json() == [], name
            assert tp.get(f"/proxies/{name}").json()["enabled"] is True, name
    dsn = sandbox.endpoints.get("postgres_admin") or sandbox.endpoints["postgres"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        held = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'harness-%'"
                            " AND application_name NOT IN ('harness-undo')").fetchone()
    assert held is not None and held[0] == 0
    _cluster_clean(sandbox)  # nothing cordoned or stopped, nodes Ready, deployments whole


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


def _status_matches(workspace: Any, code: int, status: str) -> None:
    run = workspace.last_run()
    assert run["status"] == status and RunStatus(run["status"]).exit_code == code == run["exit_code"], run


def _start(workspace: Any, switch: TinyShop, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], Any]:
    exp = workspace.experiment("matrix", _experiment(switch.url))
    proc = workspace.popen("run", str(exp), env=env)
    try:
        folder = _all_injected(workspace)
    except AssertionError:
        proc.kill()
        raise AssertionError("faults were not all injected:\n" + "".join(proc.communicate())) from None
    return proc, folder


# SIGTERM is what CI runners and Kubernetes send; Ctrl-C (SIGINT) and a closed terminal (SIGHUP) take the
# same path, and test_e2e_runs sends each of them to a one-fault run
@pytest.mark.parametrize("sig", [signal.SIGTERM], ids=lambda s: s.name)
def test_signal_reverts_all_six(workspace: Any, sandbox: Any, switch: TinyShop, sig: signal.Signals) -> None:
    proc, folder = _start(workspace, switch)
    proc.send_signal(sig)
    code, out, err = _finish(proc)
    assert code == 3, out + err
    _status_matches(workspace, code, "interrupted")
    aborted = [e for e in read_journal(folder / "events.jsonl") if e["type"] == "run.aborted"]
    assert aborted[0]["signal"] == sig.name and aborted[0]["phase"] == "fault"
    assert all(s["status"] in ("not_judged",) for s in workspace.last_run()["slos"])
    _nothing_injected(sandbox, folder)


def test_guard_abort_reverts_all_six(workspace: Any, sandbox: Any, switch: TinyShop) -> None:
    proc, folder = _start(workspace, switch)
    switch.fail_ratio = 1.0
    code, out, err = _finish(proc)
    switch.fail_ratio = 0.0
    assert code == 3, out + err
    _status_matches(workspace, code, "aborted")
    assert [e for e in read_journal(folder / "events.jsonl") if e["type"] == "guard.fired"]
    _nothing_injected(sandbox, folder)


def _api_faults(sandbox: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: sandbox.kube_request("PUT", "/sandbox/api-faults", json=spec).raise_for_status()


def test_exception_inside_a_running_fault_reverts_all_six(workspace: Any, sandbox: Any, switch: TinyShop) -> None:
    put = _api_faults(sandbox)
    proc, folder = _start(workspace, switch, env={"HARNESS_RETRY_DEADLINE": "6"})
    try:
        put({"rate": 1.0, "codes": [500]})  # the next kill (every 2 s) fails once its retries run out
        wait_for(lambda: '"run.aborted"' in (folder / "events.jsonl").read_text(), 60, "the run to abort")
    finally:
        put({"rate": 0.0})  # the reverts' own retries get through
    code, out, err = _finish(proc)
    assert code == 3, out + err
    _status_matches(workspace, code, "aborted")
    events = read_journal(folder / "events.jsonl")
    error = next(e for e in events if e["type"] == "fault.error")
    assert error["id"] in ("kill", "outage") and error["step"] in ("inject", "hold")
    later = [e for e in events if e["ts"] > error["ts"] and e["type"] in ("fault.undo", "fault.action")]
    reverts = [e for e in events if e["type"] == "fault.reverted"]
    assert not [e for e in later if e["ts"] > min(r["ts"] for r in reverts)], "a fault acted after the reverts began"
    _nothing_injected(sandbox, folder)


def test_kill_9_then_rollback_reverts_all_six(workspace: Any, sandbox: Any, switch: TinyShop) -> None:
    proc, folder = _start(workspace, switch)
    proc.kill()
    proc.communicate(timeout=30)
    assert workspace.last_run()["status"] == "running"  # the provisional run.json says the run never ended
    rb = workspace.harness("rollback", str(folder), timeout=180)
    assert rb.returncode == 0, rb.stdout + rb.stderr
    time.sleep(0.5)
    report = workspace.harness("report", "--targets", str(workspace.root / "targets.yaml"), str(folder))
    assert report.returncode == 0, report.stdout + report.stderr
    run = workspace.last_run()
    assert run["status"] == "interrupted" and run["exit_code"] == 3 and run["still_injected"] == []
    assert "process died" in run["aborted_by"]
    _nothing_injected(sandbox, folder)
