"""Misinformation negatives chosen by the claim head (training/claim_negatives.py), on a tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from moderation import Moderator
from moderation.labels import LABELS, MISSING
from tests.conftest import build_tiny
from training.claim_negatives import claim_negatives
from training.labelfiles import load_label_file


def _source(n: int) -> pd.DataFrame:
    frame = pd.DataFrame({"text": [f"comment {i} says {'you fool' if i % 2 else 'thanks'}" for i in range(n)],
                          "source": "comments", "split": ["train"] * (n - 2) + ["validation"] * 2})
    for label in LABELS:
        frame[label] = np.float32(MISSING)
    frame["hostility"] = np.arange(n) % 2
    return frame


def test_keeps_low_claim_training_rows_with_their_labels(tmp_path: Path) -> None:
    model = Moderator.load(build_tiny(tmp_path / "tiny"))
    source = _source(12)
    out = claim_negatives(model, {"comments": source}, per_source=5, max_claim=1.01)
    assert len(out) == 5 and (out["misinformation"] == 0).all()
    assert not out["text"].isin(source.loc[source["split"] == "validation", "text"]).any()
    merged = out.merge(source[["text", "hostility"]], on="text", suffixes=("", "_source"))
    assert (merged["hostility"] == merged["hostility_source"]).all() and out["insult"].isna().all()
    # The file round-trips through the label-file loader: unknown labels stay missing.
    out.to_csv(tmp_path / "neg.csv", index=False)
    table, problems = load_label_file(tmp_path / "neg.csv")
    assert not problems and (table["insult"] == MISSING).all() and (table["misinformation"] == 0).all()


def test_no_row_passes_a_zero_claim_bar(tmp_path: Path) -> None:
    model = Moderator.load(build_tiny(tmp_path / "tiny"))
    assert claim_negatives(model, {"comments": _source(12)}, max_claim=0.0).empty
