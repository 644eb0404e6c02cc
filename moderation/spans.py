"""Sentences of a comment as character spans, and their texts for scoring.

Shared by the Perspective endpoint (``spanScores`` with ``spanAnnotations``) and the review
report's "Why" highlight, so both explain a score with the same sentences.
"""

from __future__ import annotations

import re

#: A sentence ends at . ! ? (with closing quotes/brackets) followed by space, or at a line break.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|\n")


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


def with_sentences(text: str, limit: int) -> tuple[list[tuple[int, int]], list[str]]:
    """The sentence spans of ``text`` and the texts to score for them: the whole comment first,
    then each sentence (one trip through the model gives the summary and the span scores)."""
    spans = sentence_spans(text, limit)
    return spans, [text] + [text[b:e] for b, e in spans]


def _append_trimmed(spans: list[tuple[int, int]], text: str, begin: int, end: int) -> None:
    while begin < end and text[begin].isspace():
        begin += 1
    while end > begin and text[end - 1].isspace():
        end -= 1
    if end > begin:
        spans.append((begin, end))
