"""Identity-term bias metrics and the template check on synthetic predictors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moderation.labels import LABELS, MISSING
from training.bias import (
    IDENTITY_PATTERNS,
    IDENTITY_TERMS,
    bias_report,
    power_mean,
    template_check,
    template_sentences,
)

H = LABELS.index("hostility")
HOSTILE = ("you stupid idiot", "shut up you fool", "what a moron", "get lost loser", "pathetic idiot")
FRIENDLY = ("nice day", "thanks for sharing", "lovely article", "good point", "see you at lunch")


def scorer(penalised: str | None = None):
    """Hostility 0.9 for insults, 0.1 otherwise; optionally +0.85 whenever ``penalised`` appears."""

    def predict_proba(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(LABELS)))
        for i, text in enumerate(texts):
            lower = text.lower()
            out[i, H] = 0.9 if any(h in lower for h in HOSTILE) else 0.1
            if penalised and penalised in lower:
                out[i, H] = min(1.0, out[i, H] + 0.85)
        return out

    return predict_proba


def bias_table() -> pd.DataFrame:
    rows = []
    for who in ("Muslim", "Christian", "Jewish", None):
        for phrase, y in [(p, 1.0) for p in HOSTILE] + [(p, 0.0) for p in FRIENDLY]:
            for frame in ("{phrase}, said the {who} neighbour", "{phrase}, wrote a {who} reader"):
                rows.append((frame.format(phrase=phrase, who=who) if who else f"{phrase} ({frame[9:13]})", y, "validation"))
    rows += [(f"{p}, said the Hindu neighbour", 0.0, "validation") for p in FRIENDLY]  # no positives
    # Both classes but only six rows: too few for a meaningful AUC.
    rows += [(f"{p}, said the Buddhist neighbour", y, "validation") for p, y in zip(HOSTILE[:3] + FRIENDLY[:3], [1.0] * 3 + [0.0] * 3)]
    rows += [("nice day, said the Muslim neighbour", 1.0, "train")]  # not validation
    rows += [("nice day, said the Christian neighbour", MISSING, "validation")]  # label unknown
    frame = pd.DataFrame(rows, columns=["text", "hostility", "split"]).assign(source="ucc")
    for label in LABELS[1:]:
        frame[label] = MISSING
    return frame


def test_fair_predictor_scores_one() -> None:
    report = bias_report(scorer(), bias_table(), threshold=0.5)
    assert report["n"] == 91 and report["positives"] == 43
    assert set(report["subgroups"]) == {"Muslim", "Christian", "Jewish"}
    assert report["final_score"] == pytest.approx(1.0)
    assert report["subgroups"]["Muslim"]["fpr"] == 0.0


def test_penalising_a_word_shows_low_bpsn_for_that_subgroup() -> None:
    report = bias_report(scorer("muslim"), bias_table(), threshold=0.5)
    muslim, christian = report["subgroups"]["Muslim"], report["subgroups"]["Christian"]
    assert muslim["bpsn_auc"] < 0.5 and christian["bpsn_auc"] == 1.0
    assert muslim["bnsp_auc"] == 1.0  # the penalty only makes its positives look more positive
    assert muslim["fpr"] == 1.0 and muslim["background_fpr"] == 0.0
    assert report["power_means"]["bpsn_auc"] < 0.5
    assert report["final_score"] < 0.85


def test_skipped_subgroups_are_reported() -> None:
    skipped = bias_report(scorer(), bias_table(), threshold=0.5)["skipped"]
    assert "Hindu" in skipped and "5 rows, 0 hostile" in skipped["Hindu"]
    assert skipped["Buddhist"].startswith("6 rows, 3 hostile: needs 20 rows")
    assert skipped["Arab"].startswith("0 rows")


def test_precomputed_probs_match_predictor() -> None:
    table = bias_table()
    predict = scorer("muslim")
    assert bias_report(None, table, 0.5, probs=predict(table["text"].tolist())) == bias_report(predict, table, 0.5)


@pytest.mark.parametrize(
    ("name", "text", "hit"),
    [
        ("Muslim", "Muslims are my neighbours", True),
        ("Jewish", "the Jews of Berlin", True),
        ("man", "two men walked in", True),
        ("man", "a woman walked in", False),
        ("man", "human rights", False),
        ("woman", "Women's football", True),
        ("gay", "Gaylord street", False),
        ("Arab", "Arabs and Israelis", True),
    ],
)
def test_identity_terms_match_words_and_plurals(name: str, text: str, hit: bool) -> None:
    assert bool(IDENTITY_PATTERNS[name].search(text)) is hit


def test_power_mean_leans_to_the_worst_value() -> None:
    assert power_mean(np.array([0.8, 0.8])) == pytest.approx(0.8)
    assert 0.5 < power_mean(np.array([0.5, 1.0])) < 0.6
    assert power_mean(np.array([0.0, 1.0])) == 0.0


def test_template_sentences_are_neutral_mentions_of_each_identity() -> None:
    pairs = template_sentences()
    assert 150 <= len(pairs) <= 300
    assert len({s for _, s in pairs}) == len(pairs)
    assert all(IDENTITY_PATTERNS[name].search(sentence) for name, sentence in pairs)
    assert ("woman", "Being a woman is part of who I am.") in pairs
    assert ("Asian", "I am an Asian person.") in pairs


def test_template_check_rates() -> None:
    clean = template_check(scorer(), threshold=0.5)
    assert clean["flagged_rate"] == 0.0 and clean["passed"]
    biased = template_check(scorer("muslim"), threshold=0.5)
    per_term = len(biased["per_identity"])
    assert biased["per_identity"]["Muslim"] == 1.0 and biased["per_identity"]["Jewish"] == 0.0
    assert biased["flagged"] == biased["n"] // per_term
    assert biased["highest"][0]["identity"] == "Muslim"
    assert set(biased["per_identity"]) == set(IDENTITY_TERMS)
    assert not template_check(scorer("i"), threshold=0.5)["passed"]
