"""Scoring of extraction output against synthetic truth; shared by
benchmarks/extraction.py and the evaluation gate test (tests/test_extract_gate.py)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from moderation.types import Document

_WS = re.compile(r"\s+")
_TOKEN = re.compile(r"\w+")


def norm(text: str) -> str:
    """Whitespace-normalised text, the unit of exact matching."""
    return _WS.sub(" ", text).strip()


def token_f1(predicted: str, truth: str) -> float:
    """Bag-of-tokens F1 between two texts."""
    p, t = Counter(_TOKEN.findall(predicted.lower())), Counter(_TOKEN.findall(truth.lower()))
    overlap = sum((p & t).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(p.values()), overlap / sum(t.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class Tally:
    """Running counts over pages."""

    tp: int = 0
    n_pred: int = 0
    n_true: int = 0
    authors_right: int = 0
    authors_checked: int = 0
    article_found: int = 0
    article_true: int = 0
    comments_in_article: int = 0
    pages: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, doc: Document, truth: dict[str, Any], label: str = "") -> None:
        pred = Counter(norm(c.text) for c in doc.comments)
        true = Counter(norm(c["text"]) for c in truth["comments"])
        self.pages += 1
        self.tp += sum((pred & true).values())
        self.n_pred += sum(pred.values())
        self.n_true += sum(true.values())
        by_text = {norm(c.text): c.author for c in doc.comments}
        for c in truth["comments"]:
            key = norm(c["text"])
            if key in by_text:
                self.authors_checked += 1
                self.authors_right += by_text[key] == c["author"]
        article = {norm(p) for p in doc.article}
        self.article_found += sum(norm(p) in article for p in truth["article"])
        self.article_true += len(truth["article"])
        self.comments_in_article += sum(1 for k in true if k in article)
        if pred != true and len(self.failures) < 20:
            self.failures.append(label)

    def summary(self) -> dict[str, float]:
        precision = self.tp / self.n_pred if self.n_pred else 1.0
        recall = self.tp / self.n_true if self.n_true else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "pages": self.pages,
            "comment_precision": round(precision, 4),
            "comment_recall": round(recall, 4),
            "comment_f1": round(f1, 4),
            "author_accuracy": round(self.authors_right / self.authors_checked, 4) if self.authors_checked else 1.0,
            "article_recall": round(self.article_found / self.article_true, 4) if self.article_true else 1.0,
            "comments_in_article": self.comments_in_article,
        }
