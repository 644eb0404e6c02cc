"""Hand rules for lines whose role is unambiguous: headers, action bars, timestamps,
author bylines and boilerplate.  Everything else is left to the learned segmenter."""

from __future__ import annotations

from moderation.extract import constants as C
from moderation.extract.lines import Line

# Line kinds assigned here.
HEADER = "header"  # opens the comment section
ACTION = "action"  # "Reply · 12 Likes", "Load more comments"
TIMESTAMP = "timestamp"  # "3 hours ago"
BYLINE = "byline"  # names a commenter unambiguously ("#12 NAME", "NAME wrote on ...:")
COLON_NAME = "colon_name"  # "NAME:" - an author only inside the comment section
BOILERPLATE = "boilerplate"
CAPS = "caps"  # ALL-CAPS line: a related headline when inside the article
TEXT = "text"

# Kinds that never carry comment or article text.
STRUCTURAL = frozenset({HEADER, ACTION, TIMESTAMP})
# Kinds that only occur inside a comment section.
COMMENT_MARKERS = frozenset({HEADER, ACTION, TIMESTAMP, BYLINE})


def plausible_name(name: str) -> bool:
    """A screen name: short, and not made of sentence words ("Here is what we know")."""
    name = name.strip()
    if not name or len(name) > C.AUTHOR_MAX_CHARS or len(name.split()) > C.AUTHOR_MAX_WORDS:
        return False
    if name[-1] in ".,;?。，；？！" or '"' in name or "“" in name or C.EMOTICON_CODE_RE.search(name):
        return False
    tokens = name.split()
    if len(tokens) >= 2 and tokens[0] in ("The", "THE") and tokens[1][:1].isupper():
        tokens = tokens[1:]  # "The Realist", "The Dude": a leading article before a capitalised name
    words = [w.lower().strip("'’") for w in tokens]
    return not any(w in C.NOT_NAME_WORDS for w in words)


def _all_tokens(text: str, *patterns) -> bool:
    """True when every separator-delimited chunk of ``text`` matches one of ``patterns``."""
    chunks = [c for c in C.TOKEN_SEPARATOR_RE.split(text.strip(" \t-–—")) if c]
    return bool(chunks) and all(any(p.match(c) for p in patterns) for c in chunks)


def is_timestamp(text: str) -> bool:
    return bool(C.TIME_TOKEN_RE.match(text.strip()))


def is_boilerplate(text: str) -> bool:
    if len(text.split()) > C.BOILERPLATE_MAX_WORDS:
        return False
    return any(p.search(text) for p in C.BOILERPLATE_RES)


def is_caps_headline(text: str) -> bool:
    """An ALL-CAPS line of several words (related-headline interjection)."""
    letters = [ch for ch in text if ch.isalpha()]
    if len(text.split()) < C.CAPS_HEADLINE_MIN_WORDS or len(letters) < 10:
        return False
    return sum(ch.isupper() for ch in letters) / len(letters) >= C.CAPS_HEADLINE_MIN_RATIO


def _byline(text: str) -> tuple[str, int] | None:
    """The commenter named by a byline such as "#12 NAME" or "NAME · 3 hours ago", and
    which of the byline patterns matched."""
    for i, pattern in enumerate(C.AUTHOR_LINE_RES):
        m = pattern.match(text)
        if not m:
            continue
        name = m.group("name").strip()
        time = m.groupdict().get("time")
        # patterns 3 and 4 ("NAME · time", "NAME (time)") need a real timestamp/action after the name
        if i >= 3 and not (time and _all_tokens(time, C.TIME_TOKEN_RE, C.ACTION_TOKEN_RE)):
            continue
        # ... but a bare number is the end of a date or figure ("Digest: April 15, 2020", "to 9,000.")
        if i >= 3 and C.BARE_NUMBER_RE.match(time):
            continue
        if i == 1 and time and not _all_tokens(time, C.TIME_TOKEN_RE, C.ACTION_TOKEN_RE):
            name = f"{name} {time}".strip()
        if plausible_name(name):
            return name, i
    return None


def tag_line(line: Line) -> None:
    """Set ``line.kind`` (and ``line.author`` for bylines) from the rules alone."""
    text = line.text
    n_words = len(text.split())
    if n_words <= C.HEADER_MAX_WORDS and C.COMMENT_HEADER_RE.match(text):
        line.kind = HEADER
    elif n_words <= 12 and _all_tokens(text, C.TIME_TOKEN_RE):
        line.kind = line.form = TIMESTAMP
    elif n_words <= 12 and (_all_tokens(text, C.ACTION_TOKEN_RE, C.TIME_TOKEN_RE) or C.VOTE_LINE_RE.match(text)):
        line.kind = line.form = ACTION
    elif n_words <= 16 and (hit := _byline(text)):
        line.kind, line.author, line.form = BYLINE, hit[0], f"{BYLINE}{hit[1]}"
    elif (m := C.AUTHOR_COLON_RE.match(text)) and plausible_name(m.group("name")):
        line.kind, line.author, line.form = COLON_NAME, m.group("name").strip(), COLON_NAME
    elif is_boilerplate(text):
        line.kind = BOILERPLATE
    elif is_caps_headline(text):
        line.kind = CAPS
    else:
        line.kind = TEXT
