"""Would scoring sentences rank comments better? The whole comment against the maximum over its sentences.

A hostile clause inside a benign comment is diluted when the whole comment is scored (seed 000's
"people who are brain dead" alone scores far above the full comment). This measures, per validation
source, the ROC-AUC of three scores: the whole comment (what ``moderation score`` does), the maximum
over the whole comment and its sentences (``moderation.spans``, the sentences the report's "Why" and
the Perspective endpoint's span scores use), and the mean of the two. Comments of one sentence keep
their score. Reads the validation rows the model was trained beside (``training.evaluate.table_for``).

    python benchmarks/sentence_max.py models/moderation-e5-2.4.0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moderation import Moderator  # noqa: E402
from moderation.spans import sentence_spans  # noqa: E402
from training.evaluate import table_for  # noqa: E402

MAX_SENTENCES = 20  # as many as the report explains
LABELS = ("hostility", "misinformation")


def sentence_max(model: Moderator, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(whole-comment probabilities, their maximum with the comment's sentences' probabilities)."""
    whole = model.predict_proba(texts)
    owner, sentences = [], []
    for i, text in enumerate(texts):
        spans = sentence_spans(text, MAX_SENTENCES)
        if len(spans) > 1:
            owner += [i] * len(spans)
            sentences += [text[b:e] for b, e in spans]
    best = whole.copy()
    if sentences:
        parts = model.predict_proba(sentences)
        for j in range(whole.shape[1]):
            np.maximum.at(best[:, j], np.array(owner), parts[:, j])
    return whole, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--data-dir", default=None, help="default: $MODERATION_DATA_DIR or ../shared/data")
    args = ap.parse_args()
    model = Moderator.load(args.model, backend="torch")  # fp32: figures must not depend on the CPU
    table = table_for(model, args.data_dir)
    val = table[table["split"] == "validation"].reset_index(drop=True)
    started = time.perf_counter()
    whole, best = sentence_max(model, list(val["text"]))
    print(f"{model.name}: {len(val):,} validation rows scored twice in {time.perf_counter() - started:.0f} s\n")
    print("| source | label | rows | whole | max with sentences | mean of the two |\n|---|---|---|---|---|---|")
    for label in LABELS:
        j = model.labels.index(label)
        y = val[label].to_numpy(dtype=float)
        for source in sorted(val["source"].unique()):
            rows = (val["source"] == source).to_numpy() & np.isin(y, (0.0, 1.0))  # hard labels only
            if len(set(y[rows])) < 2:
                continue
            auc = [roc_auc_score(y[rows], s[rows, j]) for s in (whole, best, (whole + best) / 2)]
            print(f"| {source} | {label} | {rows.sum():,} | " + " | ".join(f"{a:.3f}" for a in auc) + " |")


if __name__ == "__main__":
    main()
