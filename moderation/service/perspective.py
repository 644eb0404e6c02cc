"""Perspective API compatibility: ``comments:analyze`` and ``comments:suggestscore`` (v1alpha1).

A Perspective client switches by changing its base URL to ``http://HOST:PORT/v1alpha1``.
Requests, responses and errors follow Perspective's JSON: ``attributeScores.NAME.summaryScore``
(and ``spanScores`` per sentence with ``spanAnnotations``), Google's error envelope for
unknown attributes or unsupported languages. Suggested scores become rows of a label file
(``text`` + label columns, as read by ``moderation train --data``) in ``feedback_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from moderation.service.auth import require_api_key
from moderation.service.feedback import append_row, label_row
from moderation.service.http import COMMENT_EMPTY, ApiError, parse_body
from moderation.service.state import ServiceState, get_state
from moderation.service.text import html_to_text
from moderation.spans import with_sentences

router = APIRouter(prefix="/v1alpha1", dependencies=[Depends(require_api_key)])

#: Perspective attribute -> our label.
ATTRIBUTES: dict[str, str] = {
    "TOXICITY": "hostility",
    "SEVERE_TOXICITY": "hostility",
    "INSULT": "insult",
    "THREAT": "threat",
    "IDENTITY_ATTACK": "identity_attack",
    "PROFANITY": "profanity",
}
#: Suggestions for these only teach "yes": a comment that is not *severely* toxic may still be hostile.
POSITIVE_ONLY = {"SEVERE_TOXICITY"}
SCORE_TYPE = "PROBABILITY"
FEEDBACK_SOURCE = "perspective-suggestscore"


class TextEntry(BaseModel):
    text: str
    type: str | None = None  # PLAIN_TEXT or HTML


class PerspectiveRequest(BaseModel):
    """Fields both methods share."""

    comment: TextEntry
    languages: list[str] | None = None
    clientToken: str | None = None
    sessionId: str | None = None
    communityId: str | None = None
    context: dict[str, Any] | None = None

    def attribute_names(self) -> list[str]:
        raise NotImplementedError


class AttributeParameters(BaseModel):
    scoreType: str | None = None
    scoreThreshold: float | None = Field(default=None, ge=0, le=1)


class AnalyzeRequest(PerspectiveRequest):
    requestedAttributes: dict[str, AttributeParameters | None]
    doNotStore: bool = False  # nothing analysed is ever stored here
    spanAnnotations: bool = False

    def attribute_names(self) -> list[str]:
        return list(self.requestedAttributes)


class Score(BaseModel):
    value: float = Field(ge=0, le=1)
    type: str | None = None


class SuggestedScores(BaseModel):
    summaryScore: Score | None = None
    spanScores: list[dict[str, Any]] | None = None  # accepted, not stored: labels are per comment


class SuggestRequest(PerspectiveRequest):
    attributeScores: dict[str, SuggestedScores]

    def attribute_names(self) -> list[str]:
        return list(self.attributeScores)


R = TypeVar("R", bound=PerspectiveRequest)


def check_attributes(names: list[str]) -> None:
    if not names:
        raise ApiError(400, f"no attributes requested; supported: {', '.join(ATTRIBUTES)}")
    unknown = [n for n in names if n not in ATTRIBUTES]
    if unknown:
        raise ApiError(400, f"Unknown attribute(s) {', '.join(unknown)}; supported attributes: {', '.join(ATTRIBUTES)}")


def check_languages(state: ServiceState, languages: list[str] | None, attribute: str) -> list[str]:
    """The request's languages if any is supported (Perspective checks all it was given), else 400."""
    supported = state.settings.languages or state.moderator.languages
    if not languages:
        return list(supported)
    if not any(lang.split("-")[0].lower() in supported for lang in languages):
        # Perspective's own wording for this case.
        raise ApiError(400, f"Attribute {attribute} does not support request languages: {','.join(languages)}")
    return languages


def comment_text(entry: TextEntry) -> str:
    text = html_to_text(entry.text) if (entry.type or "").upper() == "HTML" else entry.text
    if not text.strip():
        raise ApiError(400, "Comment text was empty.", error_type=COMMENT_EMPTY)
    return text


async def read_request(request: Request, model: type[R]) -> tuple[ServiceState, R, list[str]]:
    """Parse and check attributes and languages: the service state, the body, the languages to echo."""
    state = get_state(request)
    body = await parse_body(request, model)
    names = body.attribute_names()
    check_attributes(names)
    if isinstance(body, AnalyzeRequest):  # suggestions may name any attribute: they become label files
        withheld = getattr(state.moderator, "withheld", {})
        if off := [n for n in names if ATTRIBUTES[n] in withheld]:
            label = ATTRIBUTES[off[0]]
            raise ApiError(400, f"Attribute {off[0]} is not available from {state.model_name}: its {label} head is withheld ({withheld[label]})")
    return state, body, check_languages(state, body.languages, names[0])


def reply(body: PerspectiveRequest, fields: dict[str, Any], model: str | None) -> dict[str, Any]:
    """A response with the model version, echoing ``clientToken`` as Perspective does."""
    token = {"clientToken": body.clientToken} if body.clientToken is not None else {}
    return {**fields, **token, "model": model}


def suggested_labels(suggested: dict[str, SuggestedScores]) -> dict[str, float]:
    """Our labels from suggested attribute scores; two attributes of one label keep the higher."""
    labels: dict[str, float] = {}
    for name, scores in suggested.items():
        value = scores.summaryScore.value
        if name in POSITIVE_ONLY and value < 0.5:
            continue
        label = ATTRIBUTES[name]
        labels[label] = max(value, labels.get(label, value))
    return labels


def _score(value: float) -> dict[str, Any]:
    return {"value": round(float(value), 6), "type": SCORE_TYPE}


@router.post("/comments:analyze")
async def analyze(request: Request) -> dict[str, Any]:
    state, body, languages = await read_request(request, AnalyzeRequest)
    for name, params in body.requestedAttributes.items():
        if params and params.scoreType not in (None, SCORE_TYPE):
            raise ApiError(400, f"Attribute {name}: unsupported scoreType {params.scoreType!r}; only {SCORE_TYPE}")
    text = comment_text(body.comment)
    spans, texts = with_sentences(text, state.settings.max_comments - 1) if body.spanAnnotations else ([], [text])
    # The whole comment and its sentences share one trip through the batcher.
    probs = await state.score(texts)
    column = {label: i for i, label in enumerate(state.moderator.labels)}
    scores: dict[str, Any] = {}
    for name, params in body.requestedAttributes.items():
        col = probs[:, column[ATTRIBUTES[name]]]
        floor = params.scoreThreshold if params and params.scoreThreshold is not None else 0.0
        if col[0] < floor:
            continue  # Perspective omits attributes scoring below the requested threshold
        entry: dict[str, Any] = {"summaryScore": _score(col[0])}
        if body.spanAnnotations:
            entry["spanScores"] = [
                {"begin": b, "end": e, "score": _score(p)} for (b, e), p in zip(spans, col[1:]) if p >= floor
            ]
        scores[name] = entry
    return reply(body, {"attributeScores": scores, "languages": languages}, state.model_name)


@router.post("/comments:suggestscore")
async def suggest_score(request: Request) -> dict[str, Any]:
    state, body, languages = await read_request(request, SuggestRequest)
    missing = [n for n, s in body.attributeScores.items() if s.summaryScore is None]
    if missing:
        raise ApiError(400, f"attributeScores.{missing[0]}.summaryScore is required (span-only suggestions are not stored)")
    row = label_row(comment_text(body.comment), suggested_labels(body.attributeScores), FEEDBACK_SOURCE)
    path = append_row(Path(state.settings.feedback_dir), "suggestscore", row)
    state.log.info("feedback stored", extra={"event": "feedback", "file": str(path), "id": row["id"]})
    return reply(body, {"requestedLanguages": languages}, state.model_name)
