"""Reader-comment moderation: extract comments from page dumps and score them.

Imports are lazy so that ``import moderation`` stays fast and never pulls in
torch or the training code until a model is actually used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Comment", "Document", "Scores", "Translation", "extract_page", "Moderator", "LABELS"]

_LAZY = {
    "Comment": "moderation.types",
    "Document": "moderation.types",
    "Scores": "moderation.types",
    "Translation": "moderation.types",
    "extract_page": "moderation.extract",
    "Moderator": "moderation.model",
    "LABELS": "moderation.labels",
}

if TYPE_CHECKING:
    from moderation.extract import extract_page
    from moderation.labels import LABELS
    from moderation.model import Moderator
    from moderation.types import Comment, Document, Scores, Translation


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'moderation' has no attribute {name!r}")
