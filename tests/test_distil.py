"""Knowledge distillation targets (training/distil.py), with a tiny teacher built in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moderation import Moderator
from moderation.errors import InputError
from moderation.labels import LABELS, MISSING
from tests.conftest import build_tiny
from training.config import TrainConfig
from training.distil import blend, distil_targets


def _train() -> pd.DataFrame:
    frame = pd.DataFrame({"text": ["you fool", "thanks a lot", "nice day", "go away"],
                          "source": ["olid", "olid", "templates", "olid"], "split": "train"})
    for label in LABELS:
        frame[label] = np.float32(MISSING)
    frame["hostility"] = np.array([1.0, 0.0, 0.0, MISSING], dtype=np.float32)
    return frame


def test_blend_moves_known_cells_only() -> None:
    train = _train()
    out = blend(train, np.array([[0.2], [0.6]]), ["hostility"], np.array([0, 1]), 0.5)
    assert out["hostility"].tolist()[:2] == pytest.approx([0.6, 0.3])
    assert out["hostility"].tolist()[2] == 0.0 and out["hostility"].tolist()[3] == MISSING
    assert train["hostility"].tolist()[0] == 1.0  # the input is not changed


def test_teacher_speaks_only_for_the_named_sources(tmp_path: Path) -> None:
    teacher_dir = build_tiny(tmp_path / "teacher")
    train = _train()
    spec = {"teacher": str(teacher_dir), "labels": ["hostility"], "sources": ["olid"], "weight": 0.25}
    out = distil_targets(train, spec)
    p = Moderator.load(teacher_dir, backend="torch").predict_proba(["you fool", "thanks a lot"])[:, LABELS.index("hostility")]
    assert out["hostility"].tolist()[:2] == pytest.approx((0.75 * np.array([1.0, 0.0]) + 0.25 * p).tolist(), abs=1e-6)
    assert out.loc[2, "hostility"] == 0.0  # templates: not named
    assert out.loc[3, "hostility"] == MISSING  # unknown stays unknown
    assert (out["insult"] == MISSING).all()


def test_a_missing_teacher_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a model directory"):
        distil_targets(_train(), {"teacher": str(tmp_path / "nope"), "labels": ["hostility"], "sources": ["olid"]})


@pytest.mark.parametrize("spec, message", [
    ("models/x", "must be a mapping"),
    ({"teacher": "m", "labels": ["hostile"], "sources": ["olid"]}, "unknown labels 'hostile'"),
    ({"teacher": "m", "labels": ["hostility"], "sources": ["liar"]}, "unknown sources 'liar'"),
    ({"teacher": "m", "labels": ["hostility"], "sources": ["olid"], "weight": 1.5}, "weight must be"),
    ({"teacher": "m", "labels": ["hostility"], "sources": ["olid"], "temperature": 2}, "must be a mapping"),
])
def test_config_rejects_a_bad_distil_setting(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(sources={"olid": {}}, distil=spec)
