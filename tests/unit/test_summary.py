"""summary.md rendering for passed, failed, aborted and revert_failed runs."""

from __future__ import annotations

from typing import Any

from harness.report import render_summary


def base_run(**over: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "name": "checkout-pod-kill", "title": "Checkout survives losing a third of its pods",
        "owner": "team-checkout", "target": "sandbox", "status": "passed", "exit_code": 0,
        "started": "2024-05-06T10:00:00+00:00", "ended": "2024-05-06T10:03:30+00:00",
        "run_dir": "reports/20240506T100000Z-checkout-pod-kill",
        "windows": {"baseline": [1714989600.0, 1714989630.0], "whole": [1714989600.0, 1714989810.0]},
        "slos": [
            {"name": "availability", "sli": "load.success_ratio", "objective": ">= 99%", "window": "whole",
             "measured": 0.9942, "display": "99.42%", "status": "pass", "passed": True, "detail": "9,942 of 10,000 ok"},
            {"name": "latency", "sli": "load.p95", "objective": "<= 800ms", "window": "fault",
             "measured": 0.412, "display": "412 ms", "status": "pass", "passed": True, "detail": "p95 of 5,000 samples"},
        ],
        "faults": [{"id": "pod-kill-1", "kind": "pod-kill", "targets": ["shop/checkout-abc", "shop/checkout-def"],
                    "injected_at": "2024-05-06T10:00:30+00:00", "reverted_at": "2024-05-06T10:02:30+00:00",
                    "error": None, "measurements": {"killed": 2, "replaced_after_s": 3.1}}],
        "recovery_seconds": 4.0,
        "recovery": {"detection_seconds": 1.0, "recovery_seconds": 4.0, "degraded": True, "inconclusive": False,
                     "degraded_seconds": 6, "reason": "3 good second(s) in a row from 4.0 s after the reference point"},
        "error_budget": {"sla": 0.99, "availability": 0.9942, "requests": 10000, "failures": 58,
                         "bad_minutes": 0.97, "budget_minutes": 432.0, "share_of_month_budget": 0.00224},
        "aborted_by": None, "still_injected": [],
        "load": {"requests": 10000, "failures": 58, "locust_requests": 10004, "locust_failures": 58},
        "phases": [{"name": "baseline", "start": 1714989600.0, "end": 1714989630.0}],
    }
    run.update(over)
    return run


def test_passed_run() -> None:
    md = render_summary(base_run())
    assert md.startswith("# PASSED: Checkout survives losing a third of its pods\n")
    assert "| availability | `load.success_ratio` | whole | >= 99% | 99.42% | pass |" in md
    assert "| pod-kill | shop/checkout-abc, shop/checkout-def | 2024-05-06 10:00:30 UTC |" in md
    assert "killed: 2; replaced after: 3.10 s" in md
    assert "Recovery: **4.0 s** after the reference point" in md
    assert "Detection: the site first degraded **1.0 s** after the first fault action (6 degraded" in md
    assert "| 99.00% | 99.420% | 58 / 10,000 | 0.97 min | 432 min | 0.2% |" in md
    assert "| harness timeline | 10,000 | 58 | 0.58% |" in md
    assert "| Locust's own stats | 10,004 | 58 |" in md
    assert "disagree" not in md
    assert "ACTION REQUIRED" not in md and "Aborted by" not in md
    assert "Key events" not in md


def test_failed_run_explains_breaches() -> None:
    slos = base_run()["slos"]
    slos[1] = {**slos[1], "measured": 1.2, "display": "1200 ms", "status": "fail", "passed": False,
               "detail": "p95 of 5,000 samples; objective <= 800ms not met"}
    slos.append({"name": "recovery", "sli": "recovery_time", "objective": "<= 60s", "window": "recovery",
                 "measured": None, "display": "n/a", "status": "inconclusive", "passed": None,
                 "detail": "the run ended 2 good second(s) into a stretch; 3 needed"})
    rec = {"detection_seconds": 2.0, "recovery_seconds": None, "degraded": True, "inconclusive": False,
           "degraded_seconds": 30, "reason": "did not recover: still degraded when the run ended"}
    md = render_summary(base_run(status="failed", exit_code=1, slos=slos, recovery_seconds=None, recovery=rec))
    assert md.startswith("# FAILED:")
    assert "| 1200 ms | **FAIL** |" in md and "| n/a | **INCONCLUSIVE** |" in md
    assert "- **latency** (fail): p95 of 5,000 samples; objective <= 800ms not met" in md
    assert "- **recovery** (inconclusive): the run ended 2 good second(s)" in md
    assert "**The site did not recover**: did not recover: still degraded" in md


def test_never_degraded_says_so_in_words() -> None:
    rec = {"detection_seconds": None, "recovery_seconds": 0.0, "degraded": False, "inconclusive": False,
           "degraded_seconds": 0, "reason": "never degraded: recovery is 0 by definition"}
    md = render_summary(base_run(recovery=rec, recovery_seconds=0.0))
    assert "**Never degraded**" in md and "recovery is 0 s by definition" in md


def test_aborted_run_with_events() -> None:
    events = [{"ts": 1714989700.5, "type": "guard.fired", "reason": "load.error_ratio above 0.25 for 30s"},
              {"ts": 1714989701.0, "type": "fault.reverted", "id": "pod-kill-1"}]
    md = render_summary(base_run(status="aborted", exit_code=3,
                                 aborted_by="guard load.error_ratio above 0.25 for 30s (last: 41%)"),
                        events=events)
    assert md.startswith("# ABORTED:")
    assert "Aborted by: **guard load.error_ratio above 0.25 for 30s (last: 41%)**." in md
    assert "## Key events" in md
    assert "| 2024-05-06 10:01:40 UTC | `guard.fired` | reason=load.error_ratio above 0.25 for 30s |" in md


def test_revert_failed_run_is_loud() -> None:
    faults = [{**base_run()["faults"][0], "kind": "zone-outage", "targets": ["europe-west1-b"],
               "reverted_at": None, "error": "403: compute.instances.start denied | quota"}]
    md = render_summary(base_run(status="revert_failed", exit_code=4, faults=faults,
                                 still_injected=["zone-outage europe-west1-b: 3 VMs stopped"]))
    assert md.startswith("# REVERT FAILED:")
    assert "## ACTION REQUIRED: faults are still injected" in md
    assert "> - **zone-outage europe-west1-b: 3 VMs stopped**" in md
    assert "harness rollback reports/20240506T100000Z-checkout-pod-kill" in md
    assert "**not reverted**" in md and "denied \\| quota" in md
    assert md.index("ACTION REQUIRED") < md.index("## Verdict")


def test_refused_minimal_run() -> None:
    md = render_summary({"name": "x", "status": "refused", "exit_code": 2, "slos": [], "faults": []})
    assert md.startswith("# REFUSED: x")
    assert "No SLOs were evaluated." in md and "No fault was injected." in md
    assert "Not applicable" in md


def test_load_disagreement_is_flagged() -> None:
    load = {"requests": 9000, "failures": 10, "locust_requests": 10000, "locust_failures": 12}
    md = render_summary(base_run(load=load))
    assert "disagree by 1,000 requests" in md
