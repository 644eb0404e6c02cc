"""Validation metrics on tiny synthetic tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moderation.labels import LABELS, MISSING
from training.metrics import (
    POOLED,
    evaluate,
    expected_calibration_error,
    fit_thresholds,
    flag_rate_floor,
    markdown_table,
    roc_auc_interval,
)
from training.metrics import _auc

H, M = LABELS.index("hostility"), LABELS.index("misinformation")


def make_table(hostility=None, misinformation=None, source="ucc", split="validation") -> pd.DataFrame:
    """Rows of one source; labels not given are MISSING."""
    n = len(hostility if hostility is not None else misinformation)
    frame = pd.DataFrame({"text": [f"comment {i}" for i in range(n)], "source": source, "split": split})
    for label in LABELS:
        frame[label] = MISSING
    if hostility is not None:
        frame["hostility"] = np.asarray(hostility, dtype=float)
    if misinformation is not None:
        frame["misinformation"] = np.asarray(misinformation, dtype=float)
    return frame


def make_probs(n: int, hostility=None, misinformation=None, fill: float = 0.5) -> np.ndarray:
    probs = np.full((n, len(LABELS)), fill)
    if hostility is not None:
        probs[:, H] = hostility
    if misinformation is not None:
        probs[:, M] = misinformation
    return probs


Y = np.array([0, 1] * 10)


def test_perfect_predictor_scores_one_and_constant_scores_half() -> None:
    table = make_table(Y)
    perfect = evaluate(make_probs(20, hostility=0.1 + 0.8 * Y), table, {"hostility": 0.5})["ucc"]["hostility"]
    assert perfect["roc_auc"] == 1.0 and perfect["pr_auc"] == 1.0
    assert perfect["macro_f1"] == 1.0 and perfect["f1"] == 1.0
    assert (perfect["n"], perfect["positives"]) == (20, 10)
    constant = evaluate(make_probs(20, hostility=0.3), table, {"hostility": 0.5})["ucc"]["hostility"]
    assert constant["roc_auc"] == 0.5
    assert constant["f1"] == 0.0


def test_masked_labels_and_other_splits_are_excluded() -> None:
    rng = np.random.default_rng(0)
    table = pd.concat(
        [
            make_table(hostility=Y, source="ucc"),
            make_table(misinformation=Y, source="liar"),
            make_table(hostility=1 - Y, misinformation=Y, source="ucc", split="train"),
            make_table(hostility=np.zeros(20), source="tweeteval_offensive"),  # one class only
        ],
        ignore_index=True,
    )
    good = np.concatenate([Y, Y, Y, Y]) * 0.8 + 0.1
    probs = make_probs(80, hostility=good, misinformation=good)
    report = evaluate(probs, table, {})
    assert set(report) == {"ucc", "liar", POOLED}
    assert set(report["ucc"]) == {"hostility"} and set(report["liar"]) == {"misinformation"}
    assert report[POOLED]["hostility"]["n"] == 20 + 20  # ucc validation + the one-class source
    assert report[POOLED]["misinformation"]["n"] == 20
    # Scores on masked cells and train rows must not move any metric.
    noisy = probs.copy()
    noisy[20:40, H] = rng.random(20)
    noisy[:20, M] = rng.random(20)
    noisy[40:60] = rng.random((20, len(LABELS)))
    assert evaluate(noisy, table, {}) == report


def test_soft_labels_are_binarised_at_half() -> None:
    table = make_table(hostility=[0.7, 0.5, 0.49, 0.1])
    cell = evaluate(make_probs(4, hostility=[0.9, 0.8, 0.2, 0.1]), table, {})["ucc"]["hostility"]
    assert cell["positives"] == 2 and cell["roc_auc"] == 1.0


def test_evaluate_accepts_anything_with_to_pandas() -> None:
    class FakeDataset:
        def to_pandas(self) -> pd.DataFrame:
            return make_table(Y)

    probs = make_probs(20, hostility=0.1 + 0.8 * Y)
    assert evaluate(probs, FakeDataset(), {}) == evaluate(probs, make_table(Y), {})


def test_wrong_probs_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        evaluate(np.zeros((20, 2)), make_table(Y), {})


def test_ece_by_hand_and_edges() -> None:
    # Bin 0: rate 0.5 vs 0.05 on half the rows; bin 9: 1.0 vs 0.95 on the other half.
    assert expected_calibration_error(np.array([0, 1, 1, 1]), np.array([0.05, 0.05, 0.95, 0.95])) == pytest.approx(0.25)
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0


def test_ece_calibrated_near_zero_and_overconfident_large() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(20_000)
    y = (rng.random(20_000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.02
    # Says 99% / 1% but is right only 70% of the time.
    truth = rng.random(20_000) < 0.5
    correct = rng.random(20_000) < 0.7
    overconfident = np.where(truth == correct, 0.99, 0.01)
    assert expected_calibration_error(truth.astype(int), overconfident) > 0.25


def test_fit_thresholds_uses_validation_rows_and_defaults() -> None:
    y = np.array([0] * 10 + [1] * 10)
    val_scores = np.r_[np.linspace(0.1, 0.3, 10), np.linspace(0.6, 0.9, 10)]
    table = pd.concat([make_table(y), make_table(y, split="train")], ignore_index=True)
    # Train rows score the other way round; they must not pull the threshold.
    probs = make_probs(40, hostility=np.r_[val_scores, val_scores[::-1]])
    thresholds = fit_thresholds(probs, table)
    assert set(thresholds) == set(LABELS)
    assert 0.3 < thresholds["hostility"] < 0.6
    assert thresholds["misinformation"] == 0.5  # no data
    assert evaluate(probs, table, thresholds)["ucc"]["hostility"]["macro_f1"] == 1.0


def test_flag_rate_floor_flags_at_most_the_share() -> None:
    p = np.array([0.9, 0.8, 0.8, 0.7, 0.1])
    for share, flagged in [(0.2, 1), (0.25, 1), (0.4, 1), (0.6, 3), (1.0, 5)]:
        assert (p >= flag_rate_floor(p, share)).sum() == flagged  # ties at 0.8 go together or not at all
    assert flag_rate_floor(p, 0.1) > 0.9


def test_threshold_caps_bound_the_flag_rate_on_named_sources() -> None:
    # Claims: true ones (0) score 0.3-0.55, false ones (1) 0.4-0.9; comments: all true and near 0.
    claims = make_table(misinformation=[0] * 20 + [1] * 30, source="liar")
    comments = make_table(misinformation=[0] * 200, source="ucc")
    table = pd.concat([claims, comments], ignore_index=True)
    scores = np.r_[np.linspace(0.3, 0.55, 20), np.linspace(0.4, 0.9, 30), np.full(200, 0.02)]
    probs = make_probs(len(table), misinformation=scores)
    true_claims = np.arange(20)
    free = fit_thresholds(probs, table)["misinformation"]
    assert (scores[true_claims] >= free).mean() > 0.3  # F1 alone flags many true claims
    capped = fit_thresholds(probs, table, caps={"misinformation": {"max_flagged": 0.1, "sources": ["liar"]}})
    assert capped["misinformation"] > free
    assert (scores[true_claims] >= capped["misinformation"]).mean() <= 0.1
    assert capped["hostility"] == 0.5  # other labels untouched (no data here)


def test_markdown_table_with_and_without_baseline() -> None:
    table = pd.concat([make_table(Y, source="ucc"), make_table(Y, source="constraint")], ignore_index=True)
    model = evaluate(make_probs(40, hostility=np.r_[Y, Y] * 0.8 + 0.1), table, {})
    base = evaluate(make_probs(40, hostility=np.r_[Y, Y] * 0.2 + np.linspace(0.1, 0.7, 40)), table, {})
    text = markdown_table(model, base)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "Source" not in line]
    assert [r.split(" | ")[0] for r in rows] == ["| constraint", "| ucc", f"| {POOLED}"]
    delta = model["ucc"]["hostility"]["roc_auc"] - base["ucc"]["hostility"]["roc_auc"]
    assert f"+{delta:.3f}" in rows[1]
    assert "(baseline)" in text and "(baseline)" not in markdown_table(model)
    assert "misinformation" not in text


def test_roc_auc_interval_brackets_the_estimate_and_narrows_with_more_positives() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)

    def interval(n: int, positives: int) -> tuple[float, float, float]:
        y = np.r_[np.ones(positives), np.zeros(n - positives)].astype(int)
        p = np.round(rng.random(n) + 0.6 * y, 1)  # rounded, so tied scores occur
        return roc_auc_score(y, p), *roc_auc_interval(y, p)

    auc, low, high = interval(1000, 20)
    assert low < auc < high
    y, p = np.r_[np.ones(20), np.zeros(980)].astype(int), np.round(rng.random(1000), 1)
    assert _auc(p[y == 1][None, :], p[y == 0][None, :])[0] == pytest.approx(roc_auc_score(y, p))
    _, low_many, high_many = interval(1000, 400)
    assert high_many - low_many < (high - low) / 2
    assert roc_auc_interval(Y, 0.1 + 0.8 * Y) == (1.0, 1.0)
    # Positives and negatives are resampled separately: even 2 positives give a finite interval.
    assert np.isfinite(roc_auc_interval(np.r_[1, 1, np.zeros(98)], np.linspace(1, 0, 100))).all()
    # A single positive has no interval, and evaluating such a cell still works.
    assert np.isnan(roc_auc_interval(np.r_[1, np.zeros(30)], np.linspace(1, 0, 31))).all()
    table = pd.concat([make_table(np.r_[1, np.zeros(30)]), make_table(Y, source="olid")], ignore_index=True)
    one = evaluate(make_probs(51, hostility=np.r_[np.linspace(1, 0, 31), 0.1 + 0.8 * Y]), table, {}, intervals=True)
    assert one["ucc"]["hostility"]["roc_auc"] == 1.0 and "roc_auc_low" not in one["ucc"]["hostility"]
    assert "roc_auc_low" in one["olid"]["hostility"]
    assert "| ucc | hostility | 31 | 1 | 1.000 | – |" in markdown_table(one)


def test_evaluate_with_intervals_reports_them_and_the_table_shows_them() -> None:
    table = make_table(Y)
    probs = make_probs(20, hostility=np.linspace(0, 1, 20))
    plain = evaluate(probs, table, {})["ucc"]["hostility"]
    with_interval = evaluate(probs, table, {}, intervals=True)["ucc"]["hostility"]
    assert "roc_auc_low" not in plain
    assert with_interval["roc_auc_low"] <= with_interval["roc_auc"] <= with_interval["roc_auc_high"]
    text = markdown_table(evaluate(probs, table, {}, intervals=True))
    assert "95% interval" in text and f"{with_interval['roc_auc_low']:.3f}–{with_interval['roc_auc_high']:.3f}" in text
    assert "interval" not in markdown_table(evaluate(probs, table, {}))


def test_training_modules_do_not_import_torch() -> None:
    code = (
        "import sys; import training.metrics, training.bias, training.baseline; "
        "sys.exit('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
