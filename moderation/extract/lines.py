"""Split a plain-text dump into non-blank lines that remember the blank lines around them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Line:
    """One non-blank line; ``gap_before``/``gap_after`` count the blank lines around it."""

    index: int  # position among non-blank lines
    text: str
    gap_before: int = 0
    gap_after: int = 0
    kind: str = "text"  # set by the rules in text.py
    author: str | None = None  # for author/metadata lines that name a commenter
    level: int = 0  # Markdown heading level (set by text.tag_lines)
    form: str = ""  # which marker rule matched (rules.tag_line): repeated forms confirm a comment section


def normalise_newlines(text: str) -> str:
    """Unify line ends and drop a byte-order mark."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def split_lines(text: str) -> list[Line]:
    """Non-blank, stripped lines; a line of only whitespace counts as blank."""
    out: list[Line] = []
    blanks = 0
    for raw in normalise_newlines(text).split("\n"):
        stripped = raw.strip()
        if not stripped:
            blanks += 1
            continue
        if out:
            out[-1].gap_after = blanks
        out.append(Line(index=len(out), text=stripped, gap_before=blanks if out else 0))
        blanks = 0
    if out:
        out[-1].gap_after = blanks
    return out
