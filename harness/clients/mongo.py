"""MongoDB replica-set administration through pymongo: ``hello``, ``replSetStepDown``, ``replSetFreeze``.

Written against the documented commands (no MongoDB server runs where this was built):
- ``{hello: 1}`` -> ``isWritablePrimary``, ``setName``, ``primary``, ``me``, ``hosts``;
- ``{replSetStepDown: <secs>, secondaryCatchUpPeriodSecs: <secs>, force: <bool>}`` on the primary
  (admin database); the primary may drop connections while stepping down, so a network error after
  sending it is checked with ``hello`` rather than taken as failure;
- ``{replSetFreeze: <secs>}`` on one member; ``0`` makes a frozen or stepped-down member electable.

Calls are blocking; async callers use ``asyncio.to_thread``. Errors map onto the harness tree:
unreachable servers are TransientClientError, refused commands (OperationFailure) PermanentClientError.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from pymongo import MongoClient
from pymongo.errors import ConfigurationError, ConnectionFailure, OperationFailure, PyMongoError
from pymongo.uri_parser import parse_uri

from harness.errors import PermanentClientError, TransientClientError

_PASSWORD_RE = re.compile(r"(mongodb(?:\+srv)?://[^:/@]+):[^@/]*@")


def redact_uri(uri: str) -> str:
    """The URI without its password (safe to journal)."""
    return _PASSWORD_RE.sub(r"\1@", uri)


def uri_hosts(uri: str) -> list[str]:
    """``host:port`` of every seed in the URI (ValueError when it does not parse)."""
    try:
        return [f"{h}:{p}" for h, p in parse_uri(uri, warn=True, connect_timeout=1)["nodelist"]]
    except (ConfigurationError, ValueError) as exc:
        raise ValueError(f"invalid MongoDB URI {redact_uri(uri)}: {exc}") from None


@contextlib.contextmanager
def mapped(what: str) -> Iterator[None]:
    """Turn pymongo errors raised inside into the harness's client errors."""
    try:
        yield
    except OperationFailure as exc:
        raise PermanentClientError(f"{what}: {exc.details.get('errmsg') if exc.details else exc}",
                                   exc.code) from None
    except ConnectionFailure as exc:
        raise TransientClientError(f"{what}: {exc}") from None
    except (PyMongoError, ValueError) as exc:
        raise PermanentClientError(f"{what}: {exc}") from None


_SET_OPTIONS = ("replicaset", "directconnection", "loadbalanced", "srvservicename", "srvmaxhosts")
"""URI options about the whole set, which do not apply to a connection to one member."""


def direct_options(uri: str) -> dict[str, Any]:
    """The MongoClient options to reach one member of ``uri``'s replica set directly, keeping what the URI says
    about security: credentials, ``authSource`` (the URI's database when not given, as the driver does),
    the auth mechanism, TLS and its files (a ``mongodb+srv`` URI implies TLS), timeouts, compressors."""
    parsed = parse_uri(uri)
    opts: dict[str, Any] = {k: v for k, v in dict(parsed["options"]).items() if k.lower() not in _SET_OPTIONS}
    if parsed.get("username") is not None:
        opts["username"] = parsed["username"]
        if parsed.get("password") is not None:
            opts["password"] = parsed["password"]
        if parsed.get("database") and not any(k.lower() == "authsource" for k in opts):
            opts["authSource"] = parsed["database"]
    opts["directConnection"] = True
    return opts


class MongoAdmin:
    """Administrative commands on one replica set (``uri``), with short, explicit timeouts."""

    def __init__(self, uri: str, timeout: float = 5.0) -> None:
        self.uri = uri
        self.timeout_ms = int(timeout * 1000)

    def _client(self, member: str | None = None) -> MongoClient[dict[str, Any]]:
        options: dict[str, Any] = {"serverSelectionTimeoutMS": self.timeout_ms, "connectTimeoutMS": self.timeout_ms,
                                   "socketTimeoutMS": self.timeout_ms * 4, "appname": "harness"}
        if member is None:
            return MongoClient(self.uri, **options)
        host, port = member.rsplit(":", 1)
        return MongoClient(host, int(port), **{**direct_options(self.uri), **options})  # our timeouts win

    def command(self, body: dict[str, Any], member: str | None = None) -> dict[str, Any]:
        """Run one admin command (on the primary, or on ``member`` directly) and return its reply."""
        what = f"{next(iter(body))} on {member or redact_uri(self.uri)}"
        with mapped(what):
            client = self._client(member)
            try:
                reply: dict[str, Any] = client.admin.command(body)
            finally:
                client.close()
        return reply

    def hello(self, member: str | None = None) -> dict[str, Any]:
        """The ``hello`` reply (of the primary when one is selectable, else of ``member``)."""
        return self.command({"hello": 1}, member)

    def primary(self) -> str:
        """``host:port`` of the current primary; PermanentClientError when this is not a replica set."""
        reply = self.hello()
        if not reply.get("setName"):
            raise PermanentClientError(f"{redact_uri(self.uri)} is not a replica set member (no setName)")
        primary = reply.get("primary") or (reply.get("me") if reply.get("isWritablePrimary") else None)
        if not primary:
            raise TransientClientError(f"replica set {reply['setName']} has no primary right now")
        return str(primary)

    def step_down(self, step_down_secs: int, catch_up_secs: int, force: bool = False) -> str:
        """``replSetStepDown`` on the primary; returns the stepped-down member (``host:port``)."""
        old = self.primary()
        body = {"replSetStepDown": int(step_down_secs), "secondaryCatchUpPeriodSecs": int(catch_up_secs),
                "force": bool(force)}
        try:
            self.command(body, member=old)
        except TransientClientError:
            # the primary closes connections as it steps down: check it really did
            if self.hello(member=old).get("isWritablePrimary"):
                raise
        return old

    def freeze(self, member: str, seconds: int) -> dict[str, Any]:
        """``replSetFreeze`` on one member; ``0`` unfreezes it (also after a step-down)."""
        return self.command({"replSetFreeze": int(seconds)}, member=member)
