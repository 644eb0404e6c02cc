"""User mentions are written one way, in training and in scoring alike (moderation.normalise)."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from moderation.model import Moderator
from moderation.normalise import normalise
from tests.conftest import TINY_ENCODER
from training.config import TrainConfig
from training.trainer import build_moderator, train_model


@pytest.mark.parametrize("text, expected", [
    ("@user @User you are wrong", "@USER @USER you are wrong"),
    ("@USER Go home URL", "@USER Go home URL"),  # OLID's own form is left as it is
    ("RT @some_one1: see https://t.co/AbC123", "RT @USER: see https://t.co/AbC123"),  # links keep their domain
    ("mail me at jo@example.com", "mail me at jo@example.com"),  # not a mention
    ("@用户 你好", "@USER 你好"),
    ("no mentions here", "no mentions here"),
])
def test_mentions_become_one_placeholder(text: str, expected: str) -> None:
    assert normalise(text) == expected
    assert normalise(expected) == expected  # idempotent: scoring already normalised text changes nothing


def test_a_model_normalises_only_when_its_metadata_says_so(tiny_model_dir: Path) -> None:
    model = Moderator.load(tiny_model_dir, backend="torch")
    a, b = "@alice_1984 you are a disgrace", "@USER you are a disgrace"
    assert not model.normalises  # models trained without it score the raw text, as before
    raw = model.logits([a, b])
    assert not np.allclose(raw[0], raw[1])
    model.meta["normalise"] = True
    assert model.prepare([a]) == [b]
    same = model.logits([a, b])
    np.testing.assert_array_equal(same[0], same[1])
    np.testing.assert_array_equal(same[1], raw[1])


def _mention_file(path: Path, mention: str) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "hostility"])
        for i in range(64):
            hostile = i % 2 == 0
            w.writerow([f"{mention.format(i=i)} {'idiot' if hostile else 'friend'} number {i}", int(hostile)])
    return path


def _cfg(data: Path, **kw) -> TrainConfig:
    return TrainConfig(name="tiny", version="0.1.0", tiny_encoder=TINY_ENCODER, max_length=16, batch_size=8, epochs=1,
                       learning_rate=1e-3, checkpoint_every=0, seed=3, sources={str(data): {"val_fraction": 0.25}}, **kw)


def test_training_reads_normalised_text_and_records_it(tmp_path: Path) -> None:
    from training.data import build_table
    from training.trainer import Trainer, seed_everything

    data = _mention_file(tmp_path / "handles.csv", "@reader_{i}")
    table = build_table(_cfg(data).sources, seed=3)
    train = table[table["split"] == "train"].reset_index(drop=True)
    placeholders = train.assign(text=train["text"].str.replace(r"@reader_\d+", "@USER", regex=True))

    def fit(cfg: TrainConfig, rows) -> Moderator:
        seed_everything(0)
        model = build_moderator(cfg, ["hostility"])
        Trainer(cfg, tmp_path / "out", progress=False).fit(model, rows)
        return model

    # Real handles and OLID's placeholder train identical weights only if the trainer normalises.
    a, b = fit(_cfg(data, normalise=True), train), fit(_cfg(data, normalise=True), placeholders)
    for (name, x), y in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert torch.equal(x, y), name
    plain = fit(_cfg(data, normalise=False), train)
    assert not torch.equal(plain.net.classifier.weight, a.net.classifier.weight)

    trained = train_model(_cfg(data, normalise=True), tmp_path / "a", progress=False)
    loaded = Moderator.load(tmp_path / "a", backend="torch")
    assert trained.normalises and loaded.normalises
    train_model(_cfg(data), tmp_path / "b", progress=False)
    assert not Moderator.load(tmp_path / "b", backend="torch").normalises  # off unless asked for
    # A later stage keeps its parent's setting unless its config says otherwise.
    child = build_moderator(dataclasses.replace(_cfg(data), init_from=str(tmp_path / "a")), loaded.labels)
    assert child.normalises
    off = build_moderator(dataclasses.replace(_cfg(data), init_from=str(tmp_path / "a"), normalise=False), loaded.labels)
    assert not off.normalises
