"""``POST /v1/score``: the native batch API (several comments per call, all labels).

The optional ``context`` (article title and text) is accepted and validated but not yet
used: the model scores comments alone, as ``moderation score`` does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from moderation.service.auth import require_api_key
from moderation.service.http import COMMENT_EMPTY, ApiError, parse_body
from moderation.service.state import get_state

router = APIRouter(dependencies=[Depends(require_api_key)])


class CommentIn(BaseModel):
    id: str | int | None = None
    text: str


class ArticleContext(BaseModel):
    article_title: str | None = None
    article_text: str | None = None


class ScoreRequest(BaseModel):
    comments: list[CommentIn]
    context: ArticleContext | None = None


@router.post("/v1/score")
async def score(request: Request) -> dict[str, Any]:
    """Score comments: ``{"model", "results": [{"id", "scores", "labels"}]}`` in input order."""
    state = get_state(request)
    body = await parse_body(request, ScoreRequest)
    limit = state.settings.max_comments
    if len(body.comments) > limit:
        raise ApiError(413, f"too many comments: {len(body.comments)} in one request, the limit is {limit} (max_comments)")
    texts = [c.text for c in body.comments]
    empty = [i for i, text in enumerate(texts) if not text.strip()]
    if empty:
        raise ApiError(400, f"comments.{empty[0]}.text is empty ({len(empty)} empty comment(s)); nothing is scored",
                       error_type=COMMENT_EMPTY)
    probs = await state.score(texts)
    ids = [None if c.id is None else str(c.id) for c in body.comments]
    # _to_scores applies the served thresholds and truncation flags exactly as the CLI does.
    scored = state.moderator._to_scores(probs, ids, texts)
    results = [{k: v for k, v in s.to_dict().items() if k != "model"} for s in scored]
    return {"model": state.model_name, "results": results}
