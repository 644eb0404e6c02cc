"""Knowledge distillation: blend a teacher model's probabilities into a stage's training targets.

A config names the teacher, the labels and the sources it speaks for, and the teacher's share:

    distil: {teacher: models/moderation-minilm-1.3.0, labels: [hostility], sources: [olid, toxic_spans], weight: 0.5}

Each training row of those sources whose own label is known gets ``(1 - weight) * label + weight *
teacher probability``; a label the source leaves MISSING stays missing (the teacher does not invent
labels), and validation rows are never touched, so figures stay comparable with runs without it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from moderation.errors import InputError
from moderation.labels import LABELS, MISSING

REQUIRED = {"teacher", "labels", "sources"}
DEFAULT_WEIGHT = 0.5


def check_distil(spec: object, sources: dict[str, object]) -> None:
    """Reject a ``distil`` setting that is not as documented above, before any data is read."""
    if not isinstance(spec, dict) or not REQUIRED <= set(spec) or set(spec) - REQUIRED - {"weight"}:
        raise ValueError("distil must be a mapping {teacher: MODEL_DIR, labels: [...], sources: [...], weight: 0.5}, "
                         f"not {spec!r}")
    if not isinstance(spec["teacher"], str):
        raise ValueError(f"distil: teacher must be a model directory, not {spec['teacher']!r}")
    for key, known, what in (("labels", LABELS, "labels"), ("sources", list(sources), "sources of this config")):
        names = spec[key]
        if isinstance(names, str) or not isinstance(names, list) or not names:
            raise ValueError(f"distil: {key} must be a non-empty list, not {names!r}")
        if unknown := sorted(set(map(str, names)) - set(known)):
            raise ValueError(f"distil: unknown {key} {', '.join(map(repr, unknown))}; {what}: {', '.join(known)}")
    weight = spec.get("weight", DEFAULT_WEIGHT)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= 1:
        raise ValueError(f"distil: weight must be above 0 and at most 1, not {weight!r}")


def blend(train: pd.DataFrame, probs: np.ndarray, labels: list[str], rows: np.ndarray, weight: float) -> pd.DataFrame:
    """``train`` with the known cells of ``labels`` in ``rows`` moved ``weight`` of the way to ``probs``
    (shape: len(rows) x len(labels))."""
    out = train.copy()
    for j, label in enumerate(labels):
        gold = out.loc[rows, label].to_numpy(np.float32)
        known = gold != MISSING
        mixed = np.where(known, (1 - weight) * gold + weight * probs[:, j], MISSING).astype(np.float32)
        out.loc[rows, label] = mixed
    return out


def distil_targets(train: pd.DataFrame, spec: dict, batch_size: int = 128) -> pd.DataFrame:
    """Score the named sources' training rows with the teacher and blend (see the module docstring)."""
    from moderation.model import Moderator

    teacher_dir = Path(spec["teacher"])
    if not (teacher_dir / "moderation.json").exists():
        raise InputError(f"distil: teacher {teacher_dir} is not a model directory (no moderation.json)")
    teacher = Moderator.load(teacher_dir, backend="torch")  # fp32: the same targets on every CPU
    labels = list(spec["labels"])
    if missing := [l for l in labels if l not in teacher.labels]:
        raise InputError(f"distil: teacher {teacher_dir} has no head for {', '.join(missing)}")
    rows = train.index[train["source"].isin(spec["sources"]).to_numpy()]
    print(f"distil: scoring {len(rows)} training rows with {teacher.name}", file=sys.stderr)
    probs = teacher.predict_proba(list(train.loc[rows, "text"]), batch_size=batch_size)
    probs = probs[:, [teacher.labels.index(l) for l in labels]]
    return blend(train, probs, labels, rows.to_numpy(), float(spec.get("weight", DEFAULT_WEIGHT)))
