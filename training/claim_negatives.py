"""Misinformation negatives from comments without a factual claim, for a later training stage.

    python -m training.claim_negatives --model runs/default-stage3 --output runs/claim-negatives.csv

A comment that states no check-worthy fact cannot be misinformation, but the hostility
sources say nothing about misinformation, so by default they teach the head nothing
about ordinary comments, and it flags insults and small talk. This scores the *training*
rows of the comment sources with an existing model's ``claim`` head (fitted on
ClaimBuster) and writes those far below the claim threshold as a label file with
``misinformation = 0``. Validation rows are never read, so the validation suite is
unchanged; list the file first in a config's ``sources``, with ``val_fraction: 0``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from moderation.labels import LABELS, MISSING
from moderation.model import Moderator

SOURCES = ("ucc", "kaggle_insults", "toxic_spans", "olid", "tweeteval_hate", "davidson", "stormfront")
MAX_CLAIM = 0.15  # claim probability below which a comment counts as stating no fact


def claim_negatives(model: Moderator, sources: dict[str, pd.DataFrame], per_source: int = 1000,
                    max_claim: float = MAX_CLAIM, seed: int = 0) -> pd.DataFrame:
    """Up to ``per_source`` training rows per source whose claim probability is below ``max_claim``.

    ``sources`` maps names to frames in the training-data contract (``training.data.load_source``).
    """
    j = model.labels.index("claim")
    parts = []
    for name, rows in sources.items():
        rows = rows[rows["split"] == "train"]
        rows = rows.sample(n=min(len(rows), 4 * per_source), random_state=seed)
        claim = model.predict_proba(list(rows["text"]))[:, j]
        keep = rows[claim < max_claim].head(per_source)
        # Keep the row's own labels (empty where unknown): the file is listed before the sources, and
        # training keeps the first copy of a text, so the row must carry its hostility labels too.
        labels = keep[list(LABELS)].where(keep[list(LABELS)] != MISSING)
        parts.append(pd.concat([keep[["text"]], labels.assign(misinformation=0.0)], axis=1))
        print(f"{name}: {len(keep)} of {len(rows)} sampled comments below claim {max_claim}")
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="model whose claim head selects the comments")
    ap.add_argument("--output", type=Path, required=True, help="label file to write (CSV)")
    ap.add_argument("--per-source", type=int, default=1000)
    ap.add_argument("--max-claim", type=float, default=MAX_CLAIM)
    ap.add_argument("--data-dir", default=None, help="default: $MODERATION_DATA_DIR or ../shared/data")
    args = ap.parse_args()
    from training.data import load_source

    sources = {name: load_source(name, args.data_dir) for name in SOURCES}
    table = claim_negatives(Moderator.load(args.model, backend="torch"), sources, args.per_source, args.max_claim)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.output, index=False)
    print(f"wrote {len(table)} rows to {args.output} (median length {int(np.median(table['text'].str.len()))} characters)")


if __name__ == "__main__":
    main()
