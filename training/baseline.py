"""TF-IDF + logistic-regression baseline, trained on the same train rows as the transformer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from moderation.labels import LABELS
from training.metrics import as_frame, binarise, has_both_classes, known_mask, split_mask


class TfidfBaseline(BaseEstimator):
    """One shared TF-IDF vocabulary, one logistic regression per label.

    Each label's model sees only train rows where that label is known. A label
    with no such rows, or only one class, predicts its training base rate.
    ``class_weight`` defaults to None so probabilities stay calibrated and the
    ECE comparison with the transformer is fair; thresholds are fitted anyway.
    """

    def __init__(
        self,
        max_features: int = 200_000,
        min_df: int = 2,
        ngram_range: tuple[int, int] = (1, 2),
        C: float = 4.0,
        class_weight: str | None = None,
        max_iter: int = 1000,
        split: str | None = "train",
    ) -> None:
        self.max_features = max_features
        self.min_df = min_df
        self.ngram_range = ngram_range
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.split = split

    def fit(self, table: Any) -> TfidfBaseline:
        """Fit on the ``split`` rows (train by default) of a training table."""
        frame = as_frame(table)
        frame = frame[split_mask(frame, self.split)].reset_index(drop=True)
        if frame.empty:
            raise ValueError(f"no {self.split!r} rows to fit the baseline on")
        self.vectorizer_ = TfidfVectorizer(
            ngram_range=self.ngram_range,
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=True,
            dtype=np.float32,
        )
        features = self.vectorizer_.fit_transform(frame["text"].astype(str))
        self.models_: dict[str, LogisticRegression | float] = {}
        self.n_train_: dict[str, int] = {}
        for label in LABELS:
            known = known_mask(frame, label)
            y = binarise(frame[label].to_numpy(dtype=float)[known]) if known.any() else np.zeros(0, dtype=int)
            self.n_train_[label] = int(known.sum())
            if not has_both_classes(y):
                self.models_[label] = float(y.mean()) if y.size else 0.0
                continue
            model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter)
            self.models_[label] = model.fit(features[known], y)
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Probabilities of shape (len(texts), len(LABELS)), columns in LABELS order."""
        out = np.empty((len(texts), len(LABELS)), dtype=float)
        if not len(texts):  # sklearn refuses zero-row inputs
            return out
        features = self.vectorizer_.transform([str(t) for t in texts])
        for j, label in enumerate(LABELS):
            model = self.models_[label]
            out[:, j] = model if isinstance(model, float) else model.predict_proba(features)[:, 1]
        return out

    def save(self, path: str | Path) -> None:
        joblib.dump(self, path)

    @classmethod
    def load(cls, path: str | Path) -> TfidfBaseline:
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model
