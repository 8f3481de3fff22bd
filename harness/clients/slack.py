"""Slack: a message rendered as Block Kit through slack-sdk's models, posted to an incoming webhook.

The message itself is a plain value (``SlackMessage``) that ``harness.notify.messages`` builds without
knowing slack-sdk; here it becomes blocks (``HeaderBlock``, ``SectionBlock``, ``ContextBlock``), which
slack-sdk validates as they are serialised, trimmed to Slack's limits so a long verdict never makes an
invalid message. ``SlackWebhook.post`` raises ``TransientClientError`` for what a retry may cure
(connection errors, timeouts, 429, 5xx) and ``PermanentClientError`` for the rest; its messages never
carry the webhook URL (it is a secret).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.webhook import WebhookClient

from harness.errors import PermanentClientError, TransientClientError

HEADER_MAX = 150
TEXT_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
BLOCKS_MAX = 50

_quiet = logging.getLogger("harness.clients.slack.sdk")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False  # slack-sdk logs every failed request at ERROR; the run journals it instead


@dataclass(frozen=True)
class SlackMessage:
    """A message as the harness means it: a header, facts as label/value fields, mrkdwn sections and
    a context footer. ``text`` is the plain fallback shown in notifications."""

    header: str
    text: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> SectionBlock:
    if text.startswith("```") and len(text) > TEXT_MAX:  # keep a cut code block closed
        text = text[: TEXT_MAX - 5] + "…\n```"
    return SectionBlock(text=MarkdownTextObject(text=_cut(text, TEXT_MAX)))


def block_models(message: SlackMessage) -> list[Block]:
    """The message as slack-sdk block models, within Slack's size limits."""
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=_cut(message.header, HEADER_MAX)))]
    facts = [MarkdownTextObject(text=_cut(f"*{k}*\n{v}", FIELD_MAX)) for k, v in message.fields]
    for i in range(0, len(facts), FIELDS_MAX):
        blocks.append(SectionBlock(fields=facts[i: i + FIELDS_MAX]))
    room = BLOCKS_MAX - len(blocks) - 2
    blocks += [_section(text) for text in message.sections[:room] if text]
    if message.context:
        blocks.append(DividerBlock())
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_cut(c, FIELD_MAX)) for c in message.context[:10]]))
    return blocks


def to_blocks(message: SlackMessage) -> list[dict[str, Any]]:
    """The message as Block Kit JSON, validated by slack-sdk (``SlackObjectFormationError`` if not)."""
    return [b.to_dict() for b in block_models(message)]


class SlackWebhook:
    """An incoming webhook. No retries of its own: the harness's one policy retries around ``post``."""

    def __init__(self, url: str, timeout: float = 3.0) -> None:
        self._client = WebhookClient(url, timeout=timeout, retry_handlers=[], logger=_quiet)  # type: ignore[arg-type]

    def post(self, message: SlackMessage) -> None:
        """Send ``message``; raises a ClientError (transient or permanent) when Slack did not take it."""
        try:
            resp = self._client.send(text=_cut(message.text, TEXT_MAX), blocks=to_blocks(message))
        except OSError as exc:  # URLError, timeouts, refused connections (never the URL itself)
            reason = getattr(exc, "reason", None) or exc
            raise TransientClientError(f"slack webhook unreachable: {type(exc).__name__}: {reason}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientClientError(f"slack webhook answered {resp.status_code}", status=resp.status_code)
        if resp.status_code >= 300:
            body = _cut(str(resp.body or ""), 200)
            raise PermanentClientError(f"slack webhook answered {resp.status_code}: {body}", status=resp.status_code)
