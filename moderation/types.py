"""Typed records that flow through the pipeline: extract -> score -> output."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Texts longer than this many characters are cut before scoring and reported with ``truncated``
#: (the model reads at most ``MAX_WINDOWS`` windows of a text anyway; see ``moderation.model``).
MAX_CHARS = 1_000_000
BACKENDS = ("auto", "torch", "bf16")  # inference backends; see Moderator.load


def check_backend(name: str) -> str:
    """``name`` if it is a backend, else a ValueError naming the choices (every entry point fails fast with it)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r} (use {', '.join(BACKENDS)})")
    return name


@dataclass
class Comment:
    """One reader comment found on a page."""

    id: str
    text: str
    author: str | None = None


@dataclass
class Translation:
    """A copy of (part of) the article in another language."""

    lang: str
    text: str


@dataclass
class Document:
    """An extracted page: the article is context, only the comments are scored."""

    source: str | None = None
    title: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    article: list[str] = field(default_factory=list)
    translations: list[Translation] = field(default_factory=list)
    boilerplate: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not d["warnings"]:
            d.pop("warnings")
        return d


@dataclass
class Scores:
    """Calibrated probabilities for one text, and the labels at or above threshold."""

    scores: dict[str, float]
    labels: list[str]
    model: str
    id: str | None = None
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "scores": self.scores, "labels": self.labels, "model": self.model}
        if self.truncated:
            d["truncated"] = True
        return d
