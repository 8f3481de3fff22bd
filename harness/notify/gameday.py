"""A game day's own Slack messages: when it starts (what, where, owners, planned end) and when it ends
(each run's verdict, the game-day report). Each run inside still announces itself (``Notifier``).

Sent synchronously between runs, bounded like every notification (``notify.timeout``); outcomes are
appended to ``notify.jsonl`` in the game-day folder, never raised.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from harness.clients.slack import SlackMessage, SlackWebhook
from harness.events import Event
from harness.notify import NotifySettings
from harness.notify.delivery import Outbox
from harness.notify.messages import clock, report_link


def started_message(state: Mapping[str, Any], planned_seconds: float, link: str, now: float) -> SlackMessage:
    planned = list(state.get("planned") or [])
    owners = ", ".join(state.get("owners") or []) or "—"
    return SlackMessage(
        header=f"🎯 Game day started: {state.get('title')}",
        text=f"Game day {state.get('name')} started on {state.get('target')}: {len(planned)} experiments, "
             f"planned end {clock(now + planned_seconds)}",
        fields=[("Game day", f"`{state.get('name')}`"), ("Target", str(state.get("target"))), ("Owners", owners),
                ("Started", clock(now)), ("Planned end", f"{clock(now + planned_seconds)} (~{planned_seconds:.0f} s)"),
                ("Experiments", str(len(planned)))],
        sections=["\n".join(f"{i}. `{Path(p).stem}`" for i, p in enumerate(planned, 1))] if planned else [],
        context=[f"Report (when done): `{link}`"] + ([f"runbook: {state['runbook']}"] if state.get("runbook") else []),
    )


def ended_message(state: Mapping[str, Any], link: str) -> SlackMessage:
    runs: Sequence[Mapping[str, Any]] = state.get("runs") or []
    rows = [("experiment", "status", "exit")] + [(str(r.get("name")), str(r.get("status")), str(r.get("exit_code")))
                                                 for r in runs]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    table = "```\n" + "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                                for r in rows) + "\n```"
    verdict = str(state.get("verdict") or state.get("status"))
    icon = "✅" if state.get("exit_code") == 0 else ("🚨" if state.get("exit_code") == 4 else "❌")
    sections = [table] if runs else []
    if state.get("stopped_because"):
        sections.append(f"*Stopped*: {state['stopped_because']}")
    return SlackMessage(
        header=f"{icon} Game day {state.get('status')}: {state.get('title')}",
        text=f"Game day {state.get('name')} on {state.get('target')}: {verdict} (exit {state.get('exit_code')})",
        fields=[("Game day", f"`{state.get('name')}`"), ("Target", str(state.get("target"))),
                ("Verdict", f"{verdict} (exit {state.get('exit_code')})"), ("Runs", f"{len(runs)} of "
                f"{len(state.get('planned') or [])}")],
        sections=sections,
        context=[f"Report: `{link}`"],
    )


class GameDayAnnouncer:
    """Slack messages of one game day (a no-op without a webhook)."""

    def __init__(self, settings: NotifySettings, folder: Path) -> None:
        self.settings = settings
        self.folder = folder
        self.slack = SlackWebhook(settings.slack_webhook, timeout=min(3.0, settings.timeout)) \
            if settings.slack_webhook else None

    def _scrub(self, text: str) -> str:
        for secret in self.settings.secrets():
            text = text.replace(secret, "***")
        return text

    def _record(self, event: Event, **fields: Any) -> None:
        with open(self.folder / "notify.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"ts": time.time(), "type": str(event), **fields}) + "\n")

    def _send(self, name: str, build: Any) -> None:
        if self.slack is None:
            return
        outbox = Outbox(self.settings.timeout, self._scrub)
        outbox.record = self._record
        try:
            call = partial(self.slack.post, build())
        except Exception as exc:  # noqa: BLE001 - a notification never fails a game day
            outbox.failed_now("slack", name, f"{type(exc).__name__}: {exc}")
            return

        async def deliver() -> None:
            outbox.send("slack", name, call)
            await outbox.flush()

        asyncio.run(deliver())

    def started(self, state: Mapping[str, Any], planned_seconds: float) -> None:
        link = report_link(self.folder, self.settings.report_url)
        self._send("gameday started", lambda: started_message(state, planned_seconds, link, time.time()))

    def ended(self, state: Mapping[str, Any]) -> None:
        link = report_link(self.folder, self.settings.report_url)
        self._send("gameday ended", lambda: ended_message(state, link))
