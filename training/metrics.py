"""Validation metrics per source and label: ROC-AUC (with a bootstrap interval), PR-AUC, F1 at a threshold, ECE.

Tables follow the training-data contract: ``text``, ``source``, ``split`` and one
float column per label in LABELS, where MISSING means "this source says nothing"
and such cells are never counted as negatives. ``probs`` arrays are aligned with
the table's rows, columns in LABELS order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve, roc_auc_score

from moderation.labels import LABELS, MISSING

POOLED = "all"
DEFAULT_THRESHOLD = 0.5
ECE_BINS = 10
INTERVAL = 0.95  # confidence of the ROC-AUC bootstrap interval
RESAMPLES = 1000

Metrics = dict[str, float]
Report = dict[str, dict[str, Metrics]]


def as_frame(table: Any) -> pd.DataFrame:
    """A pandas view of a `datasets.Dataset`, DataFrame or anything with ``to_pandas()``."""
    frame = table if isinstance(table, pd.DataFrame) else table.to_pandas()
    return frame.reset_index(drop=True)


def split_mask(frame: pd.DataFrame, split: str | None) -> np.ndarray:
    """Rows of ``split``; every row when ``split`` is None or the table has no split column."""
    if split is None or "split" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return (frame["split"] == split).to_numpy()


def known_mask(frame: pd.DataFrame, label: str) -> np.ndarray:
    """Rows whose source annotates ``label`` (not MISSING, not NaN, column present)."""
    if label not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    values = frame[label].to_numpy(dtype=float)
    return np.isfinite(values) & (values != MISSING)


def binarise(values: np.ndarray) -> np.ndarray:
    """Soft labels to 0/1 at 0.5."""
    return (np.asarray(values, dtype=float) >= 0.5).astype(int)


def has_both_classes(y: np.ndarray) -> bool:
    return 0 < int(y.sum()) < len(y)


def _check_probs(probs: np.ndarray, frame: pd.DataFrame, labels: Sequence[str]) -> np.ndarray:
    probs = np.asarray(probs, dtype=float)
    if probs.shape != (len(frame), len(labels)):
        raise ValueError(f"probs has shape {probs.shape}, expected {(len(frame), len(labels))} (rows x labels)")
    return probs


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE with equal-width bins: sum over bins of (bin share) x |positive rate - mean probability|."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    # Interior edges only, so p == 1.0 falls in the last bin rather than an extra one.
    bins = np.digitize(p, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    counts = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, weights=y, minlength=n_bins) - np.bincount(bins, weights=p, minlength=n_bins))
    return float(gap.sum() / max(counts.sum(), 1))


def _auc(positives: np.ndarray, negatives: np.ndarray, axis: int = -1) -> np.ndarray:
    """ROC-AUC as the Mann-Whitney U of positive against negative scores, over a batch of resamples
    (from ranks: ``scipy.stats.mannwhitneyu`` would also compute p-values nobody reads)."""
    from scipy.stats import rankdata

    n_pos, n_neg = positives.shape[axis], negatives.shape[axis]
    ranks = rankdata(np.concatenate([positives, negatives], axis=axis), axis=axis)
    u = np.take(ranks, np.arange(n_pos), axis=axis).sum(axis=axis) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def roc_auc_interval(y: np.ndarray, p: np.ndarray, confidence: float = INTERVAL, resamples: int = RESAMPLES,
                     seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ROC-AUC, resampling positives and negatives separately
    (so every resample has both classes); wide when positives are few. NaN when a class has
    fewer than two rows, which no resampling can describe."""
    from scipy.stats import bootstrap

    y, p = np.asarray(y), np.asarray(p, dtype=float)
    positives, negatives = p[y == 1], p[y == 0]
    if min(len(positives), len(negatives)) < 2:
        return float("nan"), float("nan")
    batch = max(1, min(100, 5_000_000 // len(p)))  # resamples per call: about 40 MB of scores at a time
    result = bootstrap((positives, negatives), _auc, vectorized=True, n_resamples=resamples,
                       confidence_level=confidence, method="percentile", random_state=seed, batch=batch)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float, interval: bool = False) -> Metrics:
    """All metrics for one binary task; ``y`` must contain both classes. ``interval`` adds the
    bootstrap interval of ROC-AUC as ``roc_auc_low`` and ``roc_auc_high``."""
    pred = (p >= threshold).astype(int)
    bounds = dict(zip(("roc_auc_low", "roc_auc_high"), roc_auc_interval(y, p))) if interval else {}
    bounds = {k: v for k, v in bounds.items() if np.isfinite(v)}  # no interval with a single positive or negative
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "ece": expected_calibration_error(y, p),
        "threshold": float(threshold),
        **bounds,
    }


def _label_tasks(
    frame: pd.DataFrame, probs: np.ndarray, rows: np.ndarray, labels: Sequence[str]
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (label, y, p) for each label with any known row among ``rows``."""
    for j, label in enumerate(labels):
        mask = rows & known_mask(frame, label)
        if mask.any():
            yield label, binarise(frame[label].to_numpy(dtype=float)[mask]), probs[mask, j]


def evaluate(
    probs: np.ndarray, table: Any, thresholds: dict[str, float], *, split: str | None = "validation",
    labels: Sequence[str] = LABELS, intervals: bool = False,
) -> Report:
    """Metrics per source and label plus the pooled ``"all"`` entry: ``{source: {label: metrics}}``.

    Only ``split`` rows count; a (source, label) cell appears only where the source
    annotates the label and both classes occur. ``labels`` names the columns of ``probs``
    (a model with added labels has more than LABELS). ``intervals`` adds ROC-AUC bootstrap intervals.
    """
    frame = as_frame(table)
    probs = _check_probs(probs, frame, labels)
    rows = split_mask(frame, split)
    sources = frame["source"].astype(str).to_numpy() if "source" in frame.columns else np.full(len(frame), POOLED)
    groups = [(str(s), rows & (sources == s)) for s in sorted(set(sources[rows]))]
    report: Report = {}
    for name, group in groups + [(POOLED, rows)]:
        cells = {
            label: binary_metrics(y, p, thresholds.get(label, DEFAULT_THRESHOLD), interval=intervals)
            for label, y, p in _label_tasks(frame, probs, group, labels)
            if has_both_classes(y)
        }
        if cells:
            report[name] = cells
    return report


def best_f1_threshold(y: np.ndarray, p: np.ndarray, floor: float = 0.0) -> float:
    """Threshold maximising F1 of ``p >= threshold`` among thresholds of at least ``floor``;
    DEFAULT_THRESHOLD if ``y`` is one class."""
    if not has_both_classes(y):
        return DEFAULT_THRESHOLD
    precision, recall, cuts = precision_recall_curve(y, p)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)[:-1]
    if (cuts >= floor).any():
        f1 = np.where(cuts >= floor, f1, -1.0)
    else:  # no validation score reaches the floor: nothing is flagged there
        return float(floor)
    best = int(np.argmax(f1))
    # Midway to the next lower score: same validation decisions, less fragile on new data.
    lower = cuts[best - 1] if best > 0 else 0.0
    return float(max((cuts[best] + lower) / 2, floor))


def flag_rate_floor(p: np.ndarray, max_flagged: float) -> float:
    """The lowest threshold at which at most ``max_flagged`` of the scores ``p`` are flagged (``>=``)."""
    ranked = np.sort(np.asarray(p, dtype=float))[::-1]
    allowed = int(np.floor(max_flagged * len(ranked) + 1e-9))
    if allowed >= len(ranked):
        return 0.0
    return float(np.nextafter(ranked[allowed], np.inf))


def fit_thresholds(
    probs: np.ndarray, table: Any, *, split: str | None = "validation", labels: Sequence[str] = LABELS,
    caps: dict[str, dict[str, Any]] | None = None,
) -> dict[str, float]:
    """Per label, the F1-maximising threshold on pooled ``split`` rows where the label is known.

    ``caps`` bounds false alarms where they cost most: ``{label: {"max_flagged": r, "sources": [...]}}``
    keeps the threshold high enough that at most ``r`` of the label's negatives in those sources are
    flagged (the F1-best threshold among those)."""
    frame = as_frame(table)
    probs = _check_probs(probs, frame, labels)
    rows = split_mask(frame, split)
    floors = {}
    for label, cap in (caps or {}).items():
        j = list(labels).index(label)
        negatives = rows & known_mask(frame, label) & frame["source"].isin(cap["sources"]).to_numpy()
        negatives &= binarise(np.nan_to_num(frame[label].to_numpy(dtype=float))) == 0
        if negatives.any():
            floors[label] = flag_rate_floor(probs[negatives, j], cap["max_flagged"])
    found = {label: best_f1_threshold(y, p, floors.get(label, 0.0)) for label, y, p in _label_tasks(frame, probs, rows, labels)}
    return {label: found.get(label, DEFAULT_THRESHOLD) for label in labels}


_COLUMNS = (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("macro_f1", "macro-F1"), ("ece", "ECE"))


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def markdown_table(
    report: Report, baseline_report: Report | None = None, labels: tuple[str, ...] = ("hostility", "misinformation")
) -> str:
    """A Markdown table, one row per (source, label), model next to baseline when given."""
    header = ["Source", "Label", "n", "Positives"]
    with_interval = any("roc_auc_low" in m for cells in report.values() for m in cells.values())
    for key, title in _COLUMNS:
        header.append(title)
        if key == "roc_auc" and with_interval:
            header.append(f"{INTERVAL:.0%} interval")
        if baseline_report is not None:
            header.append(f"{title} (baseline)")
    if baseline_report is not None:
        header.append("Δ ROC-AUC")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    sources = sorted(s for s in report if s != POOLED) + ([POOLED] if POOLED in report else [])
    for source in sources:
        for label in labels:
            model = report[source].get(label)
            if model is None:
                continue
            base = (baseline_report or {}).get(source, {}).get(label, {})
            row = [source, label, str(model["n"]), str(model["positives"])]
            for key, _ in _COLUMNS:
                row.append(_fmt(model[key]))
                if key == "roc_auc" and with_interval:
                    row.append(f"{_fmt(model['roc_auc_low'])}–{_fmt(model['roc_auc_high'])}" if "roc_auc_low" in model else "–")
                if baseline_report is not None:
                    row.append(_fmt(base.get(key)))
            if baseline_report is not None:
                delta = model["roc_auc"] - base["roc_auc"] if "roc_auc" in base else None
                row.append(_fmt(delta, signed=True))
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
