"""Coral Talk external moderation phase: ``POST /v1/coral``.

Coral POSTs ``{"action", "comment": {"body", "parentID"}, "author", "story": {"id", "url"},
"site", "tenant"}`` signed with the phase's signing secret: header ``X-Coral-Signature`` holds
``sha256=<hex HMAC-SHA256 of the raw body>``, several comma-separated while a rotated secret
is still active. We answer 204 (no opinion) or 200 with ``actions`` (a FLAG with reason
COMMENT_DETECTED_TOXIC) and ``status`` when a label scores strictly above its threshold,
the same comparison Coral applies to Perspective's score (default 0.8).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from moderation.service.http import ApiError, parse_body
from moderation.service.state import get_state
from moderation.service.text import html_to_text

router = APIRouter()

SIGNATURE_HEADER = "X-Coral-Signature"
#: Coral has no flag reason for misinformation; every label flags as "toxic", the details say which.
FLAG_REASON = "COMMENT_DETECTED_TOXIC"


class CoralComment(BaseModel):
    body: str
    parentID: str | None = None


class CoralRef(BaseModel):
    id: str | None = None
    url: str | None = None
    role: str | None = None
    domain: str | None = None


class CoralRequest(BaseModel):
    action: str | None = None  # NEW or EDIT: both are judged the same way
    comment: CoralComment
    author: CoralRef | None = None
    story: CoralRef | None = None
    site: CoralRef | None = None
    tenant: CoralRef | None = None


def sign(secret: str, body: bytes) -> str:
    """The header value Coral sends for ``body`` (used by tests and the README example)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    expected = sign(secret, body)
    return any(hmac.compare_digest(part.strip().encode(), expected.encode()) for part in header.split(","))


@router.post("/v1/coral", response_model=None)
async def moderate(request: Request) -> Response | dict[str, Any]:
    state = get_state(request)
    if state.coral_secret is None:
        raise ApiError(403, f"Coral endpoint disabled: set the signing secret in ${state.settings.coral_secret_env}")
    if not signature_valid(state.coral_secret, await request.body(), request.headers.get(SIGNATURE_HEADER)):
        state.metrics.coral.labels("bad_signature").inc()
        raise ApiError(401, f"missing or invalid {SIGNATURE_HEADER} signature")
    body = await parse_body(request, CoralRequest)
    text = html_to_text(body.comment.body)
    if not text.strip():
        state.metrics.coral.labels("none").inc()
        return Response(status_code=204)
    withheld = getattr(state.moderator, "withheld", {})
    probs = {label: p for label, p in zip(state.moderator.labels, (await state.score([text]))[0]) if label not in withheld}
    scores = {label: round(float(p), 4) for label, p in probs.items()}
    over = {label: t for label, t in state.settings.coral_thresholds.items() if label in probs and probs[label] > t}
    if not over:
        state.metrics.coral.labels("none").inc()
        return Response(status_code=204)
    state.metrics.coral.labels("flag").inc()
    details = ", ".join(f"{label} {scores[label]:.2f} > {t:g}" for label, t in over.items())
    return {
        "actions": [{"actionType": "FLAG", "reason": FLAG_REASON, "additionalDetails": details}],
        "status": state.settings.coral_status,
        "metadata": {"moderation": {"model": state.model_name, "scores": scores}},
    }
