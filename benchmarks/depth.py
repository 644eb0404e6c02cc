"""How validation ROC-AUC grows with encoder depth: a capacity check for the issue-3 targets.

Keeps the bottom N layers of all-MiniLM-L6-v2 (the only pretrained encoder installable here),
trains stage 1 of the default recipe on each truncated encoder, and prints ROC-AUC per source
for the main label of each source. If the figures still climb steeply from 4 to 6 layers, the
sources are limited by the encoder's capacity rather than by the data mix.

    python benchmarks/depth.py --layers 2 4 6 --seeds 13 14      # about 40 minutes on 2 cores

``--base DIR`` runs the same check on another encoder folder, such as one adapted by
:mod:`training.dapt` (``--layers 6`` keeps all of a six-layer encoder):

    python -m training.dapt --config configs/default-stage3a.yaml --output runs/dapt/base --epochs 0.6
    python benchmarks/depth.py --base runs/dapt/base --layers 6 --seeds 13 14 --out runs/dapt/depth
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from moderation import Moderator
from training.config import DEFAULT_BASE, TrainConfig
from training.evaluate import table_for
from training.metrics import evaluate
from training.trainer import resolve_base, train_model

MAIN = {"hostility": ("ucc", "toxic_spans", "kaggle_insults", "tweeteval_offensive", "olid"),
        "misinformation": ("liar", "constraint", "covid_rumor")}


def truncated_base(layers: int, out: Path, base: str = DEFAULT_BASE) -> Path:
    """``base`` (by default the shipped base encoder) cut to its bottom ``layers`` layers, saved with its tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    path, _ = resolve_base(base)
    target = out / f"base-L{layers}"
    if not (target / "config.json").exists():
        encoder = AutoModel.from_pretrained(path)
        encoder.encoder.layer = encoder.encoder.layer[:layers]
        encoder.config.num_hidden_layers = layers
        encoder.save_pretrained(target)
        AutoTokenizer.from_pretrained(path).save_pretrained(target)
    return target


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, nargs="+", default=[2, 4, 6])
    ap.add_argument("--seeds", type=int, nargs="+", default=[13])
    ap.add_argument("--base", default=DEFAULT_BASE, help="encoder folder to cut (default: the shipped base, all-MiniLM-L6-v2)")
    ap.add_argument("--config", default="configs/default.yaml", help="a from-base config (stage 1 by default)")
    ap.add_argument("--out", type=Path, default=Path("runs/depth"))
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()

    results: dict[str, dict[str, float]] = {}
    for layers in args.layers:
        base = truncated_base(layers, args.out, args.base)
        for seed in args.seeds:
            run = args.out / f"L{layers}-s{seed}"
            if not (run / "moderation.json").exists():
                cfg = TrainConfig.from_yaml(args.config, base_model=str(base), seed=seed, version=f"0.{layers}.{seed}")
                train_model(cfg, run, data_dir=args.data_dir)
            model = Moderator.load(run, backend="torch")
            table = table_for(model, args.data_dir)
            val = table[table["split"] == "validation"].reset_index(drop=True)
            report = evaluate(model.predict_proba(val["text"].tolist()), val, model.thresholds, labels=model.labels)
            results[run.name] = {src: report[src][label]["roc_auc"] for label, srcs in MAIN.items() for src in srcs}
            print(run.name, json.dumps({k: round(v, 4) for k, v in results[run.name].items()}), flush=True)

    sources = [src for srcs in MAIN.values() for src in srcs]
    print("\n| layers | " + " | ".join(sources) + " |\n|---|" + "---|" * len(sources))
    for layers in args.layers:
        runs = [r for name, r in results.items() if name.startswith(f"L{layers}-")]
        print(f"| {layers} | " + " | ".join(f"{np.mean([r[s] for r in runs]):.3f}" for s in sources) + " |")
    (args.out / "depth.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
