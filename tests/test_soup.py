"""Model soups (training/soup.py) on tiny models built in the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from moderation import Moderator
from tests.conftest import build_tiny
from training.soup import average_weights, make_soup

TEXTS = [f"comment number {i} about {'idiots' if i % 2 else 'the weather'} {'!' * (i % 3)}" for i in range(80)]


def _with_label_file(model_dir: Path, tmp_path: Path) -> Path:
    """Point the model's recorded training sources at a small label file, as a real run records its sources."""
    labels = tmp_path / "labels.csv"
    labels.write_text("text,hostility\n" + "".join(f"{t},{i % 2}\n" for i, t in enumerate(TEXTS)))
    meta_path = model_dir / "moderation.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["sources"] = {str(labels): {"val_fraction": 0.5}}
    meta_path.write_text(json.dumps(meta))
    return model_dir


def test_average_weights_is_the_elementwise_mean(tmp_path: Path) -> None:
    a = Moderator.load(build_tiny(tmp_path / "a", seed=0))
    b = Moderator.load(build_tiny(tmp_path / "b", seed=1))
    avg = average_weights([a, b])
    sa, sb = a.net.state_dict(), b.net.state_dict()
    key = "classifier.weight"
    assert not torch.equal(sa[key], sb[key])
    for k in sa:
        assert torch.allclose(avg[k], (sa[k].float() + sb[k].float()) / 2)
    weighted = average_weights([a, b], [3.0, 1.0])
    assert torch.allclose(weighted[key], 0.75 * sa[key] + 0.25 * sb[key])


def test_soup_of_identical_models_keeps_their_scores_and_records_ingredients(tmp_path: Path) -> None:
    path = _with_label_file(build_tiny(tmp_path / "a", seed=0), tmp_path)
    soup = make_soup([path, path])
    original = Moderator.load(path, backend="torch")
    np.testing.assert_allclose(soup.logits(TEXTS[:10]), original.logits(TEXTS[:10]), atol=1e-5)
    assert [i["path"] for i in soup.meta["soup"]] == [str(path), str(path)]
    assert set(soup.thresholds) == set(soup.labels) and "hostility" in soup.calibration
    soup.save(tmp_path / "soup")
    assert Moderator.load(tmp_path / "soup").meta["soup"][0]["weight"] == 1.0


def test_models_with_different_labels_cannot_be_averaged(tmp_path: Path) -> None:
    a = Moderator.load(build_tiny(tmp_path / "a"))
    b = Moderator.load(build_tiny(tmp_path / "b"))
    b.net.grow_labels(1)
    b.labels = b.labels + ["spam"]
    with pytest.raises(ValueError, match="same architecture"):
        average_weights([a, b])
    with pytest.raises(ValueError, match="2 models but 1 weights"):
        average_weights([a, a], [1.0])
