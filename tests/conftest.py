"""Shared fixtures: tiny models built locally in seconds (CI never trains a real model)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TINY_ENCODER = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "vocab_size": 30522,
    "max_position_embeddings": 128,
}


def build_tiny(path: Path, version: str = "0.0.1", seed: int = 0) -> Path:
    """Save an untrained tiny random BERT moderator (real tokenizer of the default base)."""
    import torch

    from moderation.labels import LABELS
    from training.config import TrainConfig
    from training.trainer import build_moderator

    torch.manual_seed(seed)
    cfg = TrainConfig(name="tiny", version=version, tiny_encoder=TINY_ENCODER, max_length=64)
    moderator = build_moderator(cfg, list(LABELS))
    moderator.meta["config"] = cfg.to_dict()
    moderator.save(path)
    return path


@pytest.fixture(scope="session", autouse=True)
def cpu_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``auto``'s per-machine verdicts go to a session file, never the user's ~/.cache (subprocesses inherit it)."""
    from moderation.cpu import CACHE_ENV

    path = tmp_path_factory.mktemp("cache") / "cpu.json"
    os.environ[CACHE_ENV] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained model directory, shared by the whole test session (treat as read-only)."""
    return build_tiny(tmp_path_factory.mktemp("models") / "tiny")
