"""Notification contents, pure: Slack messages validate as Block Kit through slack-sdk's own models,
Grafana annotations carry each fault's window from the journal in exact milliseconds, settings fall
back to the environment and the secrets are scrubbed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block, HeaderBlock, SectionBlock

from harness.clients.slack import SlackMessage, to_blocks
from harness.errors import InvalidExperiment
from harness.notify import Notifier, NotifySettings
from harness.notify.annotations import fault_annotations, fault_windows
from harness.notify.messages import (
    aborted_message,
    ended_message,
    report_link,
    revert_failed_message,
    started_message,
    verdict_table,
)
from harness.spec.loader import load_experiment
from harness.spec.models import Experiment
from harness.spec.targets import NotifySpec, SandboxTarget

EXP = Experiment.model_validate({
    "name": "checkout-pod-kill", "title": "Checkout survives losing a pod", "owner": "team-checkout",
    "tags": ["gameday"], "description": "Kill one catalog pod under load.",
    "slos": [{"name": "availability", "sli": "load.success_ratio", "objective": ">= 99%"}],
    "timeline": {"baseline": "10s", "recovery": "20s", "faults": [
        {"at": "0s", "pod-kill": {"namespace": "shop", "selector": "app=catalog", "count": 1, "duration": "30s"}}]},
})

RUN: dict[str, Any] = {
    "name": "checkout-pod-kill", "title": "Checkout survives losing a pod", "owner": "team-checkout",
    "target": "sandbox", "status": "failed", "exit_code": 1, "started": "2026-12-07T13:00:00.000Z",
    "ended": "2026-12-07T13:01:00.000Z", "detection_seconds": 2.0, "recovery_seconds": 7.5,
    "slos": [{"name": "availability", "objective": ">= 99%", "display": "97.2%", "status": "fail"},
             {"name": "latency", "objective": "<= 800ms", "display": "412 ms", "status": "pass"}],
    "faults": [{"id": "pod-kill-0", "kind": "pod-kill"}], "still_injected": [], "aborted_by": None,
}

EVENTS = [
    {"ts": 1796648400.0, "type": "run.started"},
    {"ts": 1796648410.123, "type": "fault.undo", "id": "pod-kill-0", "kind": "pod-kill"},
    {"ts": 1796648410.456, "type": "fault.injected", "id": "pod-kill-0", "kind": "pod-kill"},
    {"ts": 1796648412.001, "type": "fault.undo", "id": "net-1", "kind": "latency"},
    {"ts": 1796648425.5, "type": "fault.undo", "id": "pod-kill-0", "kind": "pod-kill"},
    {"ts": 1796648440.789, "type": "fault.reverted", "id": "pod-kill-0", "kind": "pod-kill"},
    {"ts": 1796648441.25, "type": "fault.revert_failed", "id": "net-1", "kind": "latency"},
    {"ts": 1796648460.5, "type": "run.stopping"},
]


def _round_trip(message: SlackMessage) -> list[dict[str, Any]]:
    """The message's blocks, parsed back by slack-sdk and serialised again (validating every block)."""
    blocks = to_blocks(message)
    assert 1 <= len(blocks) <= 50
    parsed = [Block.parse(b) for b in blocks]
    assert all(p is not None for p in parsed)
    again = [p.to_dict() for p in parsed if p is not None]  # to_dict validates (SlackObjectFormationError)
    assert again == blocks
    return blocks


def _text(blocks: list[dict[str, Any]]) -> str:
    return str(blocks)


def test_started_message_says_what_where_who_and_until_when() -> None:
    msg = started_message(EXP, "gke-staging", 1796648400.0, "/reports/x/report.html")
    blocks = _round_trip(msg)
    assert isinstance(Block.parse(blocks[0]), HeaderBlock)
    text = _text(blocks)
    assert "checkout-pod-kill" in text and "gke-staging" in text and "team-checkout" in text
    assert "2026-12-07 13:00:00 UTC" in text and "2026-12-07 13:01:00 UTC" in text  # start + 60 s planned
    assert "pod-kill-0 (pod-kill)" in text and "planned end" in msg.text


def test_abort_and_revert_failure_name_what_is_still_injected() -> None:
    aborted = _round_trip(aborted_message(EXP, "sandbox", "guard load.error_ratio above 25% for 30s", "aborted",
                                          ["pod-kill-0 (pod-kill)"], "/r/report.html"))
    assert "guard load.error_ratio" in _text(aborted) and "pod-kill-0 (pod-kill)" in _text(aborted)
    assert "Still injected" in _text(aborted)
    failed = _round_trip(revert_failed_message(EXP, "sandbox", "net-1 (latency): 503", ["net-1 (latency)"], "/r/report.html"))
    assert "Revert failed" in _text(failed) and "net-1 (latency)" in _text(failed)
    clean = _round_trip(aborted_message(EXP, "sandbox", "interrupted by SIGINT", "interrupted", [], "/r/report.html"))
    assert "Nothing is injected any more" in _text(clean)


def test_end_message_has_the_verdict_table_recovery_and_link() -> None:
    link = report_link(Path("/srv/reports/20261207T130000Z-checkout-pod-kill"), "https://chaos.example.com/runs/")
    assert link == "https://chaos.example.com/runs/20261207T130000Z-checkout-pod-kill/report.html"
    blocks = _round_trip(ended_message(RUN, link))
    text = _text(blocks)
    assert "failed (exit 1)" in text and "7.5 s" in text and f"<{link}|report.html>" in text
    table = verdict_table(RUN["slos"])
    assert table.startswith("```\nSLO") and "availability  >= 99%" in table and "97.2%" in table
    assert any(b.get("text", {}).get("text") == table for b in blocks)


def test_oversized_content_is_cut_to_slacks_limits_and_still_validates() -> None:
    slos = [{"name": f"slo-{i}-" + "x" * 40, "objective": ">= 99%", "display": "1%", "status": "fail"} for i in range(300)]
    run = {**RUN, "title": "T" * 400, "slos": slos, "aborted_by": "y" * 5000,
           "still_injected": [f"fault-{i} (pod-kill)" for i in range(400)]}
    blocks = _round_trip(ended_message(run, "/r/report.html"))
    assert len(blocks[0]["text"]["text"]) <= 150
    table = next(b for b in blocks if b.get("text", {}).get("text", "").startswith("```"))
    assert len(table["text"]["text"]) <= 3000 and table["text"]["text"].endswith("```")
    many = SlackMessage(header="h", text="t", fields=[(str(i), "v") for i in range(25)], sections=["s"] * 80)
    parsed = [Block.parse(b) for b in _round_trip(many)]
    assert sum(isinstance(p, SectionBlock) for p in parsed) <= 48


def test_annotations_carry_each_fault_window_in_exact_milliseconds() -> None:
    windows = {w.id: w for w in fault_windows(EVENTS)}
    assert windows["pod-kill-0"].start == 1796648410.123 and windows["pod-kill-0"].end == 1796648440.789
    assert not windows["net-1"].reverted and windows["net-1"].end == 1796648460.5  # never reverted: to the end
    notes = fault_annotations(EVENTS, RUN, "/r/report.html", dashboard_uid="shop-overview")
    assert [n.label for n in notes] == ["pod-kill-0", "net-1"]
    body = notes[0].to_json()
    assert body["time"] == 1796648410123 and body["timeEnd"] == 1796648440789
    assert body["tags"] == ["chaos", "experiment:checkout-pod-kill", "fault:pod-kill", "target:sandbox"]
    assert "verdict failed" in body["text"] and "availability fail (97.2%)" in body["text"]
    assert body["dashboardUID"] == "shop-overview"
    assert notes[1].to_json()["timeEnd"] == 1796648460500 and "NOT reverted" in notes[1].text


def test_settings_come_from_the_target_else_the_environment_and_secrets_are_scrubbed() -> None:
    env = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/envsecret",
           "GRAFANA_URL": "https://grafana.example.com", "GRAFANA_API_TOKEN": "glsa_envtoken"}
    assert NotifySettings.resolve(None, {}) == NotifySettings()
    from_env = NotifySettings.resolve(NotifySpec(), env)
    assert from_env.slack_webhook == env["SLACK_WEBHOOK_URL"] and from_env.grafana_token == "glsa_envtoken"
    spec = NotifySpec(slack_webhook="https://hooks.slack.com/services/T0/B0/targetsecret", timeout="2s")
    chosen = NotifySettings.resolve(spec, env)
    assert chosen.slack_webhook.endswith("targetsecret") and chosen.grafana_url == env["GRAFANA_URL"]
    assert chosen.timeout == 2.0
    notifier = Notifier(chosen, EXP, "sandbox")
    assert notifier.enabled and notifier.scrub(f"POST {chosen.slack_webhook} glsa_envtoken") == "POST *** ***"
    off = Notifier.for_target(SandboxTarget(), EXP, environ={})
    assert not off.enabled and off.target == "sandbox"


def test_a_secret_in_clear_in_targets_yaml_is_refused_and_an_env_reference_redacted(tmp_path: Path) -> None:
    exp = tmp_path / "x.yaml"
    exp.write_text("name: x\ntitle: x\ntarget: sandbox\nprobes: [{name: s, http: {url: /}}]\n"
                   "slos: [{name: up, sli: probe.s.success_ratio, objective: '>= 1%'}]\n"
                   "timeline: {baseline: 1s, recovery: 1s}\n")
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets:\n  sandbox:\n    kind: sandbox\n    notify:\n"
                       "      slack_webhook: https://hooks.slack.com/services/T/B/clear\n"
                       "      grafana_token: ${env:GRAFANA_TOKEN}\n")
    with pytest.raises(InvalidExperiment) as err:
        load_experiment(exp, targets_path=targets, environ={"GRAFANA_TOKEN": "glsa_x"})
    assert "targets.sandbox.notify.slack_webhook: a secret written in clear" in str(err.value)
    assert "grafana_token" not in str(err.value) and f"{targets}:5" in str(err.value)
    targets.write_text(targets.read_text().replace("https://hooks.slack.com/services/T/B/clear", "${env:HOOK}"))
    loaded = load_experiment(exp, targets_path=targets, environ={"GRAFANA_TOKEN": "glsa_x", "HOOK": "https://h/s"})
    assert loaded.target.notify.slack_webhook == "https://h/s" and loaded.redact("https://h/s glsa_x") == "*** ***"
