"""``POST /v1/review`` and ``GET /review``: the review page over a posted batch, through a real
uvicorn server (the helpers of test_service.py) and, for the form, a headless Chromium."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from moderation.labels import LABELS  # noqa: E402
from tests import browser  # noqa: E402
from tests.test_report import payload_of  # noqa: E402
from tests.test_service import Server, serving, tiny_moderator  # noqa: E402,F401  (fixture)

KEY = "review-test-key"
COMMENTS = [
    {"id": "a", "text": "You are wrong. Everyone here knows it. Go away.", "author": "<b>x</b>", "source": "p1", "title": "Story <i>1</i>", "position": 1},
    {"id": "b", "text": "<script>window.__pwned = 1</script> Thanks for the piece.", "source": "p1", "title": "Story <i>1</i>", "position": 2},
    {"text": "No page for this one. Two sentences."},
]


@pytest.fixture(scope="module")
def server(tiny_moderator: Any) -> Iterator[Server]:  # noqa: F811
    os.environ["TEST_REVIEW_KEY"] = KEY
    with serving(tiny_moderator, max_comments=4, queue_size=64, api_key_env="TEST_REVIEW_KEY") as s:
        yield s
    os.environ.pop("TEST_REVIEW_KEY", None)


def post(server: Server, path: str, body: Any, key: str | None = KEY) -> httpx.Response:
    return httpx.post(server.url + path, json=body, headers={"X-API-Key": key} if key else {}, timeout=60)


def test_review_answers_the_report_with_the_served_scores(server: Server) -> None:
    response = post(server, "/v1/review", {"comments": COMMENTS, "title": "Batch <1>"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    data = payload_of(response.text)
    scored = post(server, "/v1/score", {"comments": [{"text": c["text"]} for c in COMMENTS]}).json()
    assert data["text"] == [c["text"] for c in COMMENTS]
    assert data["scores"] == [[round(r["scores"][label] * 10_000) for label in LABELS] for r in scored["results"]]
    assert data["id"] == ["a", "b", "3"] and data["pages"] == [["p1", "Story <i>1</i>"]] and data["page"] == [0, 0, -1]
    assert data["author"] == ["<b>x</b>", None, None] and "<title>Batch &lt;1&gt;</title>" in response.text
    # The "Why" sentences are Perspective's spanScores for the same text (one shared function).
    analyzed = post(server, "/v1alpha1/comments:analyze", {"comment": {"text": COMMENTS[0]["text"]},
                                                           "requestedAttributes": {"IDENTITY_ATTACK": {}}, "spanAnnotations": True}).json()
    spans = analyzed["attributeScores"]["IDENTITY_ATTACK"]["spanScores"]
    j = LABELS.index("identity_attack")
    assert [(s[0], s[1], s[2 + j]) for s in data["why"]["0"]] == \
           [(s["begin"], s["end"], round(s["score"]["value"] * 10_000)) for s in spans]


def test_review_errors(server: Server) -> None:
    assert post(server, "/v1/review", {"comments": COMMENTS}, key=None).status_code == 401
    too_many = post(server, "/v1/review", {"comments": COMMENTS * 2})
    assert too_many.status_code == 413 and "limit is 4" in too_many.json()["error"]["message"]
    assert post(server, "/v1/review", {"comments": []}).status_code == 422
    assert post(server, "/v1/review", {"comments": [{"id": "x"}]}).status_code == 422


@pytest.mark.skipif(browser.missing() is not None, reason=f"browser tests: {browser.missing()}")
def test_review_form_posts_and_opens_the_report(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    form = httpx.get(server.url + "/review")
    assert form.status_code == 200 and "v1/review" in form.text
    with sync_playwright() as p:
        chromium = browser.launch(p)
        page = chromium.new_page()
        page.goto(server.url + "/review")
        page.fill("#t", "\n".join(json.dumps(c) for c in COMMENTS))
        page.fill("#key", KEY)
        page.click("#go")
        page.wait_for_url(re.compile(r"^blob:"))
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        page.click("nav button[data-tab=queue]")
        expect(page.locator("#q-pager .range")).to_have_text("1–3 of 3")
        assert page.evaluate("window.__pwned") is None
        page.goto(server.url + "/review")
        page.fill("#t", "not json")
        page.click("#go")
        expect(page.locator("#msg")).to_contain_text("error: not JSON lines")
        chromium.close()
