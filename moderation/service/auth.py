"""Optional API key: required on every scoring endpoint when its environment variable is set.

Accepted as ``X-API-Key`` (native clients), ``X-Goog-Api-Key`` or ``?key=`` (how Google
API clients, Perspective's included, send theirs). The Coral endpoint is authenticated by
its HMAC signature instead, since Coral cannot add headers to its moderation calls.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from moderation.service.http import ApiError
from moderation.service.state import get_state

KEY_HEADERS = ("x-api-key", "x-goog-api-key")


def require_api_key(request: Request) -> None:
    """FastAPI dependency: 401 when a key is configured and this request lacks it."""
    expected = get_state(request).api_key
    if expected is None:
        return
    given = next((request.headers[h] for h in KEY_HEADERS if h in request.headers), None) or request.query_params.get("key")
    if not given:
        raise ApiError(401, "missing API key: send it in the X-API-Key header (Perspective clients: ?key=)")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "invalid API key")
