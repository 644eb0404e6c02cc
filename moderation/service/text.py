"""Text preparation for the protocol endpoints: HTML bodies to plain text, sentences as spans."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li|/blockquote)\b[^>]*>", re.I)
#: A sentence ends at . ! ? (with closing quotes/brackets) followed by space, or at a line break.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|\n")


def html_to_text(body: str) -> str:
    """Coral sends HTML bodies (and Perspective's ``comment.type`` may be HTML): score the words only."""
    if "<" not in body and "&" not in body:
        return body
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", body))).strip()


def sentence_spans(text: str, limit: int) -> list[tuple[int, int]]:
    """``(begin, end)`` character offsets of the sentences of ``text``, whitespace trimmed.

    At most ``limit`` spans: the rest of the text is folded into the last one, so a
    pathological comment cannot fan out into unbounded work.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        _append_trimmed(spans, text, start, match.end())
        start = match.end()
    _append_trimmed(spans, text, start, len(text))
    if len(spans) > limit:
        spans = spans[: limit - 1] + [(spans[limit - 1][0], spans[-1][1])]
    return spans


def _append_trimmed(spans: list[tuple[int, int]], text: str, begin: int, end: int) -> None:
    while begin < end and text[begin].isspace():
        begin += 1
    while end > begin and text[end - 1].isspace():
        end -= 1
    if end > begin:
        spans.append((begin, end))
