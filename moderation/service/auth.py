"""Optional API key: required on every scoring endpoint when its environment variable is set.

Accepted as ``X-API-Key`` (native clients), ``X-Goog-Api-Key`` or ``?key=`` (how Google
API clients, Perspective's included, send theirs). The Coral endpoint is authenticated by
its HMAC signature instead, since Coral cannot add headers to its moderation calls.
``/metrics`` has a token of its own, off by default (Prometheus scrapers expect an open
endpoint), sent as ``Authorization: Bearer TOKEN`` as Prometheus' ``authorization`` does.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from fastapi import Request
from starlette.requests import HTTPConnection
from starlette.types import Scope

from moderation.service.http import ApiError
from moderation.service.state import get_state

KEY_HEADERS = ("x-api-key", "x-goog-api-key")


def _given_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    return next((headers[h] for h in KEY_HEADERS if h in headers), None) or query.get("key")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def key_missing_or_wrong(scope: Scope, expected: str | None) -> bool:
    """True when a key is configured and the request (an ASGI scope, before any body is read) lacks it."""
    if expected is None:
        return False
    conn = HTTPConnection(scope)
    given = _given_key(conn.headers, conn.query_params)
    return not (given and _same(given, expected))


def require_api_key(request: Request) -> None:
    """FastAPI dependency: 401 when a key is configured and this request lacks it."""
    expected = get_state(request).api_key
    if expected is None:
        return
    given = _given_key(request.headers, request.query_params)
    if not given:
        raise ApiError(401, "missing API key: send it in the X-API-Key header (Perspective clients: ?key=)")
    if not _same(given, expected):
        raise ApiError(401, "invalid API key")


def require_metrics_token(request: Request) -> None:
    """FastAPI dependency for ``/metrics``: 401 when a metrics token is configured and not sent as a bearer token."""
    expected = get_state(request).metrics_token
    if expected is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not _same(given.strip(), expected):
        raise ApiError(401, "missing or invalid metrics token: send Authorization: Bearer TOKEN", {"WWW-Authenticate": "Bearer"})
