"""The label schema shared by the model, training and the service."""

from __future__ import annotations

#: Head labels, in output order. The first two are the product's primary labels.
PRIMARY_LABELS: tuple[str, ...] = ("hostility", "misinformation")
#: Finer attributes, learned only from sources that annotate them.
SUB_LABELS: tuple[str, ...] = ("insult", "threat", "identity_attack", "profanity", "claim")
LABELS: tuple[str, ...] = PRIMARY_LABELS + SUB_LABELS

#: Value used in training tables for "this source says nothing about this label".
#: Such cells are masked out of the loss, so silence never teaches "no".
MISSING: float = -1.0
