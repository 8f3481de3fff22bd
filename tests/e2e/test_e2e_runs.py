"""Experiments run end to end against the session sandbox: verdicts, exit codes, reverts, the folder."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from harness.measure.timeline import read_timeline
from tests.runfolders import make_run

pytestmark = pytest.mark.e2e

LOAD = """
load: {users: 8, spawn_rate: 8, think_time: 0.2s..0.6s, workers: 1}
"""


POD_KILL = LOAD + """
probes:
  - {name: site, every: 1s, timeout: 2s, http: {url: "/api/catalog/products?limit=2"}}
slos:
  - {name: availability, sli: load.success_ratio, objective: ">= 80%"}
  - {name: latency, sli: load.p95, objective: "<= 5s", window: fault, min_samples: 5}
timeline:
  baseline: 4s
  faults:
    - at: 0s
      pod-kill: {namespace: shop, selector: app=catalog, count: 1, duration: 4s}
  recovery: 5s
safety:
  allowed_namespaces: [shop]
"""

# the same fault, no load, and an objective no probe can meet
STRICT = """
probes:
  - {name: site, every: 0.5s, timeout: 2s, http: {url: "/api/catalog/products?limit=2"}}
slos:
  - {name: latency, sli: probe.site.p95, objective: "<= 0.1ms", window: fault, min_samples: 2}
timeline:
  baseline: 1s
  faults:
    - at: 0s
      pod-kill: {namespace: shop, selector: app=catalog, count: 1, duration: 2s}
  recovery: 1s
"""


def test_pod_kill_passes_lenient_and_fails_strict_with_locust_totals_matching(workspace):
    lenient = workspace.experiment("kill-lenient", POD_KILL)
    strict = workspace.experiment("kill-strict", STRICT)
    workspace.harness("run", str(lenient), check=0)
    run = workspace.last_run()
    assert run["status"] == "passed"
    assert run["faults"][0]["kind"] == "pod-kill" and run["faults"][0]["targets"]
    # Locust's own totals equal the timeline's, failures included
    folder = workspace.run_dirs()[-1]
    seconds = list(read_timeline(folder / "timeline.jsonl"))
    requests = sum(s.load.requests for s in seconds if s.load)
    failures = sum(s.load.failures for s in seconds if s.load)
    assert requests > 50
    assert (requests, failures) == (run["load"]["locust_requests"], run["load"]["locust_failures"])
    for name in ("experiment.yaml", "events.jsonl", "timeline.jsonl", "run.json", "summary.md"):
        assert (folder / name).exists(), name
    assert "Key events" in (folder / "summary.md").read_text()
    # the app version the review compares: what the sandbox's API reports, recorded before the fault
    env = run["environment"]
    assert env["cluster_version"] == workspace.sandbox.kube_request("GET", "/version").json()["gitVersion"]
    assert sum(env["node_versions"].values()) == len(workspace.sandbox.kube().list_nodes())
    assert env["images"]["shop/checkout"].startswith("shop/checkout:") and "kube-system/" not in str(env["images"])
    assert env["user"] and env["harness_version"] and "errors" not in env
    assert "`shop/checkout`" in (folder / "summary.md").read_text()
    # the journal is the record: the verdict can be rebuilt from the folder alone
    (folder / "summary.md").unlink()
    workspace.harness("report", "--targets", str(workspace.root / "targets.yaml"), str(folder), check=0)
    rebuilt = json.loads((folder / "run.json").read_text())
    assert [(s["name"], s["measured"]) for s in rebuilt["slos"]] == [(s["name"], s["measured"]) for s in run["slos"]]
    assert (folder / "summary.md").exists()
    workspace.sandbox.wait_deployments_ready()
    proc = workspace.harness("run", str(strict), check=1)
    assert "FAIL latency" in proc.stdout
    assert workspace.last_run()["status"] == "failed"
    _across_the_two_runs(workspace)


def _across_the_two_runs(workspace) -> None:
    """report.html in each folder, then runs, compare and the digest over these real folders."""
    lenient, strict = workspace.run_dirs()[-2:]
    for folder in (lenient, strict):
        assert (folder / "report.html").stat().st_size > 10_000 and not (folder / "report-error.txt").exists()
    reports = str(workspace.reports)
    listed = workspace.harness("runs", "--reports", reports, "--status", "failed", check=0).stdout
    assert "kill-strict" in listed and "kill-lenient" not in listed
    compared = workspace.harness("compare", "--reports", reports, lenient.name, strict.name, check=0).stdout
    assert "latency" in compared and "shop/checkout:" in compared  # SLIs and app versions side by side
    # synthetic history beside the real folders: kill-strict passed three days ago; a zone drain aborted today
    now = datetime.now(UTC)
    make_run(workspace.reports, "kill-strict", started=now - timedelta(days=3))
    make_run(workspace.reports, "zone-drain", started=now - timedelta(hours=2), status="aborted")
    out = workspace.root / "review"
    said = workspace.harness("digest", "--reports", reports, "--since", "1d", "--out", str(out), check=0).stdout
    assert str(out / "digest.html") in said
    digest = (out / "digest.md").read_text()
    assert "kill-lenient" in digest and "kill-strict" in digest
    assert "passed in the baseline, not now" in digest  # the real strict run against its synthetic last pass
    first_failures = digest.split("First failures")[1].split("\n## ")[0]
    assert "kill-strict" in first_failures and "zone-drain" in digest.split("Incidents")[1]
    html = (out / "digest.html").read_text()
    assert f'href="../reports/{strict.name}/report.html"' in html and "http" not in html.replace("http://www.w3.org", "")


def test_recovery_time_matches_ground_truth(workspace, sandbox):
    exp = workspace.experiment("scale-recovery", """
probes:
  - {name: cart-ready, every: 0.5s, timeout: 2s, kubernetes: {namespace: shop, deployment: cart, min_ready: 3}}
slos:
  - {name: cart-whole, sli: probe.cart-ready.success_ratio, objective: ">= 100%", window: baseline, min_samples: 3}
  - {name: recovery, sli: recovery_time, objective: "<= 30s", consecutive: 2}
timeline:
  baseline: 2s
  faults:
    - at: 0s
      deployment-scale: {namespace: shop, name: cart, replicas: 2, duration: 3s}
  recovery: 8s
safety:
  max_pods_fraction: 0.5
""")
    workspace.harness("run", str(exp), check=0)
    run = workspace.last_run()
    reverted = next(e for e in _events(workspace) if e["type"] == "fault.reverted")["ts"]
    ready = [t["ts"] for t in sandbox.truth() if t["event"] == "pod.ready" and t.get("pod", "").startswith("cart")
             and t["ts"] > reverted]
    assert ready, "the replacement pod never became ready"
    truth_recovery = ready[0] - reverted
    assert run["recovery_seconds"] is not None
    assert abs(run["recovery_seconds"] - truth_recovery) <= 2.0, (run["recovery_seconds"], truth_recovery)


def _events(workspace):
    path = workspace.run_dirs()[-1] / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_guard_aborts_reverts_and_exits_3(workspace, sandbox):
    exp = workspace.experiment("guard-abort", """
probes:
  - {name: never, every: 0.5s, timeout: 1s, http: {url: /no-such-page, expect_status: 299}}
slos:
  - {name: avail, sli: probe.never.success_ratio, objective: ">= 0%"}
steady_state: {before: false, after: false}
timeline:
  baseline: 1s
  faults:
    - at: 0s
      deployment-scale: {namespace: shop, name: storefront, replicas: 2, duration: 60s}
  recovery: 1s
safety:
  abort_when: [{sli: probe.never.error_ratio, above: 0.5, for: 2s}]
""")
    t0 = time.monotonic()
    workspace.harness("run", str(exp), check=3)
    assert time.monotonic() - t0 < 40
    run = workspace.last_run()
    assert run["status"] == "aborted" and "guard" in run["aborted_by"]
    kube = sandbox.kube()
    assert kube.get_scale("shop", "storefront") == 3
    kube.close()


_LONG_SCALE = """
slos: [{name: recovery, sli: recovery_time, objective: "<= 60s"}]
steady_state: {before: false, after: false}
timeline:
  baseline: 0s
  faults:
    - at: 0s
      deployment-scale: {namespace: shop, name: checkout, replicas: 2, duration: 120s}
  recovery: 1s
"""


def _wait_injected(workspace, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dirs = workspace.run_dirs()
        if dirs and (dirs[-1] / "events.jsonl").exists():
            if '"fault.injected"' in (dirs[-1] / "events.jsonl").read_text():
                return dirs[-1]
        time.sleep(0.2)
    raise AssertionError("fault never injected")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])  # SIGTERM: test_interruptions, all six faults
def test_signal_during_fault_reverts_and_exits_3(workspace, sandbox, sig):
    exp = workspace.experiment(f"interrupt-{sig.name.lower()}", _LONG_SCALE)
    proc = workspace.popen("run", str(exp))
    _wait_injected(workspace)
    kube = sandbox.kube()
    assert kube.get_scale("shop", "checkout") == 2
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, (out, err)
    assert kube.get_scale("shop", "checkout") == 3
    kube.close()
    run = workspace.last_run()
    assert run["aborted_by"] == f"interrupted by {sig.name}" and run["status"] == "interrupted"
    assert run["slos"][0]["status"] == "not_judged" and "cut short" in run["slos"][0]["detail"]
    aborted = [e for e in _events(workspace) if e["type"] == "run.aborted"]
    assert aborted and aborted[0]["signal"] == sig.name and aborted[0]["phase"] == "fault"


def test_kill_9_then_rollback_restores(workspace, sandbox):
    exp = workspace.experiment("crash", _LONG_SCALE)
    proc = workspace.popen("run", str(exp))
    folder = _wait_injected(workspace)
    proc.kill()
    proc.wait(timeout=10)
    kube = sandbox.kube()
    assert kube.get_scale("shop", "checkout") == 2
    rb = workspace.harness("rollback", str(folder), check=0)
    assert "reverted" in rb.stdout
    assert kube.get_scale("shop", "checkout") == 3
    again = workspace.harness("rollback", str(folder), check=0)
    assert "nothing to revert" in again.stdout
    kube.close()


def test_secret_never_reaches_the_run_folder(workspace):
    exp = workspace.experiment("secret", """
probes:
  - name: site
    every: 1s
    http: {url: "/api/catalog/products?limit=1", headers: {Authorization: "Bearer ${env:SHOP_TOKEN}"}}
slos:
  - {name: avail, sli: probe.site.success_ratio, objective: ">= 50%", min_samples: 1}
timeline: {baseline: 2s, faults: [], recovery: 0s}
""")
    secret = "s3cr3t-token-value-42"
    workspace.harness("run", str(exp), env={"SHOP_TOKEN": secret}, check=0)
    folder = workspace.run_dirs()[-1]
    for f in folder.iterdir():
        assert secret not in f.read_text(errors="replace"), f.name


def test_invalid_experiment_is_refused_and_nothing_happens(workspace, sandbox):
    exp = workspace.experiment("broken", """
timeline:
  baseline: 1s
  faults:
    - at: 0s
      pod-kill: {namespace: kube-system, selector: "app=dns", fraction: 1.5}
  recovery: 1s
""")
    before = [t for t in sandbox.truth() if t["event"] == "pod.killed"]
    proc = workspace.harness("run", str(exp), check=2)
    assert "broken.yaml:" in proc.stderr and "fraction" in proc.stderr
    assert workspace.run_dirs() == []
    assert [t for t in sandbox.truth() if t["event"] == "pod.killed"] == before


def test_failed_revert_exits_4_names_what_is_left_and_rollback_fixes_it(workspace, sandbox):
    exp = workspace.experiment("revert-fails", """
slos: [{name: recovery, sli: recovery_time, objective: "<= 60s"}]
steady_state: {before: false, after: false}
timeline:
  baseline: 0s
  faults:
    - at: 0s
      deployment-scale: {namespace: shop, name: cart, replicas: 2, duration: 2s}
  recovery: 0s
""")
    after = workspace.experiment("never-runs", _LONG_SCALE)
    proc = workspace.popen("run", str(exp), str(after), env={"HARNESS_RETRY_DEADLINE": "3"})
    folder = _wait_injected(workspace)
    try:
        sandbox.kube_request("PUT", "/sandbox/api-faults", json={"rate": 1.0, "codes": [503]}).raise_for_status()
        out, err = proc.communicate(timeout=60)
    finally:
        sandbox.kube_request("DELETE", "/sandbox/api-faults")
    assert proc.returncode == 4, (out, err)
    assert "still injected" in err.lower() and "cart" in err
    assert workspace.last_run()["still_injected"]
    assert len(workspace.run_dirs()) == 1 and "not running" in err and "never-runs.yaml" in err
    kube = sandbox.kube()
    assert kube.get_scale("shop", "cart") == 2
    workspace.harness("rollback", str(folder), check=0)
    assert kube.get_scale("shop", "cart") == 3
    kube.close()


def test_plan_and_dry_run_print_targets_and_touch_nothing(workspace, sandbox):
    exp = workspace.experiment("plan-only", """
slos: [{name: recovery, sli: recovery_time, objective: "<= 60s"}]
timeline:
  baseline: 1s
  faults:
    - at: 0s
      pod-kill: {namespace: shop, selector: app=cart, count: 1}
  recovery: 1s
""")
    before = [t for t in sandbox.truth() if t["event"] == "pod.killed"]
    plan = workspace.harness("plan", str(exp), check=0)
    assert "pod-kill" in plan.stdout and "shop/cart-" in plan.stdout
    assert "1 action(s) at +0 s after the baseline" in plan.stdout and "expected run time ~2 s" in plan.stdout
    dry = workspace.harness("run", "--dry-run", str(exp), check=0)
    assert "shop/cart-" in dry.stdout
    assert workspace.run_dirs() == []
    assert [t for t in sandbox.truth() if t["event"] == "pod.killed"] == before


@pytest.mark.parametrize("fault", [
    "pod-kill: {namespace: shop, selector: app=no-such-app, count: 1}",          # empty target set
    "pod-kill: {namespace: shop, selector: app=cart, fraction: 1.0}",            # beyond the blast radius
])
def test_refused_at_plan_time_exits_2_and_injects_nothing(workspace, sandbox, fault):
    exp = workspace.experiment("refused", f"""
slos: [{{name: recovery, sli: recovery_time, objective: "<= 60s"}}]
timeline:
  baseline: 0s
  faults:
    - at: 0s
      {fault}
  recovery: 0s
safety: {{max_pods_fraction: 0.5}}
""")
    before = [t for t in sandbox.truth() if t["event"] == "pod.killed"]
    proc = workspace.harness("run", str(exp))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refused" in proc.stderr
    assert [t for t in sandbox.truth() if t["event"] == "pod.killed"] == before


def test_target_flag_is_named_everywhere_and_a_bad_one_is_blamed_on_the_flag(workspace, sandbox):
    targets = workspace.root / "targets.yaml"
    endpoints = sandbox.dir / "endpoints.json"
    targets.write_text(targets.read_text() + f"  staging-twin:\n    kind: sandbox\n    endpoints_file: {endpoints}\n")
    exp = workspace.experiment("twin", """
probes:
  - {name: site, every: 0.5s, timeout: 2s, http: {url: "/api/catalog/products?limit=1"}}
slos:
  - {name: avail, sli: probe.site.success_ratio, objective: ">= 50%", min_samples: 2}
steady_state: {before: false, after: false}
timeline: {baseline: 2s, faults: [], recovery: 0s}
""")
    plan = workspace.harness("plan", "--target", "staging-twin", str(exp), check=0)
    assert "on target staging-twin" in plan.stdout
    workspace.harness("run", "--target", "staging-twin", str(exp), check=0)
    run = workspace.last_run()
    assert run["target"] == "staging-twin"
    assert "| staging-twin |" in (workspace.run_dirs()[-1] / "summary.md").read_text()
    started = next(e for e in _events(workspace) if e["type"] == "run.started")
    assert started["target"] == "staging-twin"
    bad = workspace.harness("run", "--target", "stagin-twin", str(exp), check=2)
    assert bad.stderr.startswith("--target: unknown target `stagin-twin`") and "staging-twin" in bad.stderr
    assert len(workspace.run_dirs()) == 1
