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
