"""The learned part of plain-text extraction: three small linear models.

* ``region``: P(line is a reader comment) for each scored line.
* ``cut``: a score for each candidate article/comment cut of a page (comments always
  follow the article, so the page has one cut); its inputs are the changepoint score
  of the region log-odds and the layout/style change at the cut (text.cut_matrix).
  It is a conditional logit: the highest-scoring cut wins.
* ``author``: P(short line is a commenter's name) for a line glued to the next one.

All are fitted by ``python -m training.segmenter`` and shipped as JSON
(``segmenter.json``: feature names, vocabulary, coefficients, intercept), so the
runtime needs only numpy.  The feature functions below are shared with training.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from moderation.extract.constants import (
    EMOJI_RE,
    FIRST_PERSON,
    FIRST_PLURAL,
    HASHTAG_RE,
    LETTER_RUN_RE,
    NOT_NAME_WORDS,
    REPORTING_WORDS,
    SECOND_PERSON,
    SLANG_WORDS,
    WORD_RE,
)
from moderation.extract.lines import Line
from moderation.extract.script import n_words

MODEL_PATH = Path(__file__).with_name("segmenter.json")

# Only features that carry over from the synthetic training pages to real news: CoAID
# bodies are lower-cased and stripped of quotes/apostrophes, so case, quote and
# contraction features (and topic words) taught the model corpus artefacts.
REGION_FEATURES = (
    "gap_before_0", "gap_before_2", "gap_after_0", "gap_after_2", "first_person",
    "second_person", "first_plural", "contractions", "reporting", "slang", "question", "exclaim", "ends_terminal", "url",
    "repeat_punct", "after_short_line", "len_vs_median", "emoji", "hashtag", "letter_run",
)
# text.region_matrix appends the same features averaged over the lines before / after
REGION_INPUTS = REGION_FEATURES + tuple("before_" + f for f in REGION_FEATURES) + tuple("after_" + f for f in REGION_FEATURES)
CUT_FEATURES = (
    "changepoint_margin", "mean_logit_article", "mean_logit_comments", "mean_shift", "comment_like_article",
    "comment_like_comments", "no_comments_despite_shift", "one_article_line", "logit_next", "logit_prev", "no_article", "no_comment_scored", "page_end", "at_marker",
    "log_article_lines", "log_comment_lines", "gap_0", "gap_1", "gap_2", "gap_3plus", "gap_break",
    "gap_above_article", "article_gap_mean", "comment_gap_mean", "gap_mean_change", "after_boilerplate",
    "after_translation", "after_title_or_caps", "short_text", "name_or_caps", "author_candidate",
    "comment_head_logit_gap", "article_tail_logit_gap", "comment_head_layout_gap", "article_tail_layout_gap",
) + tuple("change_" + f for f in REGION_FEATURES)
AUTHOR_FEATURES = (
    "n_words", "n_chars", "title_case", "digit", "handle", "ends_period", "ends_bang",
    "ends_other", "stopwords", "pronoun", "lower_only", "next_len", "gap_before", "all_caps", "one_word",
)


def words_of(text: str) -> list[str]:
    """Word tokens with straight apostrophes."""
    return [w.replace("’", "'") for w in WORD_RE.findall(text)]


def _ratio(count: int, total: int) -> float:
    return min(1.0, 3.0 * count / total) if total else 0.0


def region_features(line: Line, prev: Line | None, n_lines: int, median_words: float) -> tuple[list[float], set[str]]:
    """Dense style/layout features and the lower-cased word set of one line."""
    text = line.text
    words = words_of(text)
    lower = [w.lower() for w in words]
    n = len(words) or 1
    dense = [
        float(line.gap_before == 0),
        float(line.gap_before >= 2),
        float(line.gap_after == 0),
        float(line.gap_after >= 2),
        _ratio(sum(w in FIRST_PERSON for w in lower), n),
        _ratio(sum(w in SECOND_PERSON for w in lower), n),
        _ratio(sum(w in FIRST_PLURAL for w in lower), n),
        _ratio(sum("'" in w for w in lower), n),
        _ratio(sum(w in REPORTING_WORDS for w in lower), n),
        _ratio(sum(w in SLANG_WORDS for w in lower), n),
        min(text.count("?") + text.count("？"), 3) / 3,
        min(text.count("!") + text.count("！"), 3) / 3,
        float(text[-1:] in ".!?\"”’)。！？」』）"),
        float("http" in text or "www." in text),
        float("!!" in text or "??" in text or ".." in text or "！！" in text or "？？" in text or "。。" in text),
        float(prev is not None and prev.gap_after == 0 and n_words(prev.text) <= 5),
        math.tanh(math.log((n_words(text) + 1) / (median_words + 1))),
        # reader talk in any language: emoji and emoticons, hashtags, stretched letters ("kkkk", "sooo", "哈哈哈哈")
        float(bool(EMOJI_RE.search(text))),
        float(bool(HASHTAG_RE.search(text))),
        float(bool(LETTER_RUN_RE.search(text))),
    ]
    return dense, set(lower)


def author_features(line: Line, next_line: Line | None) -> list[float]:
    """Features of a short line that may be a commenter's name or handle."""
    text = line.text
    tokens = text.split()
    words = words_of(text)
    n = len(tokens) or 1
    lower = [w.lower() for w in words]
    return [
        len(tokens) / 5,
        len(text) / 40,
        float(all(t[:1].isupper() or t[:1].isdigit() for t in tokens)),
        float(any(ch.isdigit() for ch in text)),
        float(any(ch in "_@" for ch in text) or any(t[1:] != t[1:].lower() and not t.isupper() for t in tokens)),
        float(text.endswith(".")),
        float(text.endswith(("!", "?"))),
        float(text[-1:] in ",;:)\"”'’…"),
        sum(w in NOT_NAME_WORDS for w in lower) / n,
        float(any(w in FIRST_PERSON or w in SECOND_PERSON for w in lower)),
        float(text == text.lower()),
        math.log1p(len(next_line.text.split())) / 5 if next_line else 0.0,
        float(line.gap_before >= 1),
        float(text.isupper()),
        float(len(tokens) == 1),
    ]


class LogisticModel:
    """A fitted logistic regression: dense coefficients plus optional bag-of-words weights."""

    def __init__(self, spec: dict):
        self.features: list[str] = spec["features"]
        self.coef = np.asarray(spec["coef"], dtype=float)
        self.intercept = float(spec["intercept"])
        self.vocab: dict[str, float] = spec.get("vocab", {})

    def logits(self, dense: Sequence[Sequence[float]], word_sets: Sequence[set[str]] | None = None) -> np.ndarray:
        """Raw scores for a batch of lines."""
        if not len(dense):
            return np.zeros(0)
        z = np.asarray(dense, dtype=float) @ self.coef + self.intercept
        if word_sets is not None and self.vocab:
            # words are binary and scaled by 1/sqrt(#words), as in training
            z += [sum(self.vocab.get(w, 0.0) for w in ws) / math.sqrt(len(ws) or 1) for ws in word_sets]
        return z

    def proba(self, dense: Sequence[Sequence[float]], word_sets: Sequence[set[str]] | None = None) -> np.ndarray:
        """P(positive class) for a batch of lines."""
        return 1.0 / (1.0 + np.exp(-self.logits(dense, word_sets)))


@lru_cache(maxsize=1)
def load_models(path: str = str(MODEL_PATH)) -> dict[str, LogisticModel]:
    """The shipped region, cut and author models (cached: loaded once per process)."""
    with open(path, encoding="utf-8") as fh:
        spec = json.load(fh)
    return {name: LogisticModel(spec[name]) for name in ("region", "cut", "author")}
