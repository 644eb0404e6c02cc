"""The TF-IDF baseline on a trivially separable toy task."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from moderation.labels import LABELS, MISSING
from training.baseline import TfidfBaseline

H, M = LABELS.index("hostility"), LABELS.index("misinformation")
NAMES = ("anna", "ben", "carl", "dora", "eve", "fred", "gina", "hugo")


def toy_table() -> pd.DataFrame:
    def rows(template: str, source: str, split: str = "train", **labels: float) -> list[dict]:
        return [
            {"text": template.format(n), "source": source, "split": split, **dict.fromkeys(LABELS, MISSING), **labels}
            for n in NAMES
        ]

    return pd.DataFrame(
        rows("you idiot {}", "ucc", hostility=0.9, profanity=0.8)
        + rows("nice day {}", "ucc", hostility=0.0, profanity=0.7)
        + rows("vaccines contain microchips {}", "liar", misinformation=1.0)
        + rows("the council meets tuesday {}", "liar", misinformation=0.0)
        # Silence about hostility: treated as "no" these would make "idiot" ambiguous.
        + rows("idiot idiot {}", "liar", misinformation=0.0)
        # Validation rows labelled the other way round must not be trained on.
        + rows("you idiot {}", "ucc", "validation", hostility=0.0)
        + rows("nice day {}", "ucc", "validation", hostility=1.0)
    )


@pytest.fixture(scope="module")
def fitted() -> TfidfBaseline:
    return TfidfBaseline().fit(toy_table())


def test_learns_separable_task(fitted: TfidfBaseline) -> None:
    probs = fitted.predict_proba(["what an idiot", "such a nice day", "microchips in vaccines", "council on tuesday"])
    assert probs.shape == (4, len(LABELS))
    assert probs[0, H] > 0.5 > probs[1, H]
    assert probs[2, M] > 0.5 > probs[3, M]


def test_trains_only_on_known_train_rows(fitted: TfidfBaseline) -> None:
    n = len(NAMES)
    assert fitted.n_train_["hostility"] == 2 * n
    assert fitted.n_train_["misinformation"] == 3 * n
    assert fitted.n_train_["threat"] == 0


def test_degenerate_labels_predict_base_rate(fitted: TfidfBaseline) -> None:
    probs = fitted.predict_proba(["you idiot", "anything else"])
    assert np.all(probs[:, LABELS.index("threat")] == 0.0)  # no data
    assert np.all(probs[:, LABELS.index("profanity")] == 1.0)  # soft 0.8 / 0.7 both binarise to 1


def test_empty_input(fitted: TfidfBaseline) -> None:
    assert fitted.predict_proba([]).shape == (0, len(LABELS))


def test_save_load_and_clone(fitted: TfidfBaseline, tmp_path) -> None:
    path = tmp_path / "baseline.joblib"
    fitted.save(path)
    texts = ["you idiot", "nice day"]
    np.testing.assert_array_equal(TfidfBaseline.load(path).predict_proba(texts), fitted.predict_proba(texts))
    assert clone(fitted).get_params() == fitted.get_params()
    joblib.dump({"not": "a model"}, tmp_path / "other.joblib")
    with pytest.raises(TypeError):
        TfidfBaseline.load(tmp_path / "other.joblib")


def test_no_train_rows_is_an_error() -> None:
    with pytest.raises(ValueError, match="train"):
        TfidfBaseline().fit(toy_table().assign(split="validation"))
