"""Files only their owner may read: the sandbox's endpoints, kubeconfig, settings and logs hold secrets."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (0600), atomically: through a 0600
    temporary file beside it, renamed over it, so the content is never readable by others."""
    tmp = path.with_name(f".{path.name}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        os.fchmod(f.fileno(), 0o600)  # a temporary file left over by a crash keeps its old mode otherwise
        f.write(text)
    os.replace(tmp, path)


def open_private(path: Path) -> int:
    """A new, empty file at ``path`` (truncated if it exists), mode 0600; returns its descriptor."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return fd
