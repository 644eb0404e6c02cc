"""Ceiling of prediction-level blends on the validation suite: a model's logits plus ``w`` times
those of other models, or of the TF-IDF baseline fitted on the model's own training rows.

Prints ROC-AUC per source for the main label of each source, alone and blended. A blend only
tells whether combining predictions would help; it is not a shipped model.

    python benchmarks/blend.py --model models/default --baseline --weights 0.25 0.5 1
    python benchmarks/blend.py --model models/default --with runs/a runs/b --weights 2   # mean of 3 models
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import roc_auc_score

from moderation import Moderator
from moderation.labels import LABELS
from training.baseline import TfidfBaseline
from training.evaluate import table_for
from training.metrics import binarise, has_both_classes, known_mask

MAIN_LABELS = ("hostility", "misinformation")


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--with", dest="others", nargs="*", default=[], help="other model directories, averaged in logit space")
    ap.add_argument("--baseline", action="store_true", help="blend with the TF-IDF baseline fitted on the model's training rows")
    ap.add_argument("--weights", type=float, nargs="+", default=[0.5], help="weight of the blended-in predictions")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    if not args.baseline and not args.others:
        ap.error("give --baseline or --with MODEL_DIR")

    model = Moderator.load(args.model, backend="torch")  # fp32, as in `moderation evaluate`
    table = table_for(model, args.data_dir)
    val = table[table["split"] == "validation"].reset_index(drop=True)
    texts = val["text"].tolist()
    own = logit(model.predict_proba(texts))
    if args.baseline:
        baseline = TfidfBaseline().fit(table)
        other = logit(baseline.predict_proba(texts))[:, [LABELS.index(l) for l in model.labels]]
    else:
        others = [Moderator.load(path, backend="torch") for path in args.others]
        other = np.mean([logit(m.predict_proba(texts))[:, [m.labels.index(l) for l in model.labels]] for m in others], axis=0)

    print("| source | label | n (pos) | model | " + " | ".join(f"w={w:g}" for w in args.weights) + " |")
    print("|---|---|---|---|" + "---|" * len(args.weights))
    for source in val["source"].unique():
        for label in MAIN_LABELS:
            j = model.labels.index(label)
            mask = known_mask(val, label) & (val["source"] == source).to_numpy()
            y = binarise(val[label].to_numpy(dtype=float)[mask])
            if not has_both_classes(y):
                continue
            blends = [roc_auc_score(y, own[mask, j] + w * other[mask, j]) for w in args.weights]
            print(f"| {source} | {label} | {len(y)} ({int(y.sum())}) | {roc_auc_score(y, own[mask, j]):.4f} | "
                  + " | ".join(f"{b:.4f}" for b in blends) + " |")


if __name__ == "__main__":
    main()
