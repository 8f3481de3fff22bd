"""The notification sinks against loopback receivers started here: Slack's payloads arrive as valid
Block Kit, Grafana gets one annotation per fault with the journal's exact times and a Bearer token,
and a receiver that hangs or answers 500 costs no more than the sink's bound, never an exception."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from harness.events import Event
from harness.journal import Journal, read_journal
from harness.notify import Notifier, NotifySettings
from harness.spec.models import Experiment
from tests.notify_receiver import Receiver

EXP = Experiment.model_validate({
    "name": "catalog-pod-kill", "title": "Catalog survives a pod kill", "owner": "team-catalog",
    "slos": [{"name": "availability", "sli": "load.success_ratio", "objective": ">= 99%"}],
    "timeline": {"baseline": "2s", "recovery": "2s", "faults": [
        {"at": "0s", "pod-kill": {"namespace": "shop", "selector": "app=catalog", "count": 1, "duration": "2s"}},
        {"at": "1s", "name": "slow-db", "pod-kill": {"namespace": "shop", "selector": "app=cart", "count": 1}}]},
})
TOKEN = "glsa_component-secret-token"
HOOK = "/services/T000/B000/component-secret-hook"


def _journal(run_dir: Path) -> Journal:
    """A run's journal with two fault windows, as a run writes it."""
    journal = Journal(run_dir / "events.jsonl")
    journal.write(Event.RUN_STARTED, name=EXP.name, target="sandbox")
    for fid, kind in (("pod-kill-0", "pod-kill"), ("slow-db", "pod-kill")):
        journal.write(Event.FAULT_UNDO, id=fid, kind=kind, undo={})
        journal.write(Event.FAULT_INJECTED, id=fid, kind=kind, targets=[f"shop/{fid}"])
    journal.write(Event.FAULT_REVERTED, id="slow-db", kind="pod-kill", targets=[])
    journal.write(Event.FAULT_REVERTED, id="pod-kill-0", kind="pod-kill", targets=[])
    journal.write(Event.RUN_STOPPING)
    return journal


RUN: dict[str, Any] = {"name": EXP.name, "title": EXP.title, "target": "sandbox", "status": "passed", "exit_code": 0,
                       "slos": [{"name": "availability", "objective": ">= 99%", "display": "99.9%", "status": "pass"}],
                       "faults": [{"id": "pod-kill-0", "kind": "pod-kill"}, {"id": "slow-db", "kind": "pod-kill"}],
                       "recovery_seconds": 0.0}


def _notify(tmp_path: Path, slack: Receiver | None, grafana: Receiver | None, timeout: float = 1.0,
            abort: bool = False) -> tuple[float, list[dict[str, Any]]]:
    """One run's notifications (start, maybe an abort, end); returns the seconds ``ended`` took and
    the journal."""
    settings = NotifySettings(slack_webhook=slack.url + HOOK if slack else None,
                              grafana_url=grafana.url if grafana else None, grafana_token=TOKEN, timeout=timeout)
    journal = _journal(tmp_path)

    async def run() -> float:
        notifier = Notifier(settings, EXP, "sandbox")
        notifier.started(journal.write, tmp_path)
        if abort:
            notifier.aborted("guard fired", "aborted", ["pod-kill-0 (pod-kill)"])
        t0 = time.monotonic()
        await notifier.ended(RUN)
        return time.monotonic() - t0

    took = asyncio.run(run())
    journal.close()
    return took, read_journal(tmp_path / "events.jsonl")


def test_slack_gets_valid_block_kit_and_grafana_one_annotation_per_fault_window(tmp_path: Path) -> None:
    with Receiver() as slack, Receiver() as grafana:
        _, events = _notify(tmp_path, slack, grafana, abort=True)
    posts = slack.bodies(HOOK)
    assert len(posts) == 3  # started, aborted, ended (order between the first two is the network's)
    for body in posts:
        assert body["text"] and all(Block.parse(b) is not None and Block.parse(b).to_dict() == b for b in body["blocks"])
    headers = sorted(p["blocks"][0]["text"]["text"] for p in posts)
    assert any("started" in h for h in headers) and any("aborted" in h for h in headers)
    assert any("passed" in h for h in headers)
    notes = grafana.bodies("/api/annotations")
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in grafana.requests)
    first = {e["id"]: e["ts"] for e in reversed(events) if e["type"] == "fault.undo"}
    reverted = {e["id"]: e["ts"] for e in events if e["type"] == "fault.reverted"}
    by_fault = {n["tags"][2]: n for n in notes}
    assert len(notes) == 2 and {n["time"] for n in notes} == {round(t * 1000) for t in first.values()}
    for fid in first:
        note = next(n for n in notes if n["time"] == round(first[fid] * 1000))
        assert note["timeEnd"] == round(reverted[fid] * 1000)
        assert f"experiment:{EXP.name}" in note["tags"] and "target:sandbox" in note["tags"]
    assert "fault:pod-kill" in by_fault and "verdict passed" in by_fault["fault:pod-kill"]["text"]
    sent = [e for e in events if e["type"] == "notify.sent"]
    assert sorted((e["sink"], e["message"]) for e in sent) == [
        ("grafana", "annotation pod-kill-0"), ("grafana", "annotation slow-db"),
        ("slack", "aborted"), ("slack", "ended"), ("slack", "started")]


@pytest.mark.parametrize("mode", ["hang", "fail"])
def test_a_hanging_or_failing_receiver_costs_no_more_than_the_bound(tmp_path: Path, mode: str) -> None:
    # a failing receiver gets a bound long enough for the second attempt: the first backoff is
    # 0.2 s plus up to 1 s of jitter, so with a 1 s bound a retry could be cut off before it is sent
    bound = 1.0 if mode == "hang" else 2.5
    with Receiver(mode) as slack, Receiver(mode) as grafana:
        took, events = _notify(tmp_path, slack, grafana, timeout=bound)
    assert took < bound + 1.5, f"ended() took {took:.2f} s with a receiver that does {mode}"
    failed = [e for e in events if e["type"] == "notify.failed"]
    assert sorted(e["message"] for e in failed) == ["annotation pod-kill-0", "annotation slow-db", "ended", "started"]
    assert all(e["seconds"] <= bound + 0.5 for e in failed)
    if mode == "fail":  # retried (transient), then given up
        assert len(slack.requests) > 2 and any(e["type"] == "retry" for e in events)
        assert all("500" in e["error"] for e in failed)
    else:
        # one attempt's own timeout is the bound too: whichever fires first names the failure
        assert all(e["error"] == f"not sent within {bound:g} s" or "timed out" in e["error"] for e in failed)
    text = (tmp_path / "events.jsonl").read_text()
    assert TOKEN not in text and HOOK not in text


def test_a_transient_failure_is_retried_then_sent(tmp_path: Path) -> None:
    with Receiver("flaky") as slack:
        took, events = _notify(tmp_path, slack, None, timeout=5.0)
    assert [e["type"] for e in events if e.get("sink") == "slack"] == ["notify.sent", "notify.sent"]
    assert len(slack.requests) == 4 and sum(e["type"] == "retry" for e in events) == 2
    assert took < 5.0


def test_an_unreachable_receiver_fails_quietly_without_the_secret(tmp_path: Path) -> None:
    with Receiver() as gone:
        url = gone.url
    settings = NotifySettings(slack_webhook=url + HOOK, timeout=0.8)
    journal = _journal(tmp_path)

    async def run() -> None:
        notifier = Notifier(settings, EXP, "sandbox")
        notifier.started(journal.write, tmp_path)
        await notifier.ended(RUN)

    asyncio.run(run())
    journal.close()
    failed = [e for e in read_journal(tmp_path / "events.jsonl") if e["type"] == "notify.failed"]
    assert sorted(e["message"] for e in failed) == ["ended", "started"]
    assert HOOK not in (tmp_path / "events.jsonl").read_text()


def test_nothing_the_notifier_meets_reaches_the_run(tmp_path: Path) -> None:
    with Receiver() as slack, Receiver() as grafana:
        settings = NotifySettings(slack_webhook=slack.url + HOOK, grafana_url=grafana.url, grafana_token=TOKEN,
                                  timeout=1.0)
        journal = _journal(tmp_path)
        notifier = Notifier(settings, EXP, "sandbox")
        notifier.started(journal.write, tmp_path)  # outside any event loop: given up, not raised
        (tmp_path / "events.jsonl").rename(tmp_path / "moved.jsonl")  # the journal unreadable at the end
        asyncio.run(notifier.ended({"slos": [1, 2], "status": "weird"}))  # a verdict it cannot format
        journal.close()
    assert not slack.requests and not grafana.requests
    failed = [e for e in read_journal(tmp_path / "moved.jsonl") if e["type"] == "notify.failed"]
    assert [(e["sink"], e["message"]) for e in failed] == [("slack", "started"), ("slack", "ended"),
                                                            ("grafana", "annotations")]
    assert "RuntimeError" in failed[0]["error"] and "AttributeError" in failed[1]["error"]
