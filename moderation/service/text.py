"""Text preparation for the protocol endpoints: HTML bodies to plain text (sentences: ``moderation.spans``)."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li|/blockquote)\b[^>]*>", re.I)


def html_to_text(body: str) -> str:
    """Coral sends HTML bodies (and Perspective's ``comment.type`` may be HTML): score the words only."""
    if "<" not in body and "&" not in body:
        return body
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", body))).strip()
