"""Continue training an existing model on new label files, with replay and a regression gate.

Flow: validate label files -> hold out part of them -> mix with a replay sample of the
parent's training data -> fine-tune a copy of the parent -> calibrate -> compare parent
and child on the parent's validation suite plus the held-out new labels. The child is
always saved (immutable); promotion is refused when any tracked ROC-AUC drops by more
than ``margin`` unless forced.
"""

from __future__ import annotations

import getpass
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moderation.labels import MISSING
from moderation.model import Moderator
from moderation.registry import Registry
from training.config import TrainConfig
from training.data import hash_split
from training.evaluate import table_for
from training.labelfiles import Problem, load_label_file, resolve_conflicts, summarise
from training.metrics import evaluate, known_mask
from training.trainer import Trainer, as_child, finalize, sha256_file

#: Columns every label table has besides the labels.
RESERVED_COLUMNS = ("text", "source", "split", "line", "id")


@dataclass
class GateRow:
    source: str
    label: str
    before: float | None
    after: float
    delta: float | None
    regressed: bool


@dataclass
class RetrainResult:
    moderator: Moderator
    rows: list[GateRow]
    passed: bool
    problems: list[Problem] = field(default_factory=list)


def check_new_labels(names: list[str], existing: list[str]) -> None:
    """Refuse --add-label names that cannot be a label column of their own."""
    for name in names:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError(f"--add-label {name!r}: use lowercase letters, digits and _ (starting with a letter)")
        if name in RESERVED_COLUMNS:
            raise ValueError(f"--add-label {name!r}: that name is a column of every label table ({', '.join(RESERVED_COLUMNS)})")
        if name in existing:
            raise ValueError(f"--add-label {name!r}: the parent already has that label")
    if len(set(names)) < len(names):
        raise ValueError(f"--add-label names a label twice: {', '.join(names)}")


def add_labels(moderator: Moderator, names: list[str]) -> list[str]:
    """Give the model new output heads; returns the names actually added."""
    added = [n for n in names if n not in moderator.labels]
    if added:
        moderator.net.grow_labels(len(added))
        moderator.labels += added
        for name in added:
            moderator.thresholds[name] = 0.5
    return added


def load_new_labels(
    files: list[Path], labels: list[str], on_conflict: str, text_field: str = "text"
) -> tuple[pd.DataFrame, list[Problem]]:
    frames, problems = [], []
    for path in files:
        frame, found = load_label_file(path, text_field=text_field, labels=tuple(labels), source=f"new:{Path(path).stem}")
        frames.append(frame)
        problems += found
    table, conflicts = resolve_conflicts(pd.concat(frames, ignore_index=True), on_conflict)
    return table, problems + conflicts


def gate_rows(parent_report: dict, child_report: dict, margin: float) -> list[GateRow]:
    """ROC-AUC before and after for every (source, label) the child is evaluated on."""
    rows = []
    for source, labels in child_report.items():
        for label, after in labels.items():
            before = parent_report.get(source, {}).get(label, {}).get("roc_auc")
            delta = None if before is None else after["roc_auc"] - before
            rows.append(GateRow(source, label, before, after["roc_auc"], delta, delta is not None and delta < -margin))
    return rows


def gate_table(rows: list[GateRow]) -> str:
    """Markdown before/after table, as printed and stored in the model metadata."""
    out = ["| source | label | ROC-AUC before | ROC-AUC after | delta | |", "|---|---|---|---|---|---|"]
    for r in rows:
        before = "new" if r.before is None else f"{r.before:.4f}"
        delta = "" if r.delta is None else f"{r.delta:+.4f}"
        out.append(f"| {r.source} | {r.label} | {before} | {r.after:.4f} | {delta} | {'REGRESSED' if r.regressed else ''} |")
    return "\n".join(out)


def bump_minor(version: str) -> str:
    parts = (version.split(".") + ["0", "0"])[:3]
    try:
        return f"{parts[0]}.{int(parts[1]) + 1}.0"
    except ValueError:
        return f"{version}.1"


def free_version(parent: Moderator, name: str | None, folder: Path) -> str:
    """The parent's version with minor + 1, skipping versions of that name already in ``folder``
    (a second retrain of the same parent must not share its sibling's name@version)."""
    siblings = Registry(folder).list() if folder.is_dir() else []  # unreadable folders come with empty metadata
    taken = {str(info.meta.get("version")) for info in siblings if info.meta.get("name") == name}
    version = bump_minor(str(parent.meta.get("version", "1.0.0")))
    while version in taken:
        version = bump_minor(version)
    return version


def _file_options(holdout: float, on_conflict: str) -> dict[str, object]:
    """A label file's options in the child's recorded sources. ``error`` is left out: training then had
    no conflicts, and a file edited later should rebuild with a warning, not fail."""
    return {"val_fraction": holdout} | ({} if on_conflict == "error" else {"on_conflict": on_conflict})


def retrain(
    parent_dir: Path,
    files: list[Path],
    output: Path,
    cfg: TrainConfig,
    replay: float = 0.5,
    new_labels: list[str] | None = None,
    on_conflict: str = "error",
    margin: float = 0.01,
    holdout: float = 0.2,
    data_dir: str | None = None,
    progress: bool = True,
    parent_table: pd.DataFrame | None = None,
) -> RetrainResult:
    """Fine-tune a copy of the parent on new labels; see the module docstring."""
    if not 0.0 <= replay < 1.0:
        raise ValueError(f"--replay must be in [0, 1), got {replay}")
    parent = Moderator.load(parent_dir, backend="torch")
    child_name = cfg.name or parent.meta.get("name")
    version = cfg.version or free_version(parent, child_name, Path(output).parent)
    child = as_child(Moderator.load(parent_dir, backend="torch"), child_name, version)
    cfg.max_length = child.max_length
    cfg.init_from = str(parent_dir)  # recorded in the child's config: it was fine-tuned from the parent
    check_new_labels(list(new_labels or []), parent.labels)
    added = add_labels(child, list(new_labels or []))
    new, problems = load_new_labels(files, child.labels, on_conflict)
    for name in added:
        if not known_mask(new, name).any():
            raise ValueError(f"--add-label {name}: no --data file has a {name!r} column with values")
    conflicts = [p for p in problems if "conflicting labels" in p.reason]
    if on_conflict == "error" and conflicts:
        raise ValueError(f"conflicting labels for the same text ({summarise(conflicts)}); choose --on-conflict first|mean|drop")
    if new.empty:
        raise ValueError(f"no usable rows in the label files ({summarise(problems) or 'the files hold no rows'})")
    new["split"] = hash_split(new["text"], holdout)
    if (new["split"] == "validation").sum() == 0:
        new.loc[new.index[: max(1, len(new) // 5)], "split"] = "validation"

    suite = parent_table if parent_table is not None else table_for(parent, data_dir)
    for name in added:
        suite[name] = MISSING
    parent_val = suite[suite["split"] == "validation"]
    rng = np.random.default_rng(cfg.seed)
    new_train = new[new["split"] == "train"]
    if new_train.empty:
        raise ValueError(f"only {len(new)} usable labelled row(s), all held out for the gate: add more labels")
    n_replay = int(round(len(new_train) * replay / (1.0 - replay))) if replay else 0
    pool = suite[suite["split"] == "train"]
    replayed = pool.iloc[rng.choice(len(pool), size=min(n_replay, len(pool)), replace=False)] if n_replay and len(pool) else pool.iloc[:0]
    columns = ["text", "source", "split", *child.labels]
    train = pd.concat([new_train[columns], replayed[columns]], ignore_index=True)
    val = pd.concat([parent_val[columns], new[new["split"] == "validation"][columns]], ignore_index=True)

    trainer = Trainer(cfg, output, progress=progress).fit(child, train)
    child_probs = finalize(child, val, trainer, train, cfg)

    parent_report = evaluate(parent.predict_proba(list(val["text"])), val, parent.thresholds, labels=parent.labels)
    child_report = evaluate(child_probs, val, child.thresholds, labels=child.labels)
    rows = gate_rows(parent_report, child_report, margin)
    passed = not any(r.regressed for r in rows)
    # The child's suite for its own future retraining: the parent's sources plus these files.
    parent_sources = dict((parent.meta.get("config") or {}).get("sources") or {})
    child.meta["config"]["sources"] = {**parent_sources, **{str(Path(p).resolve()): _file_options(holdout, on_conflict) for p in files}}
    child.meta.update(
        {
            "parent": parent.name,
            "added_labels": added,
            "replay": replay,
            # The parent's files stay in the child's table, so their hashes stay with it too.
            "data_files": {**(parent.meta.get("data_files") or {}), **{str(p): sha256_file(Path(p)) for p in files}},
            "created_by": f"{getpass.getuser()}@{platform.node()} via moderation train --init-from",
            "regression_gate": {
                "passed": passed,
                "margin": margin,
                "metric": "roc_auc",
                "summary": f"{sum(r.regressed for r in rows)} of {len(rows)} tracked metrics dropped by more than {margin}",
                "table": gate_table(rows),
                "rows": [r.__dict__ for r in rows],
            },
        }
    )
    return RetrainResult(child, rows, passed, problems)

