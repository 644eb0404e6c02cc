"""Users' own label files (CSV / TSV / JSONL / Parquet): a text column plus any subset of label
columns holding 0/1 or probabilities. Loaded with ``datasets``; validated row by row so that
nothing is dropped silently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from moderation.errors import InputError
from moderation.labels import LABELS, MISSING
from training.data import normalise, text_key

#: Columns a label file may carry besides text and labels.
PASSTHROUGH = {"id", "source", "split"}
FILE_BUILDERS = {".csv": "csv", ".tsv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
CONFLICT_POLICIES = ("error", "first", "mean", "drop")


@dataclass
class Problem:
    """One rejected row or file-level issue, reported with its location."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


def summarise(problems: list[Problem], n: int = 3) -> str:
    """The first few problems on one line, for a message that cannot list them all."""
    return "; ".join(map(str, problems[:n])) + (f"; and {len(problems) - n} more" if len(problems) > n else "")


def _read(path: Path) -> pd.DataFrame:
    from datasets import disable_progress_bars, load_dataset

    disable_progress_bars()  # one label file loads in moments; its bar would only clutter the CLI's output
    builder = FILE_BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise InputError(f"{path}: unsupported label file type {path.suffix!r} (use .csv, .tsv, .jsonl or .parquet)")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    kwargs = {"sep": "\t"} if path.suffix.lower() == ".tsv" else {}
    try:
        ds = load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as exc:  # datasets wraps parser errors in many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot parse as {builder}: {_first_bad_line(path) or first}") from exc
    return ds.to_pandas()


def _first_bad_line(path: Path) -> str | None:
    """Where a text label file stops parsing, since ``datasets`` only says that it did."""
    import csv
    import json

    suffix = path.suffix.lower()
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            if suffix in (".jsonl", ".json"):
                for number, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            if not isinstance(json.loads(line), dict):
                                return f"line {number} is not a JSON object"
                        except json.JSONDecodeError as exc:
                            return f"line {number}: malformed JSON ({exc.msg})"
                return None
            reader = csv.reader(fh, delimiter="\t" if suffix == ".tsv" else ",", strict=True)
            header = next(reader, [])
            while True:
                start = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    return None if header else "the file is empty"
                except csv.Error as exc:
                    return f"line {start}: {exc}"
                if row and len(row) != len(header):
                    return f"line {start} has {len(row)} fields, the header has {len(header)}"
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte {exc.start})"
    except OSError:
        return None


def load_label_file(
    path: str | Path,
    text_field: str = "text",
    labels: tuple[str, ...] | list[str] = LABELS,
    source: str | None = None,
) -> tuple[pd.DataFrame, list[Problem]]:
    """Read and validate a label file into the training schema.

    Returns the good rows (``text``, ``source``, ``split``, one column per label in
    ``labels`` with MISSING where the file has no value) and the problems found: unknown
    columns, missing text, labels that are not numbers in [0, 1], rows with no label value.
    """
    path = Path(path)
    raw = _read(path)
    problems: list[Problem] = []
    if text_field not in raw.columns:
        raise InputError(f"{path}: no text column {text_field!r}; columns are {', '.join(map(str, raw.columns))}")
    label_cols = [c for c in raw.columns if c in labels]
    for col in raw.columns:
        if col != text_field and col not in labels and col not in PASSTHROUGH:
            problems.append(Problem(str(path), None, f"unknown column {col!r} (known labels: {', '.join(labels)})"))
    if not label_cols:
        raise InputError(f"{path}: no label columns; expected any of {', '.join(labels)}")
    # Line numbers as a user sees them in the file: CSV has a header line.
    first_line = 2 if path.suffix.lower() in (".csv", ".tsv") else 1
    out = {"text": [], **{l: [] for l in labels}, "line": []}
    for i, row in enumerate(raw.to_dict("records")):
        line = i + first_line
        text = row.get(text_field)
        if not isinstance(text, str) or not normalise(text):
            problems.append(Problem(str(path), line, f"missing or empty {text_field!r}"))
            continue
        values, bad = {}, None
        for label in labels:
            v = row.get(label) if label in label_cols else None
            if v is None or (isinstance(v, float) and np.isnan(v)):
                values[label] = MISSING
                continue
            try:
                f = float(v)
            except (TypeError, ValueError):
                bad = f"label {label!r} is not a number: {v!r}"
                break
            if not 0.0 <= f <= 1.0:
                bad = f"label {label!r} = {f} is outside [0, 1]"
                break
            values[label] = f
        if not bad and all(values[label] == MISSING for label in label_cols):
            bad = "no label value (every label cell is empty)"  # it would teach and measure nothing
        if bad:
            problems.append(Problem(str(path), line, bad))
            continue
        out["text"].append(normalise(text))
        out["line"].append(line)
        for label in labels:
            out[label].append(values[label])
    df = pd.DataFrame(out)
    df["source"] = source or path.stem
    df["split"] = None
    return df, problems


def resolve_conflicts(df: pd.DataFrame, policy: str = "error") -> tuple[pd.DataFrame, list[Problem]]:
    """Report duplicate texts; conflicting labels are handled by ``policy``.

    ``error`` reports conflicts as problems (and keeps the first row), ``first`` keeps the
    first silently after reporting, ``mean`` averages the labels into a soft label,
    ``drop`` removes every row of a conflicting text.
    """
    if policy not in CONFLICT_POLICIES:
        raise ValueError(f"unknown conflict policy {policy!r}; use one of {', '.join(CONFLICT_POLICIES)}")
    labels = [c for c in df.columns if c not in ("text", "line", "source", "split", "key")]
    df = df.assign(key=df["text"].map(text_key))
    problems: list[Problem] = []
    keep = []
    for _, group in df.groupby("key", sort=False):
        if len(group) == 1:
            keep.append(group)
            continue
        lines = ", ".join(str(x) for x in group["line"])
        conflicting = (group[labels].nunique() > 1).any()
        if not conflicting:
            problems.append(Problem(str(group["source"].iloc[0]), int(group["line"].iloc[0]), f"duplicate text on lines {lines} (kept once)"))
            keep.append(group.iloc[:1])
            continue
        problems.append(Problem(str(group["source"].iloc[0]), int(group["line"].iloc[0]), f"conflicting labels for the same text on lines {lines} (policy: {policy})"))
        if policy in ("error", "first"):
            keep.append(group.iloc[:1])
        elif policy == "mean":
            merged = group.iloc[:1].copy()
            for label in labels:
                known = group[label][group[label] != MISSING]
                merged[label] = known.mean() if len(known) else MISSING
            keep.append(merged)
    out = pd.concat(keep, ignore_index=True) if keep else df.iloc[:0]
    return out.drop(columns=["key"]), problems
