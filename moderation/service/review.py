"""The review report over HTTP: ``POST /v1/review`` scores a batch and answers the HTML page that
``moderation report`` writes; ``GET /review`` is a small form that posts a batch and opens the answer.

Why two: the report is a view of data the client sends, so it is the response of a POST (the batch
is a body, up to ``max_comments`` comments, and nothing is stored); a GET cannot carry the batch,
so ``GET /review`` serves only the form, which holds no data and needs no key. The POST takes the
API key like every scoring endpoint.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from moderation import report as rep
from moderation.service.auth import require_api_key
from moderation.service.http import ApiError, parse_body
from moderation.service.native import CommentIn
from moderation.service.state import get_state

router = APIRouter()


class ReviewComment(CommentIn):
    """A comment and, when it came from a page, where: as ``moderation score`` writes them."""

    author: str | None = None
    source: str | None = None
    title: str | None = None
    position: int | None = None


class ReviewRequest(BaseModel):
    comments: list[ReviewComment]
    title: str = "Moderation review"


@router.post("/v1/review", response_class=HTMLResponse, dependencies=[Depends(require_api_key)])
async def review(request: Request) -> HTMLResponse:
    """Score the comments (and the sentences of the flagged ones) and answer the review page."""
    state = get_state(request)
    body = await parse_body(request, ReviewRequest)
    limit = state.settings.max_comments
    if len(body.comments) > limit:
        raise ApiError(413, f"too many comments: {len(body.comments)} in one request, the limit is {limit} (max_comments)")
    if not body.comments:
        raise ApiError(422, "invalid request: comments is empty")
    texts = [c.text for c in body.comments]
    moderator = state.moderator
    scored = moderator._to_scores(await state.score(texts), [None if c.id is None else str(c.id) for c in body.comments], texts)
    records = []
    for number, (comment, scores) in enumerate(zip(body.comments, scored), 1):
        page = comment.model_dump(include={"author", "source", "title", "position"}, exclude_none=True)
        records.append({**scores.to_dict(), "id": scores.id or str(number), **page})
    data = rep.Report(records, list(moderator.emitted_labels), dict(moderator.thresholds), state.model_name,
                      [f"POST /v1/review: {len(records)} comments"], texts)

    async def predict(sentences: list[str]):  # type: ignore[no-untyped-def]
        # In request-sized steps, so one review never overfills the shared queue.
        import numpy as np

        return np.vstack([await state.score(sentences[i:i + limit]) for i in range(0, len(sentences), limit)])

    plan = rep.why_plan(data, limit)
    sentences = [s for _, _, batch in plan for s in batch]
    if sentences:
        rep.attach_why(data, plan, await predict(sentences))
    return HTMLResponse(rep.render(data, body.title))


FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Moderation review</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:900px}textarea{width:100%;height:260px}</style></head>
<body><h1>Review a batch of comments</h1>
<p>Paste JSON lines (<code>{"id": "1", "text": "...", "author": "...", "source": "...", "title": "..."}</code>, one comment per line)
or <code>{"comments": [...]}</code>, or choose a file. The service scores them and opens the review page, which you can save.</p>
<form id="f"><textarea id="t" name="t"></textarea><p><input type="file" id="file" accept=".jsonl,.json">
<label>API key <input id="key" type="password" autocomplete="off"></label> <button id="go">Review</button></p></form>
<p id="msg"></p>
<script>
"use strict";
document.getElementById("file").addEventListener("change", async (e) => { document.getElementById("t").value = await e.target.files[0].text(); });
document.getElementById("f").addEventListener("submit", async (e) => {
  e.preventDefault();
  const raw = document.getElementById("t").value.trim(), msg = document.getElementById("msg");
  let body;
  try { body = JSON.parse(raw); if (Array.isArray(body)) body = {comments: body}; }
  catch (_) {
    try { body = {comments: raw.split("\\n").filter((l) => l.trim()).map((l) => JSON.parse(l))}; }
    catch (err) { msg.textContent = "error: not JSON lines: " + err.message; return; }
  }
  const headers = {"Content-Type": "application/json"}, key = document.getElementById("key").value;
  if (key) headers["X-API-Key"] = key;
  msg.textContent = "scoring…";
  const r = await fetch("v1/review", {method: "POST", headers, body: JSON.stringify(body)});
  if (!r.ok) { msg.textContent = "error: " + ((await r.json()).error || {}).message; return; }
  location.href = URL.createObjectURL(new Blob([await r.text()], {type: "text/html"}));
});
</script></body></html>
"""


@router.get("/review", response_class=HTMLResponse)
async def review_form() -> HTMLResponse:
    """The form that posts a batch to ``/v1/review`` (static: no data, no key)."""
    return HTMLResponse(FORM)
