"""Model soups: average the weights of fine-tunes that share a parent, then recalibrate.

    python -m training.soup runs/default-stage3a runs/default-stage3b --output runs/default-stage3

Fine-tunes that start from the same model stay in one basin of the loss, so their
weight average is a working model that is usually at least as good as each of them,
and more robust off-distribution (Wortsman et al., "Model soups", ICML 2022). The
soup is recalibrated (Platt per label) and its thresholds refitted on the validation
split of the last ingredient's config; the ingredients' configs and training records
are kept in its metadata.
"""

from __future__ import annotations

import argparse
import copy
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from moderation.model import Moderator


def average_weights(models: list[Moderator], weights: list[float] | None = None) -> dict[str, torch.Tensor]:
    """The weighted mean of the models' parameters (uniform by default)."""
    weights = weights or [1.0] * len(models)
    if len(weights) != len(models):
        raise ValueError(f"{len(models)} models but {len(weights)} weights")
    total = float(sum(weights))
    states = [m.net.state_dict() for m in models]
    keys = states[0].keys()
    for m, state in zip(models, states):
        if state.keys() != keys or m.labels != models[0].labels:
            raise ValueError(f"{m.name} does not have the same architecture and labels as {models[0].name}")
    return {k: sum(w / total * s[k].float() for w, s in zip(weights, states)) for k in keys}


def make_soup(paths: list[Path], weights: list[float] | None = None, data_dir: str | None = None) -> Moderator:
    """Average the models at ``paths``, recalibrate on validation and record the ingredients."""
    from training.evaluate import table_for
    from training.trainer import calibrate_and_threshold

    models = [Moderator.load(p, backend="torch") for p in paths]
    weights = weights or [1.0] * len(models)
    soup = models[-1]
    soup.net.load_state_dict(average_weights(models, weights))
    table = table_for(soup, data_dir)
    calibrate_and_threshold(soup, table[table["split"] == "validation"].reset_index(drop=True),
                            caps=(soup.meta.get("config") or {}).get("threshold_caps"))
    ingredients: list[dict[str, Any]] = [
        {"model": m.name, "path": str(p), "weight": w, "config": m.meta.get("config"), "training": m.meta.get("training")}
        for m, p, w in zip(models, paths, weights)
    ]
    training = copy.deepcopy(soup.meta.get("training") or {})
    # The soup's stage costs the training of every ingredient.
    training["train_seconds"] = round(sum((i["training"] or {}).get("train_seconds", 0.0) for i in ingredients), 1)
    training["rows"] = sum((i["training"] or {}).get("rows", 0) for i in ingredients)
    soup.meta.update({"soup": ingredients, "training": training,
                      "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    soup.meta.pop("metrics", None)
    return soup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path, help="model directories fine-tuned from the same parent")
    ap.add_argument("--output", type=Path, required=True, help="model directory to write (must not exist)")
    ap.add_argument("--weights", type=float, nargs="+", default=None, help="one weight per model (default: uniform)")
    ap.add_argument("--data-dir", default=None, help="default: $MODERATION_DATA_DIR or ../shared/data")
    args = ap.parse_args()
    if args.output.exists():
        raise SystemExit(f"error: {args.output} exists (models are immutable)")
    if len(args.models) < 2:
        raise SystemExit("error: a soup needs at least two models")
    soup = make_soup(args.models, args.weights, args.data_dir)
    soup.save(args.output)
    print(f"wrote {args.output} ({soup.name}); thresholds " + ", ".join(f"{k} {v:.3f}" for k, v in soup.thresholds.items()))


if __name__ == "__main__":
    main()
