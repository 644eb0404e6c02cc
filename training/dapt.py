"""Domain-adaptive pretraining: continue masked-language-model training of the base encoder on the
training texts of a config's sources, before any fine-tuning (Gururangan et al., 2020, "Don't Stop
Pretraining"). The result is a plain encoder folder that a config names as its ``base_model``.

all-MiniLM-L6-v2 ships without a masked-LM head (it was trained as a sentence encoder), so a fresh
head is trained first on frozen features (``--head-steps``), then the whole encoder. Only training
rows are read: validation texts never reach the encoder, so validation figures stay clean.

    python -m training.dapt --config configs/default-stage3a.yaml --output runs/dapt/base --epochs 0.6
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from moderation.errors import ModerationError
from training.config import DEFAULT_BASE, TrainConfig
from training.trainer import batch_plan, linear_schedule, progress_bar, resolve_base, seed_everything, training_precision


@dataclass
class PretrainArgs:
    """Settings of one domain-adaptive pretraining run; saved beside the encoder as ``dapt.json``."""

    base_model: str = DEFAULT_BASE
    max_length: int = 128
    batch_size: int = 32
    epochs: float = 1.0
    learning_rate: float = 5e-5
    head_learning_rate: float = 5e-4
    head_steps: int = 150  # steps that train only the new masked-LM head, on frozen encoder features
    mask_probability: float = 0.15
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    seed: int = 13
    bf16: bool = True  # a request: bf16 autocast only where the CPU has bf16 instructions (training_precision)


def corpus(config: Path, data_dir: str | None = None) -> list[str]:
    """The distinct training texts of a config's sources (validation rows are left out by build_table)."""
    from training.data import build_table, text_key

    cfg = TrainConfig.from_yaml(config)
    table = build_table(cfg.sources, data_dir=data_dir, seed=cfg.seed)
    train = table[table["split"] == "train"].drop_duplicates("text")
    val_keys = set(table.loc[table["split"] == "validation", "text"].map(text_key))
    leaked = int(train["text"].map(text_key).isin(val_keys).sum())
    if leaked:  # build_table drops these already; a regression there must not leak validation text
        raise RuntimeError(f"{leaked} training texts also occur in validation")
    return train["text"].tolist()


def pretrain(texts: list[str], output: Path, args: PretrainArgs, progress: bool = True) -> dict:
    """Masked-LM training of ``args.base_model`` on ``texts``; saves the encoder and tokenizer to ``output``."""
    from transformers import AutoModel, AutoTokenizer, DataCollatorForLanguageModeling
    from transformers.models.bert.modeling_bert import BertOnlyMLMHead

    seed_everything(args.seed)
    bf16 = training_precision(args.bf16) == "bf16"
    path, digest = resolve_base(args.base_model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path)
    head = BertOnlyMLMHead(encoder.config)
    head.predictions.decoder.weight = encoder.embeddings.word_embeddings.weight  # tied, as in BERT
    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=args.mask_probability, return_tensors="pt")

    ids = tokenizer(texts, truncation=True, max_length=args.max_length)["input_ids"]
    lengths = np.array([len(x) for x in ids])
    plan = batch_plan(lengths, args.batch_size, args.epochs, args.seed)
    total = len(plan)

    # The encoder waits (rate 0) while the new head learns on frozen features, then warms up and decays;
    # the head's rate decays from the first step.
    head_params = [p for n, p in head.named_parameters() if "decoder.weight" not in n]  # the decoder is the embedding matrix
    opt = torch.optim.AdamW(
        [{"params": list(encoder.parameters()), "lr": args.learning_rate},
         {"params": head_params, "lr": args.head_learning_rate}],
        weight_decay=args.weight_decay,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, [linear_schedule(total, args.warmup_ratio, start=args.head_steps), lambda s: max(0.0, (total - s) / total)]
    )
    encoder.train()
    head.train()
    bar = progress_bar(total, "pretrain") if progress else None
    history, running, started = [], None, time.perf_counter()
    every = max(1, min(50, total // 10))
    for step, batch in enumerate(plan):
        enc = collate([{"input_ids": ids[i]} for i in batch])
        labels = enc["labels"]
        chosen = labels != -100
        if not chosen.any():
            continue
        frozen = step < args.head_steps
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16), torch.set_grad_enabled(not frozen):
            hidden = encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            # Only the masked positions go through the vocabulary projection: at 30k words it would
            # otherwise cost as much as the encoder itself.
            logits = head(hidden[chosen])
        loss = nn.functional.cross_entropy(logits.float(), labels[chosen])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(encoder.parameters()) + head_params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}")
        if (step + 1) % every == 0 or step + 1 == total:
            history.append({"step": step + 1, "loss": round(running, 4), "seconds": round(time.perf_counter() - started, 1)})
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - started

    output.mkdir(parents=True, exist_ok=True)
    encoder.eval().save_pretrained(output)
    tokenizer.save_pretrained(output)
    record = {"args": asdict(args), "base_sha256": digest, "texts": len(texts), "batches": total,
              "train_seconds": round(seconds, 1), "precision": "bf16" if bf16 else "fp32", "history": history}
    (output / "dapt.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, required=True, help="training config whose sources' training texts form the corpus")
    ap.add_argument("--output", type=Path, required=True, help="folder for the adapted encoder")
    ap.add_argument("--data-dir", default=None, help="default: $MODERATION_DATA_DIR or ../shared/data")
    for name, value in asdict(PretrainArgs()).items():
        if isinstance(value, bool):
            ap.add_argument("--" + name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=value)
        else:
            ap.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    ns = ap.parse_args()
    args = PretrainArgs(**{k: v for k, v in vars(ns).items() if k in PretrainArgs.__dataclass_fields__})
    if (ns.output / "model.safetensors").exists():
        raise SystemExit(f"error: {ns.output} already holds an encoder; choose a new --output")
    try:
        texts = corpus(ns.config, ns.data_dir)
    except (OSError, ValueError, ModerationError) as exc:
        raise SystemExit(f"error: {ns.config}: {exc}") from None
    print(f"{len(texts)} training texts from {ns.config}", file=sys.stderr)
    record = pretrain(texts, ns.output, args)
    print(f"saved {ns.output}: {record['batches']} batches in {record['train_seconds'] / 60:.1f} min, "
          f"final masked-LM loss {record['history'][-1]['loss'] if record['history'] else float('nan')}")


if __name__ == "__main__":
    main()
