"""How far bf16 autocast moves the scores from fp32, and how many label decisions it flips.

    python benchmarks/bf16_drift.py [--model models/default] [--data-dir D] [--first N]

On the throughput benchmark's fixed sample of 3,000 real comments (2,400 short, 600 long;
``throughput.load_comments``), scores every comment with ``--backend torch`` (fp32) and
``--backend bf16`` and reports, overall and per group: the largest and the 99.9th percentile
absolute difference in any calibrated probability, how many comments move by more than 0.01,
and how many comments get a different label set at the model's stored thresholds (labels
decided exactly as ``moderation score`` decides them, on its 4-decimal scores), with the
labels gained and lost. bf16 results depend on the CPU's bf16 kernels, so the CPU is printed
too. ``--first N`` measures instead an unsampled set: the first N comments of the pool the sample
is drawn from (UCC validation in file order, any length). Writes benchmarks/out/bf16_drift.json
(bf16_drift_first_N.json with ``--first``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import comment_pool, load_comments  # noqa: E402

from moderation.cpu import bf16_flags, cpu_info  # noqa: E402
from moderation.model import Moderator  # noqa: E402
from training.data import default_data_dir  # noqa: E402


def compare(fp32: Moderator, texts: list[str]) -> tuple[np.ndarray, list[set[str]], list[set[str]]]:
    """(|p_bf16 - p_fp32| per comment and label, fp32 label sets, bf16 label sets) at the stored thresholds."""
    bf16 = fp32.with_backend("bf16")
    want, got = fp32.predict_proba(texts), bf16.predict_proba(texts)
    ids = [None] * len(texts)
    # _to_scores is what score() returns: 4-decimal scores and the labels at threshold.
    want_labels = [set(s.labels) for s in fp32._to_scores(want, ids, texts)]
    got_labels = [set(s.labels) for s in bf16._to_scores(got, ids, texts)]
    return np.abs(got - want), want_labels, got_labels


def summarise(labels: list[str], diff: np.ndarray, want: list[set[str]], got: list[set[str]]) -> dict:
    """Drift figures and label-set flips for one set of comments (rows of ``compare``'s output)."""
    flips = [i for i, (a, b) in enumerate(zip(want, got)) if a != b]
    per_label = {}
    for j, label in enumerate(labels):
        gained = sum(label in got[i] and label not in want[i] for i in flips)
        lost = sum(label in want[i] and label not in got[i] for i in flips)
        per_label[label] = {"max_diff": round(float(diff[:, j].max()), 5), "gained": gained, "lost": lost}
    worst = diff.max(axis=1)
    return {
        "comments": len(diff),
        "max_diff": round(float(worst.max()), 5),
        "p999_diff": round(float(np.quantile(worst, 0.999)), 5),
        "mean_diff": round(float(diff.mean()), 6),
        "comments_over_0.01": int((worst > 0.01).sum()),
        "label_set_flips": len(flips),
        "labels": per_label,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--data-dir", type=Path, default=None, help="default: $MODERATION_DATA_DIR or ../shared/data")
    ap.add_argument("--first", type=int, default=0, help="instead of the sample, the first N comments of the pool (0: the sample)")
    args = ap.parse_args()

    import torch

    model = Moderator.load(args.model, backend="torch")
    cpu, flags = cpu_info()
    data_dir = args.data_dir or default_data_dir()
    if args.first:
        groups = {f"first_{args.first}": comment_pool(data_dir)[: args.first]}
    else:
        groups = load_comments(data_dir, model.tokenizer)
    results = {"model": model.name, "cpu": cpu, "bf16_flags": bf16_flags(flags), "threads": torch.get_num_threads(),
               "load": os.getloadavg()[0], "thresholds": model.thresholds}
    print(f"model {model.name}; CPU {cpu}; bf16 flags {' '.join(results['bf16_flags']) or 'none'}", flush=True)
    parts = {name: compare(model, texts) for name, texts in groups.items()}
    for name, (diff, want, got) in parts.items():
        results[name] = summarise(model.labels, diff, want, got)
        print(json.dumps({name: results[name]}), flush=True)
    results["all"] = summarise(model.labels, np.vstack([p[0] for p in parts.values()]),
                               *([x for p in parts.values() for x in p[k]] for k in (1, 2)))
    rows = [*groups, "all"] if len(groups) > 1 else [*groups]
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / (f"bf16_drift_first_{args.first}.json" if args.first else "bf16_drift.json")).write_text(json.dumps(results, indent=2) + "\n")

    print("\n| comments | n | max abs diff | 99.9th pct | mean | comments > 0.01 | label-set flips |")
    print("|---|---|---|---|---|---|---|")
    for name in rows:
        r = results[name]
        print(f"| {name} | {r['comments']:,} | {r['max_diff']:.4f} | {r['p999_diff']:.4f} | {r['mean_diff']:.1e} | "
              f"{r['comments_over_0.01']} | {r['label_set_flips']} ({r['label_set_flips'] / r['comments']:.2%}) |")
    print("\n| label | threshold | max abs diff | gained | lost |")
    print("|---|---|---|---|---|")
    for label, r in results["all"]["labels"].items():
        print(f"| {label} | {model.thresholds[label]:.3f} | {r['max_diff']:.4f} | {r['gained']} | {r['lost']} |")


if __name__ == "__main__":
    main()
