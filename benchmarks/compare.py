"""Two or more models side by side on the same validation rows (the table of one training config).

Per source and label: ROC-AUC and macro-F1 at each model's own stored thresholds; the share of true
statements flagged for misinformation; and the issue-16 targets checked for each model.

    python benchmarks/compare.py models/moderation-minilm-1.3.0 runs/e5-stage2 --config configs/e5-stage2.yaml
    python benchmarks/compare.py runs/e5-stage4-norm --config configs/e5-stage4-normalised.yaml --misinformation-thresholds 0.4 0.45 0.5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from moderation import Moderator
from moderation.labels import MISSING
from training.config import TrainConfig
from training.data import LANGUAGES, build_table
from training.metrics import evaluate

#: Validation rows that state true facts: misinformation 0 in these sources (issue 16: at most 10% flagged).
TRUE_STATEMENTS = ("coaid_news", "liar", "constraint", "covid_rumor", "coaid")
#: (source, label, metric, floor) from issue 16.
TARGETS = [("ucc", "hostility", "roc_auc", 0.85), ("liar", "misinformation", "roc_auc", 0.68),
           ("tweeteval_offensive", "hostility", "macro_f1", 0.78), ("constraint", "misinformation", "macro_f1", 0.96),
           ("germeval2018", "hostility", "roc_auc", 0.85), ("cold", "hostility", "roc_auc", 0.85),
           ("told_br", "hostility", "roc_auc", 0.85)]


def true_statement_flags(probs: np.ndarray, val: pd.DataFrame, model: Moderator,
                         thresholds: dict[str, float] | None = None) -> dict[str, float]:
    """Share of validation rows with misinformation 0 flagged, per true-statement source and pooled
    (at the model's stored thresholds unless others are given)."""
    j = model.labels.index("misinformation")
    flagged = probs[:, j] >= (thresholds or model.thresholds)["misinformation"]
    out = {}
    rows = (val["misinformation"] == 0).to_numpy()
    for source in TRUE_STATEMENTS:
        mask = rows & (val["source"] == source).to_numpy()
        if mask.any():
            out[source] = round(float(flagged[mask].mean()), 4)
    pooled = rows & val["source"].isin(TRUE_STATEMENTS).to_numpy()
    out["all"] = round(float(flagged[pooled].mean()), 4)
    return out


def threshold_sweep(probs: np.ndarray, val: pd.DataFrame, model: Moderator, thresholds: list[float]) -> str:
    """Misinformation at other thresholds: true statements flagged (pooled and LIAR's), CONSTRAINT
    macro-F1 and pooled F1, as a Markdown table (the stored threshold first)."""
    from sklearn.metrics import f1_score

    j = model.labels.index("misinformation")
    y = val["misinformation"].to_numpy()
    known = (y != MISSING) & np.isfinite(y)
    constraint = known & (val["source"] == "constraint").to_numpy()
    rows = [f"| {model.name}: misinformation threshold | true statements flagged | LIAR's true claims | CONSTRAINT macro-F1 | pooled F1 |",
            "|---|---|---|---|---|"]
    for t in [model.thresholds["misinformation"], *thresholds]:
        at = dict(model.thresholds, misinformation=t)
        flags = true_statement_flags(probs, val, model, at)
        rows.append(f"| {t:.3f} | {flags['all']:.1%} | {flags.get('liar', float('nan')):.1%} | "
                    f"{f1_score(y[constraint] >= 0.5, probs[constraint, j] >= t, average='macro'):.3f} | "
                    f"{f1_score(y[known] >= 0.5, probs[known, j] >= t):.3f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--config", type=Path, required=True, help="training config whose validation rows to use")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--misinformation-thresholds", type=float, nargs="*", default=[], metavar="T",
                        help="also print, at each of these thresholds, the share of true statements flagged and F1")
    args = parser.parse_args()
    cfg = TrainConfig.from_yaml(args.config)
    table = build_table(cfg.sources, data_dir=args.data_dir, seed=cfg.seed)
    val = table[table["split"] == "validation"].reset_index(drop=True)
    results = {}
    for path in args.models:
        model = Moderator.load(path, backend="torch")
        started = time.perf_counter()
        probs = model.predict_proba(list(val["text"]))
        report = evaluate(probs, val, model.thresholds, labels=model.labels)
        results[model.name] = {"report": report, "true_statements_flagged": true_statement_flags(probs, val, model),
                               "seconds": round(time.perf_counter() - started, 1)}
        if args.misinformation_thresholds:
            print(threshold_sweep(probs, val, model, args.misinformation_thresholds) + "\n")
    names = list(results)
    print(f"{len(val):,} validation rows from {args.config}\n")
    print("| source | label | n (pos) | " + " | ".join(f"{n} ROC-AUC | macro-F1" for n in names) + " |")
    print("|---|---|---|" + "---|---|" * len(names))
    for source in sorted(set().union(*(r["report"] for r in results.values())), key=lambda s: (s == "all", s)):
        for label in ("hostility", "misinformation", "insult", "threat", "identity_attack", "profanity", "claim"):
            cells = [results[n]["report"].get(source, {}).get(label) for n in names]
            if not any(cells):
                continue
            ref = next(c for c in cells if c)
            row = f"| {source}{' (' + LANGUAGES[source] + ')' if source in LANGUAGES else ''} | {label} | {ref['n']} ({ref['positives']}) |"
            for c in cells:
                row += f" {c['roc_auc']:.3f} | {c['macro_f1']:.3f} |" if c else " – | – |"
            print(row)
    print()
    for n in names:
        flags = results[n]["true_statements_flagged"]
        rep = results[n]["report"]
        met = [f"{s} {l} {m} {rep.get(s, {}).get(l, {}).get(m, float('nan')):.3f} (>= {f})"
               + (" ok" if rep.get(s, {}).get(l, {}).get(m, 0) >= f else " MISSED") for s, l, m, f in TARGETS]
        print(f"{n}: true statements flagged {flags}")
        print("  " + "\n  ".join(met))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
