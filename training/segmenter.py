"""Fit the plain-text segmenter (moderation/extract/segmenter.json) on synthetic dumps.

    python -m training.segmenter --data-dir ../shared/data

Pages come from the *training* pools of training/synth_pages.py (the benchmark uses
the held-out pools and another seed).  Two logistic regressions (region, author) are
fitted on pages drawn with ``--seed``; the cut model, a conditional logit over each
page's candidate cuts, is fitted on other training-pool pages (``--seed`` + 1) so that
it sees the region model's scores as they are on unseen text, not on its own training
lines.  All use the features the runtime computes (moderation/extract/segmenter.py,
moderation/extract/text.py) and are saved as JSON: no pickle, and extraction never
imports scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np

from moderation.extract import text as T
from moderation.extract.frontmatter import split_front_matter
from moderation.extract.lines import Line, split_lines
from moderation.extract import rules as R
from moderation.extract.constants import FIRST_PERSON, FIRST_PLURAL, SECOND_PERSON
from moderation.extract.segmenter import AUTHOR_FEATURES, CUT_FEATURES, MODEL_PATH, REGION_INPUTS, LogisticModel, author_features
from moderation.types import Document
from training.synth_pages import PageFactory, data_dir

COMMENT_ROLES = frozenset({"comment", "author", "meta"})
# Content words and abbreviation fragments ("u.s." -> "u", "re start") on that stop-word list
NOT_FUNCTION_WORDS = frozenset(
    "u s t d m re ll ve bill computer con cry de describe detail eg etc fill find fire found front full hasnt inc "
    "interest ltd mill name part put serious sincere system thick thin top bottom co un amoungst call show side "
    "empty back move give".split()
)


def page_lines(page_text: str, roles: list[str]) -> list[Line]:
    """Lines of a synthetic page tagged exactly as at runtime, with their true roles attached."""
    _, body, _ = split_front_matter(page_text)
    lines = split_lines(body)
    if len(lines) != len(roles):
        raise ValueError(f"generator/lines mismatch: {len(lines)} lines, {len(roles)} roles")
    T._take_metadata_prefix(lines, Document())
    T.tag_lines(lines, has_title=False)
    for line, role in zip(lines, roles):
        line.role = role  # type: ignore[attr-defined]
    return lines


def page_source(root: Path, seed: int, real_share: float):
    """Training pages: CoAID synthetic dumps, and with probability ``real_share`` a dump of a
    real article body of the fitting buckets (training/real_pages.py)."""
    import random

    from training.real_pages import RealPageFactory, random_page

    synth = PageFactory(root, held_out=False, seed=seed)
    real = RealPageFactory(root, held_out=False, seed=seed) if real_share > 0 else None
    rng = random.Random(seed + 100)
    while True:
        yield random_page(real) if real is not None and rng.random() < real_share else synth.text_page()


def collect(n_pages: int, root: Path, seed: int, real_share: float = 0.0):
    """Region rows (dense, words, label) and author rows (dense, label) from training pages."""
    pages = page_source(root, seed, real_share)
    region, author = [], []
    for _ in range(n_pages):
        page = next(pages)
        lines = page_lines(page.text, page.roles)
        scored = T.scored_lines(lines, len(lines))
        if scored:
            dense, words = T.region_matrix(lines, scored)
            region += [(d, w, float(ln.role in COMMENT_ROLES)) for d, w, ln in zip(dense, words, scored)]
        for i, ln in enumerate(lines[:-1]):
            if ln.role in ("comment", "author") and T.author_candidate(ln, lines[i + 1]):
                author.append((author_features(ln, lines[i + 1]), float(ln.role == "author")))
    return region, author


def true_cut(lines: list[Line]) -> int:
    """Index of the first comment-section line (len(lines) when the page has none)."""
    return next((ln.index for ln in lines if ln.role in COMMENT_ROLES), len(lines))


def collect_cuts(n_pages: int, root: Path, seed: int, region: LogisticModel, real_share: float = 0.0):
    """Candidate-cut groups (rows, index of the true cut) for the cut model."""
    pages = page_source(root, seed, real_share)
    groups, skipped = [], 0
    for _ in range(n_pages):
        page = next(pages)
        lines = page_lines(page.text, page.roles)
        limit = T.comment_marker_limit(lines)
        if limit < len(lines) and lines[limit].kind == R.HEADER:
            continue  # a header fixes the cut; nothing to learn
        scored = T.scored_lines(lines, limit)
        if not scored:
            continue
        dense, words = T.region_matrix(lines, scored)
        cands, rows = T.cut_matrix(lines, limit, scored, dense, region.logits(dense, words))
        truth = true_cut(lines)
        if truth not in cands:
            skipped += 1  # e.g. a comment the rules call boilerplate opens the section
            continue
        groups.append((rows, cands.index(truth)))
    return groups, skipped


def fit_conditional_logit(groups, l2: float) -> np.ndarray:
    """Weights maximising sum over pages of log softmax(score of the true cut) - l2/2 |w|^2."""
    from scipy.optimize import minimize

    X = np.vstack([rows for rows, _ in groups])
    sizes = np.array([len(rows) for rows, _ in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    true_rows = starts + np.array([t for _, t in groups])
    x_true = X[true_rows].sum(axis=0)

    def loss(w):
        s = X @ w
        top = np.maximum.reduceat(s, starts)
        e = np.exp(s - np.repeat(top, sizes))
        lse = top + np.log(np.add.reduceat(e, starts))
        p = np.exp(s - np.repeat(lse, sizes))
        return lse.sum() - s[true_rows].sum() + l2 * w @ w / 2, X.T @ p - x_true + l2 * w

    res = minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 5000})
    return res.x


def function_words() -> frozenset[str]:
    """English function words (scikit-learn's stop-word list plus contractions of it)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = frozenset(ENGLISH_STOP_WORDS) | FIRST_PERSON | SECOND_PERSON | FIRST_PLURAL
    return words - NOT_FUNCTION_WORDS


def build_vocab(rows, max_words: int, min_count: int) -> list[str]:
    """Function words frequent in *both* classes: genre style (news prose vs reader talk),
    never topic words, which would learn the corpora ("health", "trump") instead."""
    allowed = function_words()
    counts = [Counter(), Counter()]
    for _, words, label in rows:
        counts[int(label)].update(words)
    shared = [w for w in counts[0] if w in allowed and counts[0][w] >= min_count and counts[1][w] >= min_count]
    shared.sort(key=lambda w: -(counts[0][w] + counts[1][w]))
    return shared[:max_words]


def fit(X, y, C: float):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
    model.fit(X, y)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="default: $MODERATION_DATA_DIR or ../shared/data")
    ap.add_argument("--pages", type=int, default=1500)
    ap.add_argument("--cut-pages", type=int, default=8000, help="pages for the cut model (about half have a header)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real-share", type=float, default=0.5,
                    help="share of pages built from real article bodies (fitting buckets of training/real_pages.py)")
    ap.add_argument("--vocab", type=int, default=400, help="function-word vocabulary size (0: dense style features only)")
    ap.add_argument("--output", type=Path, default=MODEL_PATH)
    args = ap.parse_args()
    from scipy.sparse import csr_matrix, hstack

    t0 = time.time()
    region, author = collect(args.pages, data_dir(args.data_dir), args.seed, args.real_share)
    vocab = build_vocab(region, args.vocab, min_count=20)
    index = {w: i for i, w in enumerate(vocab)}
    rows, cols, vals = [], [], []
    for r, (_, words, _) in enumerate(region):
        hits = [index[w] for w in words if w in index]
        rows += [r] * len(hits)
        cols += hits
        vals += [1 / math.sqrt(len(words) or 1)] * len(hits)
    X = hstack([csr_matrix(np.array([d for d, _, _ in region])), csr_matrix((vals, (rows, cols)), shape=(len(region), len(vocab)))]).tocsr()
    y = np.array([lab for _, _, lab in region])
    reg = fit(X, y, C=1.0)
    Xa = np.array([d for d, _ in author])
    ya = np.array([lab for _, lab in author])
    aut = fit(Xa, ya, C=1.0)
    nd = len(REGION_INPUTS)
    region_spec = {
        "features": list(REGION_INPUTS),
        "coef": [round(float(c), 5) for c in reg.coef_[0][:nd]],
        "intercept": round(float(reg.intercept_[0]), 5),
        "vocab": {w: round(float(c), 5) for w, c in zip(vocab, reg.coef_[0][nd:]) if abs(c) > 1e-4},
    }
    groups, skipped = collect_cuts(args.cut_pages, data_dir(args.data_dir), args.seed + 1, LogisticModel(region_spec), args.real_share)
    w_cut = fit_conditional_logit(groups, l2=1.0)
    cut_acc = np.mean([int(np.argmax(rows @ w_cut)) == t for rows, t in groups])
    spec = {
        "about": "Logistic regressions fitted by training/segmenter.py on synthetic dumps; see moderation/extract/segmenter.py.",
        "trained_on": {"pages": args.pages, "seed": args.seed, "region_rows": len(region), "author_rows": len(author),
                       "cut_seed": args.seed + 1, "cut_pages": len(groups), "real_share": args.real_share},
        "region": region_spec,
        "cut": {"features": list(CUT_FEATURES), "coef": [round(float(c), 5) for c in w_cut], "intercept": 0.0},
        "author": {
            "features": list(AUTHOR_FEATURES),
            "coef": [round(float(c), 5) for c in aut.coef_[0]],
            "intercept": round(float(aut.intercept_[0]), 5),
        },
    }
    args.output.write_text(json.dumps(spec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"region: {len(region)} lines ({y.mean():.2f} comment), train acc {reg.score(X, y):.4f}; "
          f"author: {len(author)} lines ({ya.mean():.2f} author), train acc {aut.score(Xa, ya):.4f}; "
          f"cut: {len(groups)} pages ({skipped} skipped), train acc {cut_acc:.4f}; "
          f"vocab {len(spec['region']['vocab'])}; {time.time() - t0:.0f}s -> {args.output}")


if __name__ == "__main__":
    main()
