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

# Pinned floors: measured 0.97 (hostility) and 0.969 (misinformation) on the probe set, minus an allowance.
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


@pytest.fixture(scope="module")
def seed_000(model: Moderator) -> tuple[dict[str, float], dict[str, float]]:
    doc = extract_page(SEED_000.read_text(encoding="utf-8"))
    texts = [c.text for c in doc.comments]
    probs = model.predict_proba(texts)
    hostility = dict(zip(texts, probs[:, model.labels.index("hostility")]))
    misinfo = dict(zip(texts, probs[:, model.labels.index("misinformation")]))
    return hostility, misinfo


def _find(scores: dict[str, float], fragment: str) -> float:
    return next(v for t, v in scores.items() if fragment in t)


def test_seed_000_comments_rank_sensibly(model: Moderator, seed_000) -> None:
    hostility, misinfo = seed_000
    median_h = float(np.median(list(hostility.values())))
    for fragment in ("Hamas Rats in the tunnels", "people who are brain dead"):
        assert _find(hostility, fragment) > 2 * median_h, fragment
    median_m = float(np.median(list(misinfo.values())))
    for fragment in ("$50 billion", "billions in untraceable bills"):
        assert _find(misinfo, fragment) > median_m, fragment
    thanks = "Thank you President Biden"
    assert _find(hostility, thanks) < model.thresholds["hostility"] and _find(misinfo, thanks) < model.thresholds["misinformation"]
    # Ordinary comments: at most a third of the page is flagged for misinformation (1.0.0 flagged 24 of 30).
    assert sum(p >= model.thresholds["misinformation"] for p in misinfo.values()) <= len(misinfo) // 3


@pytest.mark.xfail(strict=True, reason="known gap of moderation-minilm@1.2.0 (issue 3): the threat and the "
                   "dehumanising comment score below the hostility threshold, and the '$50 billion' and "
                   "'untraceable bills' claims rank above the page median but below the misinformation threshold")
def test_seed_000_comments_meet_the_issue_bar(model: Moderator, seed_000) -> None:
    hostility, misinfo = seed_000
    h_thr, m_thr = model.thresholds["hostility"], model.thresholds["misinformation"]
    for fragment in ("Hamas Rats in the tunnels", "on threat of death", "people who are brain dead"):
        assert _find(hostility, fragment) >= h_thr, fragment
    for fragment in ("$50 billion", "billions in untraceable bills"):
        assert _find(misinfo, fragment) >= m_thr, fragment
    assert _find(hostility, "Thank you President Biden") < h_thr and _find(misinfo, "Thank you President Biden") < m_thr
