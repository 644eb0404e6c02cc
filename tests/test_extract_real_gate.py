"""Evaluation gate on real article bodies: a committed sample of the real-page benchmark
(benchmarks/real_pages.py) must stay above pinned floors, so that a regression in the rules
or the segmenter fails the tests.

The sample (tests/fixtures/extract_real_sample.jsonl) was written once with
``python -m training.real_pages --gate-sample tests/fixtures/extract_real_sample.jsonl``
from the scored hash buckets and permissively licensed material only (see
tests/fixtures/README.md), so this test never reads ../shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moderation.extract import extract_page
from training.extract_eval import score_pages

SAMPLE = Path(__file__).parent / "fixtures" / "extract_real_sample.jsonl"
# Pinned a little under what the sample measured (docs/extraction.md): comment P 0.991,
# R 0.887, article-paragraph recall 0.983, 23 of 23 article-only pages without comments,
# authors 1.0 (43 pages). Before the post-date, thread-footer and strong-shift rules: R 0.810;
# main at 437d430: P 0.9756, R 0.8097, article recall 0.9786, 22 of 23, authors 0.995.
FLOORS = {
    "comment_precision": 0.98,
    "comment_recall": 0.87,
    "article_recall": 0.975,
    "article_only_zero_comments": 0.98,
    "author_accuracy": 0.98,
}


@pytest.fixture(scope="module")
def pages() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def scores(pages: list[dict]) -> dict:
    return score_pages(pages, [extract_page(p["text"]) for p in pages])


def test_sample_is_small_and_mixed(pages: list[dict]) -> None:
    assert SAMPLE.stat().st_size < 400_000
    assert len(pages) >= 40
    assert sum(p["lang"] != "en" for p in pages) >= 0.3 * len(pages)
    assert sum(not p["truth"]["comments"] for p in pages) >= 0.25 * len(pages)
    assert sum(p["longform"] is not None for p in pages) >= 0.2 * len(pages)


@pytest.mark.parametrize("metric,floor", FLOORS.items())
def test_real_pages_quality(scores: dict, metric: str, floor: float) -> None:
    assert scores[metric] >= floor, {k: v for k, v in scores.items() if k != "failed_pages"}
