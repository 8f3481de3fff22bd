"""Notifications: a run announces itself in Slack and marks its fault windows in Grafana.

``Notifier.for_target`` reads the target's ``notify:`` settings, falling back to the conventional
environment variables (``SLACK_WEBHOOK_URL``, ``GRAFANA_URL``, ``GRAFANA_API_TOKEN``); with none set
it does nothing. The run calls ``started`` once its folder exists, ``aborted`` / ``revert_failed`` the
moment they happen, and ``await ended(run)`` with the verdict. Every message is sent in the background,
retried on transient errors and given up after ``notify.timeout`` seconds (``harness.notify.delivery``);
the webhook URL and the token are secrets: scrubbed from everything the notifier journals.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from harness.clients.grafana import GrafanaAnnotations
from harness.clients.slack import SlackWebhook
from harness.journal import read_journal
from harness.notify.annotations import fault_annotations
from harness.notify.delivery import Outbox, Recorder
from harness.notify.messages import (
    aborted_message,
    ended_message,
    report_link,
    revert_failed_message,
    started_message,
)
from harness.spec.models import Experiment
from harness.spec.targets import NotifySpec

__all__ = ["NotifySettings", "Notifier"]


@dataclass(frozen=True)
class NotifySettings:
    """Resolved notification settings: the target's, else the environment's."""

    slack_webhook: str | None = None
    grafana_url: str | None = None
    grafana_token: str | None = None
    grafana_dashboard_uid: str | None = None
    report_url: str | None = None
    timeout: float = 5.0

    @classmethod
    def resolve(cls, spec: NotifySpec | None, environ: Mapping[str, str]) -> NotifySettings:
        """``spec``'s values, each unset one taken from its environment variable (empty = unset)."""
        spec = spec or NotifySpec()
        return cls(slack_webhook=spec.slack_webhook or environ.get("SLACK_WEBHOOK_URL") or None,
                   grafana_url=spec.grafana_url or environ.get("GRAFANA_URL") or None,
                   grafana_token=spec.grafana_token or environ.get("GRAFANA_API_TOKEN") or None,
                   grafana_dashboard_uid=spec.grafana_dashboard_uid, report_url=spec.report_url,
                   timeout=spec.timeout)

    def secrets(self) -> list[str]:
        """Values never to be written anywhere."""
        return [s for s in (self.slack_webhook, self.grafana_token) if s]


class Notifier:
    """The notifications of one run (a no-op when nothing is configured)."""

    def __init__(self, settings: NotifySettings, experiment: Experiment, target: str) -> None:
        self.settings = settings
        self.exp = experiment
        self.target = target
        attempt = min(3.0, settings.timeout)
        self.slack = SlackWebhook(settings.slack_webhook, timeout=attempt) if settings.slack_webhook else None
        self.grafana = (GrafanaAnnotations(settings.grafana_url, settings.grafana_token, timeout=attempt)
                        if settings.grafana_url and settings.grafana_token else None)
        self.outbox = Outbox(settings.timeout, self.scrub)
        self.run_dir: Path | None = None

    @classmethod
    def for_target(cls, target: Any, experiment: Experiment, environ: Mapping[str, str] | None = None) -> Notifier:
        """From the target's ``notify:`` (when its model has one) and ``environ`` (default: os.environ)."""
        settings = NotifySettings.resolve(getattr(target, "notify", None), os.environ if environ is None else environ)
        return cls(settings, experiment, str(getattr(target, "name", "") or experiment.target))

    @property
    def enabled(self) -> bool:
        return self.slack is not None or self.grafana is not None

    def scrub(self, text: str) -> str:
        """``text`` without the webhook URL or the token."""
        for secret in sorted(self.settings.secrets(), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def _link(self) -> str:
        return report_link(self.run_dir or Path("."), self.settings.report_url)

    def _send(self, sink: str, message: str, build: Callable[[], Callable[[], Any]]) -> None:
        """Compose the send (``build``) and start it; what cannot even be composed is journaled as
        ``notify.failed``, never raised."""
        try:
            self.outbox.send(sink, message, build())
        except Exception as exc:  # noqa: BLE001 - a notification never fails a run
            self.outbox.failed_now(sink, message, f"{type(exc).__name__}: {exc}")

    def started(self, record: Recorder, run_dir: Path, started: float | None = None) -> None:
        """The run is under way (its folder exists): announce it; outcomes go to ``record`` (the journal)."""
        self.outbox.record, self.run_dir = record, run_dir
        if (slack := self.slack) is not None:
            at = time.time() if started is None else started
            self._send("slack", "started",
                       lambda: partial(slack.post, started_message(self.exp, self.target, at, self._link())))

    def aborted(self, reason: str, status: str, still_injected: Sequence[str]) -> None:
        """The run stops early: say why and what is injected right now (sent at once)."""
        if (slack := self.slack) is not None and self.run_dir is not None:
            still = list(still_injected)
            self._send("slack", "aborted", lambda: partial(slack.post, aborted_message(
                self.exp, self.target, self.scrub(reason), str(status), still, self._link())))

    def revert_failed(self, failure: str, still_injected: Sequence[str]) -> None:
        """A revert failed: say which, and what is still injected (sent at once)."""
        if (slack := self.slack) is not None and self.run_dir is not None:
            still = list(still_injected)
            self._send("slack", "revert_failed", lambda: partial(slack.post, revert_failed_message(
                self.exp, self.target, self.scrub(failure), still, self._link())))

    async def ended(self, run: Mapping[str, Any]) -> None:
        """The verdict to Slack and one annotation per fault to Grafana; returns when every message of
        the run is sent or given up (at most ``timeout`` seconds, plus one)."""
        if self.run_dir is None:
            return
        if (slack := self.slack) is not None:
            self._send("slack", "ended", lambda: partial(slack.post, ended_message(run, self._link())))
        if (grafana := self.grafana) is not None:
            try:
                notes = fault_annotations(read_journal(self.run_dir / "events.jsonl"), run, self._link(),
                                          self.settings.grafana_dashboard_uid)
            except Exception as exc:  # noqa: BLE001 - a notification never fails a run
                self.outbox.failed_now("grafana", "annotations", f"{type(exc).__name__}: {exc}")
                notes = []
            for note in notes:
                self._send("grafana", f"annotation {note.label}", partial(partial, grafana.post, note))  # build → send
        await self.outbox.flush()

