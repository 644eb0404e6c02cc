"""Text normalisation before tokenising, the same in training and in scoring.

User mentions say nothing about hostility or truth, but each source writes them its own way: OLID
"@USER", TweetEval and ToLD-Br "@user", Davidson, GermEval and CONSTRAINT real handles. A cased
tokenizer reads those as different words, so a model learns a source's convention instead of the
comment: 2.1.0 scored TweetEval offensive at ROC-AUC 0.827 as given and 0.871 with every mention
written "@USER" (docs/model-2.md). As BERTweet does, each mention becomes one placeholder, OLID's.
Links stay as they are: unlike a handle, a link's domain says something about a claim's source.

A model opts in through ``"normalise": true`` in its metadata (training configs set it), so models
trained without it score exactly as before.
"""

from __future__ import annotations

import re

MENTION_TOKEN = "@USER"
#: ``@name`` not preceded by a word character, so e-mail addresses stay whole.
MENTION = re.compile(r"(?<![\w@])@\w+")


def normalise(text: str) -> str:
    """``text`` with every user mention written ``@USER`` (idempotent)."""
    return MENTION.sub(MENTION_TOKEN, text)
