"""Evaluation gate: quality on a committed held-out sample must not fall below pinned floors.

The sample (tests/fixtures/extract_sample.jsonl) was generated once with
``python -m training.synth_pages --sample tests/fixtures/extract_sample.jsonl``
from the held-out pools, so this test never reads ../shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moderation.extract import extract_page
from training.extract_eval import Tally

SAMPLE = Path(__file__).parent / "fixtures" / "extract_sample.jsonl"
# Measured when pinned: text F1 0.995, authors 0.985, article recall 1.0, no comment in the
# article; HTML P = R = 1.0.
TEXT_FLOORS = {"comment_f1": 0.97, "author_accuracy": 0.95, "article_recall": 0.98}
HTML_FLOORS = {"comment_precision": 0.95, "comment_recall": 0.95, "article_recall": 0.95}


@pytest.fixture(scope="module")
def scores() -> dict[str, dict]:
    tallies = {"text": Tally(), "html": Tally()}
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        tallies["html" if rec["kind"] == "html" else "text"].add(extract_page(rec["text"]), rec["truth"])
    return {k: t.summary() for k, t in tallies.items()}


def test_sample_covers_text_and_html(scores: dict[str, dict]) -> None:
    assert scores["text"]["pages"] >= 30 and scores["html"]["pages"] >= 12


@pytest.mark.parametrize("metric,floor", TEXT_FLOORS.items())
def test_plain_text_quality(scores: dict[str, dict], metric: str, floor: float) -> None:
    assert scores["text"][metric] >= floor, scores["text"]


@pytest.mark.parametrize("metric,floor", HTML_FLOORS.items())
def test_html_quality(scores: dict[str, dict], metric: str, floor: float) -> None:
    assert scores["html"][metric] >= floor, scores["html"]


@pytest.mark.parametrize("kind", ["text", "html"])
def test_comments_never_in_article(scores: dict[str, dict], kind: str) -> None:
    assert scores[kind]["comments_in_article"] == 0, scores[kind]
