"""Passwords out of connection strings, wherever they sit in a value (connections, undo records)."""

from __future__ import annotations

import re
from typing import Any

_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+):[^@/\s]*@", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"\bpassword\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S+)\s*", re.IGNORECASE)


def strip_passwords(value: Any) -> Any:
    """``value`` (a string, or dicts and lists of them) with every password of a URL
    (``scheme://user:secret@host``) or keyword conninfo (``password=secret``) removed."""
    if isinstance(value, str):
        return _KEYWORD_PASSWORD.sub("", _URL_PASSWORD.sub(r"\1@", value)).strip()
    if isinstance(value, dict):
        return {k: strip_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_passwords(v) for v in value]
    return value
