"""A game day's own Slack messages against a loopback receiver: start and end arrive as valid Block
Kit with the game day's facts; a hanging receiver costs no more than the bound and is logged."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from slack_sdk.models.blocks import Block

from harness.notify import NotifySettings
from harness.notify.gameday import GameDayAnnouncer
from tests.notify_receiver import Receiver

HOOK = "/services/T000/B000/gameday-secret-hook"
STATE: dict[str, Any] = {
    "name": "weekly-staging", "title": "Weekly staging game day", "target": "sandbox", "owners": ["team-sre"],
    "planned": ["experiments/checkout-pod-kill.yaml", "experiments/catalog-scale-down.yaml"],
    "runs": [{"name": "checkout-pod-kill", "status": "passed", "exit_code": 0},
             {"name": "catalog-scale-down", "status": "failed", "exit_code": 1}],
    "status": "completed", "verdict": "failed", "exit_code": 1, "stopped_because": None,
}


def _texts(body: dict[str, Any]) -> str:
    blocks = [Block.parse(b) for b in body["blocks"]]
    assert all(b is not None for b in blocks)
    return json.dumps([b.to_dict() for b in blocks if b is not None])


def test_game_day_start_and_end_reach_slack_as_block_kit(tmp_path: Path) -> None:
    with Receiver() as slack:
        announcer = GameDayAnnouncer(NotifySettings(slack_webhook=slack.url + HOOK, timeout=2.0), tmp_path)
        announcer.started(STATE, planned_seconds=95.0)
        announcer.ended(STATE)
        started, ended = slack.bodies(HOOK)
    assert "Weekly staging game day" in _texts(started) and "team-sre" in _texts(started)
    assert "checkout-pod-kill" in _texts(started) and "(~95 s)" in _texts(started)
    assert "catalog-scale-down  failed  1" in _texts(ended) and "exit 1" in ended["text"]
    log = [json.loads(line) for line in (tmp_path / "notify.jsonl").read_text().splitlines()]
    assert [e["type"] for e in log] == ["notify.sent", "notify.sent"]


def test_a_hanging_receiver_is_given_up_within_the_bound(tmp_path: Path) -> None:
    with Receiver(mode="hang") as slack:
        announcer = GameDayAnnouncer(NotifySettings(slack_webhook=slack.url + HOOK, timeout=1.0), tmp_path)
        t0 = time.monotonic()
        announcer.ended(STATE)
        took = time.monotonic() - t0
    assert took < 3.0
    [failed] = [json.loads(line) for line in (tmp_path / "notify.jsonl").read_text().splitlines()]
    assert failed["type"] == "notify.failed" and HOOK not in json.dumps(failed)
