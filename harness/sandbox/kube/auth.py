"""Bearer-token authentication for the sandbox's API server, answered as a real API server answers it.

Every request must carry ``Authorization: Bearer <token>``, the token written in the sandbox's
kubeconfig (``users[].user.token``). Without one, only the public health and version paths answer (a
real API server lets ``system:anonymous`` read them through ``system:public-info-viewer``); a request
carrying a wrong token is refused everywhere, public paths included. A refusal is a 401 ``Status``::

    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
     "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from .io import json_response
from .status import failure

#: Paths an anonymous request (no Authorization header) may read.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/livez", "/version"})


def new_token() -> str:
    """A random bearer token for one sandbox."""
    return secrets.token_urlsafe(32)


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive), else None."""
    parts = (header or "").strip().split(" ")
    if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


def token_matches(header: str | None, token: str) -> bool:
    """Whether ``header`` carries ``token`` (compared in constant time)."""
    given = bearer(header)
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def allowed(path: str, header: str | None, token: str) -> bool:
    """Whether a request for ``path`` with this Authorization header gets past authentication."""
    if header is None:
        return path.rstrip("/") in PUBLIC_PATHS
    return token_matches(header, token)


def unauthorized() -> web.Response:
    """The 401 ``Status`` a real API server answers an unauthenticated request with."""
    return json_response(failure(401, "Unauthorized", "Unauthorized"), 401)
