"""Scoring of extraction output against known truth; shared by benchmarks/extraction.py,
benchmarks/real_pages.py and the evaluation gates (tests/test_extract_gate.py,
tests/test_extract_real_gate.py)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from moderation.types import Document

_WS = re.compile(r"\s+")
# words, and each Chinese/Japanese character on its own (those scripts have no spaces)
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|[^\W\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]+")


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


def score_pages(pages: list[dict[str, Any]], docs: list[Document]) -> dict[str, Any]:
    """Every metric of the real-page benchmark for the extracted ``docs`` of ``pages``
    (records of training/real_pages.page_record: text, truth, lang, style, longform, source)."""
    overall, by_style, by_lang, by_kind = Tally(), {}, {}, {}
    article_only = [0, 0]
    for i, (page, doc) in enumerate(zip(pages, docs)):
        label = f"{i}:{page['source']}:{page['lang']}:{page['style']}"
        overall.add(doc, page["truth"], label)
        by_kind.setdefault(page["longform"] or "plain", Tally()).add(doc, page["truth"], label)
        by_lang.setdefault(page["lang"], Tally()).add(doc, page["truth"], label)
        if page["truth"]["comments"]:
            by_style.setdefault(page["style"], Tally()).add(doc, page["truth"], label)
        else:
            article_only[0] += 1
            article_only[1] += not doc.comments
    keys = ("pages", "comment_precision", "comment_recall", "article_recall")
    out = overall.summary()
    out["article_only_pages"] = article_only[0]
    out["article_only_zero_comments"] = round(article_only[1] / max(article_only[0], 1), 4)
    out["by_style"] = {k: {m: v.summary()[m] for m in keys} for k, v in sorted(by_style.items())}
    out["by_language"] = {k: {m: v.summary()[m] for m in keys} for k, v in sorted(by_lang.items())}
    out["by_longform"] = {k: {m: v.summary()[m] for m in keys} for k, v in sorted(by_kind.items())}
    out["failed_pages"] = overall.failures[:20]
    return out
