"""Notifications of real runs against the session sandbox: Slack hears of the start and the end as
valid Block Kit, Grafana gets one annotation per fault whose times are the journal's fault windows,
a receiver that hangs costs no more than the bound, and no secret reaches the run folder."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from harness.journal import read_journal
from tests.notify_receiver import Receiver
from tests.zone_mini import wait_for

pytestmark = pytest.mark.e2e

TWO_FAULTS = """
owner: team-catalog
probes:
  - {name: site, every: 0.5s, timeout: 2s, http: {url: "/api/catalog/products?limit=2"}}
slos:
  - {name: up, sli: probe.site.success_ratio, objective: ">= 50%", min_samples: 1}
steady_state: {before: false, after: false}
timeline:
  baseline: 1s
  faults:
    - {at: 0s, pod-kill: {namespace: shop, selector: app=catalog, count: 1, duration: 2s}}
    - {at: 1s, name: cart-kill, pod-kill: {namespace: shop, selector: app=cart, count: 1, duration: 1s}}
  recovery: 1s
safety:
  allowed_namespaces: [shop]
"""
HOOK = "/services/T0E2E/B0E2E/e2e-webhook-secret"
TOKEN = "glsa_e2e-grafana-secret-token"


def _nowhere(run_dir: Path, *secrets: str) -> None:
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            for secret in secrets:
                assert secret not in text, f"{secret!r} written to {path}"


def test_a_run_posts_start_and_end_to_slack_and_one_annotation_per_fault_to_grafana(workspace: Any) -> None:
    exp = workspace.experiment("notify-two-faults", TWO_FAULTS)
    with Receiver() as slack, Receiver() as grafana:
        env = {"SLACK_WEBHOOK_URL": slack.url + HOOK, "GRAFANA_URL": grafana.url, "GRAFANA_API_TOKEN": TOKEN}
        workspace.harness("run", str(exp), env=env, check=0)
    run_dir = workspace.run_dirs()[-1]
    events = read_journal(run_dir / "events.jsonl")
    posts = slack.bodies(HOOK)
    headers = [p["blocks"][0]["text"]["text"] for p in posts]
    assert len(posts) == 2 and "started" in headers[0] and "passed" in headers[1], headers
    for body in posts:
        assert all(Block.parse(b) is not None and Block.parse(b).to_dict() == b for b in body["blocks"])
    assert "team-catalog" in str(posts[0]) and str(run_dir / "report.html") in str(posts[1])
    notes = grafana.bodies("/api/annotations")
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in grafana.requests)
    fault_ids = {e["id"] for e in events if e["type"] == "fault.injected"}
    assert fault_ids == {"pod-kill-0", "cart-kill"} and len(notes) == 2
    for fid in fault_ids:
        first = min(e["ts"] for e in events if e.get("id") == fid and e["type"] in ("fault.undo", "fault.injected"))
        revert = next(e["ts"] for e in events if e.get("id") == fid and e["type"] == "fault.reverted")
        note = next(n for n in notes if n["time"] == round(first * 1000))
        assert note["timeEnd"] == round(revert * 1000) and note["timeEnd"] > note["time"]
        assert {"experiment:notify-two-faults", "fault:pod-kill", "target:sandbox"} <= set(note["tags"])
        assert "verdict passed" in note["text"]
    sent = sorted((e["sink"], e["message"]) for e in events if e["type"] == "notify.sent")
    assert sent == [("grafana", "annotation cart-kill"), ("grafana", "annotation pod-kill-0"),
                    ("slack", "ended"), ("slack", "started")]
    _nowhere(run_dir, HOOK, TOKEN)


def test_a_hanging_slack_costs_the_bound_and_the_targets_secret_stays_out(workspace: Any) -> None:
    targets = workspace.root / "targets.yaml"
    targets.write_text(targets.read_text() + "    notify: {slack_webhook: '${env:SHOP_SLACK_HOOK}', timeout: 1s}\n")
    exp = workspace.experiment("notify-hanging", TWO_FAULTS)
    with Receiver("hang") as slack:
        workspace.harness("run", str(exp), env={"SHOP_SLACK_HOOK": slack.url + HOOK}, check=0)
    run_dir = workspace.run_dirs()[-1]
    events = read_journal(run_dir / "events.jsonl")
    failed = [e for e in events if e["type"] == "notify.failed"]
    assert sorted(e["message"] for e in failed) == ["ended", "started"]
    # the bound is 1 s; the rest is a loaded machine scheduling the sender's thread (no timing goal here).
    # One attempt's own timeout is the bound too: whichever fires first names the failure
    assert all(e["seconds"] < 4 and ("not sent within 1 s" in e["error"] or "timed out" in e["error"])
               for e in failed), failed
    stopping = next(e["ts"] for e in events if e["type"] == "run.stopping")
    ended = next(e["ts"] for e in events if e["type"] == "run.ended")
    assert ended - stopping < 1.0 + 5.0  # the verdict, and the bound (plus its second of slack)
    assert len(slack.requests) >= 2
    _nowhere(run_dir, HOOK)


LONG_FAULT = TWO_FAULTS.replace("count: 1, duration: 2s}", "count: 1, duration: 60s}")


def test_an_interrupted_run_tells_slack_at_once_what_is_still_injected(workspace: Any) -> None:
    exp = workspace.experiment("notify-interrupted", LONG_FAULT)
    with Receiver() as slack:
        proc = workspace.popen("run", str(exp), env={"SLACK_WEBHOOK_URL": slack.url + HOOK})
        try:
            def injected() -> Any:
                dirs = workspace.run_dirs()
                if not dirs or not (dirs[-1] / "events.jsonl").exists():
                    return None
                return any(e["type"] == "fault.injected" and e["id"] == "pod-kill-0"
                           for e in read_journal(dirs[-1] / "events.jsonl"))
            wait_for(injected, 60, "the long fault to be injected")
            time.sleep(1.5)  # the second fault too (at 1s)
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 3
    headers = [p["blocks"][0]["text"]["text"] for p in slack.bodies(HOOK)]
    assert len(headers) == 3 and "started" in headers[0] and "interrupted" in headers[1] and "interrupted" in headers[2]
    aborted = str(slack.bodies(HOOK)[1])
    assert "interrupted by SIGINT" in aborted and "Still injected" in aborted and "`pod-kill-0`" in aborted
    events = read_journal(workspace.run_dirs()[-1] / "events.jsonl")
    sent = [e["message"] for e in events if e["type"] == "notify.sent"]
    assert sorted(sent) == ["aborted", "ended", "started"]
    assert next(i for i, e in enumerate(events) if e["type"] == "run.aborted") < next(
        i for i, e in enumerate(events) if e["type"] == "fault.reverted")  # told before the reverts
    _nowhere(workspace.run_dirs()[-1], HOOK)
