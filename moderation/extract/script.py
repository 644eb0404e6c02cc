"""Guess a line's language from its writing system (no language-id dependency)."""

from __future__ import annotations

from collections import Counter

from moderation.extract.constants import FOREIGN_SCRIPT_MIN_RATIO, MIN_SCRIPT_LETTERS, SCRIPT_RANGES


def _script_of(ch: str) -> str | None:
    cp = ord(ch)
    if cp < 0x0370:
        return "latin" if ch.isalpha() else None
    for first, last, lang in SCRIPT_RANGES:
        if first <= cp <= last:
            return lang
    return "latin" if ch.isalpha() else None


def script_language(text: str) -> str | None:
    """Language code of the dominant non-Latin script, or None for Latin / too little text."""
    counts: Counter[str] = Counter()
    for ch in text:
        script = _script_of(ch)
        if script:
            counts[script] += 1
    total = sum(counts.values())
    if total < MIN_SCRIPT_LETTERS:
        return None
    # Japanese mixes kanji (counted as zh) with kana: any kana makes it Japanese.
    if counts["ja"]:
        counts["ja"] += counts.pop("zh", 0)
    lang, n = max(counts.items(), key=lambda kv: kv[1])
    if lang == "latin" or n / total < FOREIGN_SCRIPT_MIN_RATIO:
        return None
    return lang


def page_language(texts: list[str]) -> str | None:
    """The script language most of a page's lines are in (None: Latin), so that only lines
    in *another* script count as translations (a Chinese page is not its own translation)."""
    counts: Counter[str | None] = Counter()
    for t in texts:  # weighted by words: a page's nav links and numbers do not outvote its paragraphs
        counts[script_language(t)] += n_words(t)
    if not counts:
        return None
    lang, n = counts.most_common(1)[0]
    return lang if lang is not None and n > counts[None] else None


def n_words(text: str) -> float:
    """Word count that also works for scripts written without spaces: each CJK / kana /
    Thai character counts as half a word (Chinese words average about two characters)."""
    dense = sum(1 for ch in text if _script_of(ch) in ("zh", "ja", "th"))
    if not dense:
        return len(text.split())
    spaced = sum(1 for tok in text.split() if not any(_script_of(ch) in ("zh", "ja", "th") for ch in tok))
    return spaced + dense / 2
