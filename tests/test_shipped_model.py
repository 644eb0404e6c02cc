"""Evaluation gate for the shipped default model (trafilatura style): pinned floors on small
committed samples, so a worse model cannot be shipped silently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from moderation import Moderator, extract_page
from moderation.model import WEIGHTS_FILE, default_model_path

FIXTURES = Path(__file__).parent / "fixtures"
SEED_000 = FIXTURES / "seeds" / "000_81f09624bfe65d55.txt"

# Pinned floors: measured values minus a small allowance (see README "Shipped model").
PROBE_FLOORS = {"hostility": 0.90, "misinformation": 0.85}
TEMPLATE_CEILING = 0.05


@pytest.fixture(scope="module")
def model() -> Moderator:
    return Moderator.load()


def test_default_model_is_small_and_documented(model: Moderator) -> None:
    path = default_model_path().resolve()
    size_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
    assert size_mb <= 60, size_mb
    assert (path / WEIGHTS_FILE).is_file() and (path / "MODEL_CARD.md").is_file()
    meta = model.meta
    assert meta["labels"][:2] == ["hostility", "misinformation"]
    assert set(meta["thresholds"]) == set(meta["labels"])
    assert len(meta["base_model"]["sha256"]) == 64
    assert meta["training"]["licences"] and meta["metrics"]["validation"]


def test_probe_sample_floors(model: Moderator) -> None:
    rows = [json.loads(line) for line in (FIXTURES / "model_probe.jsonl").read_text().splitlines()]
    for label, floor in PROBE_FLOORS.items():
        subset = [r for r in rows if label in r]
        probs = model.predict_proba([r["text"] for r in subset])[:, model.labels.index(label)]
        auc = roc_auc_score([r[label] for r in subset], probs)
        assert auc >= floor, f"{label} probe ROC-AUC {auc:.3f} < floor {floor}"


def test_identity_templates_rarely_flagged(model: Moderator) -> None:
    from training.bias import template_check

    result = template_check(model.predict_proba, model.thresholds["hostility"])
    assert result["flagged_rate"] <= TEMPLATE_CEILING, result["highest"][:3]


def test_seed_000_comments_look_right(model: Moderator) -> None:
    doc = extract_page(SEED_000.read_text(encoding="utf-8"))
    texts = [c.text for c in doc.comments]
    probs = model.predict_proba(texts)
    hostility = dict(zip(texts, probs[:, model.labels.index("hostility")]))
    misinfo = dict(zip(texts, probs[:, model.labels.index("misinformation")]))

    def find(fragment: str) -> str:
        return next(t for t in texts if fragment in t)

    h_thr, m_thr = model.thresholds["hostility"], model.thresholds["misinformation"]
    for fragment in ("Hamas Rats in the tunnels", "on threat of death", "people who are brain dead"):
        assert hostility[find(fragment)] >= h_thr, (fragment, hostility[find(fragment)], h_thr)
    for fragment in ("$50 billion", "billions in untraceable bills"):
        assert misinfo[find(fragment)] >= m_thr, (fragment, misinfo[find(fragment)], m_thr)
    for fragment in ("Thank you President Biden",):
        assert hostility[find(fragment)] < h_thr and misinfo[find(fragment)] < m_thr
    # Ranking check, robust to threshold choice: the attacks outrank the median comment.
    assert hostility[find("Hamas Rats")] > np.median(list(hostility.values()))
