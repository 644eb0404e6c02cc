"""Joined comments: a hostile comment inside a benign one is still hostile.

Scored whole, a short attack inside a longer benign comment is diluted: seed 000's "people who are
brain dead" scores far above the comment it sits in. A config can add training rows that join a
benign training comment (the carrier) with another training comment (the insert), in either order:

    concat: {rows: 5000, carriers: [ucc, toxic_spans], inserts: [ucc, toxic_spans, davidson], hostile_share: 0.5}

Half the inserts (``hostile_share``) are hostile and the rest benign, so length alone says nothing.
Each label of a joined row is the larger of the two rows' labels where both are known, else MISSING.
Both rows are training rows of this config, so no validation text enters; the joined rows count as
the source ``concat``, and validation is untouched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moderation.labels import LABELS, MISSING

SOURCE = "concat"
REQUIRED = {"rows", "carriers", "inserts"}
DEFAULTS = {"hostile_share": 0.5, "max_chars": 220, "seed": 0}
#: The hostility at or above which an insert counts as hostile (UCC and Toxic Spans give shares of raters).
HOSTILE = 0.5


def check_concat(spec: object, sources: dict[str, object]) -> None:
    """Reject a ``concat`` setting that is not as documented above, before any data is read."""
    if not isinstance(spec, dict) or not REQUIRED <= set(spec) or set(spec) - REQUIRED - set(DEFAULTS):
        raise ValueError("concat must be a mapping {rows: N, carriers: [...], inserts: [...], hostile_share: 0.5, "
                         f"max_chars: 220, seed: 0}}, not {spec!r}")
    rows = spec["rows"]
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"concat: rows must be a whole number of at least 1, not {rows!r}")
    for key in ("carriers", "inserts"):
        names = spec[key]
        if isinstance(names, str) or not isinstance(names, list) or not names:
            raise ValueError(f"concat: {key} must be a non-empty list of sources, not {names!r}")
        if unknown := sorted(set(map(str, names)) - set(sources)):
            raise ValueError(f"concat: unknown {key} {', '.join(map(repr, unknown))}; sources of this config: {', '.join(sources)}")
    share = spec.get("hostile_share", DEFAULTS["hostile_share"])
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ValueError(f"concat: hostile_share must be a number from 0 to 1, not {share!r}")
    for key in ("max_chars", "seed"):
        value = spec.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "max_chars" else 0):
            raise ValueError(f"concat: {key} must be a whole number{' of at least 1' if key == 'max_chars' else ''}, not {value!r}")


def concatenations(train: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """``spec["rows"]`` joined training rows (see the module docstring), as rows of the training table.

    Carriers and inserts are at most ``max_chars`` characters each, so that the joined comment fits
    the model's 128 tokens and the insert is never cut off.
    """
    opts = {**DEFAULTS, **spec}
    short = train["text"].str.len() <= opts["max_chars"]
    hostility = train["hostility"]
    known = hostility != MISSING
    carriers = train[short & known & (hostility == 0) & train["source"].isin(opts["carriers"])]
    inserts = train[short & known & train["source"].isin(opts["inserts"])]
    hostile, benign = inserts[inserts["hostility"] >= HOSTILE], inserts[inserts["hostility"] == 0]
    n = int(opts["rows"])
    n_hostile = int(round(n * opts["hostile_share"]))
    for name, pool, wanted in (("benign carriers", carriers, n), ("hostile inserts", hostile, n_hostile),
                               ("benign inserts", benign, n - n_hostile)):
        if wanted and pool.empty:
            raise ValueError(f"concat: no {name} of at most {opts['max_chars']} characters in the training rows")
    rng = np.random.default_rng(opts["seed"])
    a = carriers.iloc[rng.choice(len(carriers), n)].reset_index(drop=True)
    b = pd.concat([hostile.iloc[rng.choice(len(hostile), n_hostile)] if n_hostile else hostile.iloc[:0],
                   benign.iloc[rng.choice(len(benign), n - n_hostile)] if n > n_hostile else benign.iloc[:0]],
                  ignore_index=True).iloc[rng.permutation(n)].reset_index(drop=True)
    insert_first = rng.random(n) < 0.5
    out = pd.DataFrame({"text": np.where(insert_first, b["text"] + " " + a["text"], a["text"] + " " + b["text"]),
                        "source": SOURCE, "split": "train"})
    for label in LABELS:
        x, y = a[label].to_numpy(float), b[label].to_numpy(float)
        out[label] = np.where((x != MISSING) & (y != MISSING), np.maximum(x, y), MISSING)
    return out[train.columns]
