"""The labelled template source (training/templates/): content, determinism and the adapter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moderation.labels import LABELS, MISSING
from training.data import build_table, load_source, text_key
from training.templates import HERE as templates_dir
from training.templates import generate_templates


@pytest.fixture(scope="module")
def templates() -> pd.DataFrame:
    return generate_templates(seed=0)


def _family(df: pd.DataFrame, prefix: str) -> pd.DataFrame:
    return df[df["family"].str.startswith(prefix)]


def test_deterministic_for_a_seed_and_varied_across_seeds(templates: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(templates, generate_templates(seed=0))
    other = generate_templates(seed=1)
    assert set(other.columns) == set(templates.columns)
    assert set(other["text"]) != set(templates["text"])


def test_size_labels_and_texts(templates: pd.DataFrame) -> None:
    assert 4000 <= len(templates) <= 10000
    for name in LABELS:
        assert set(templates[name].unique()) <= {0.0, 1.0, MISSING}, name
        assert (templates[name] == 1).any() and (templates[name] == 0).any(), name
    texts = templates["text"]
    assert (texts.str.strip().str.len() > 0).all()
    assert not texts.duplicated().any()
    assert not texts.str.contains(r"\{|\}|\s[.,!?]|\s{2}").any()  # no unfilled slot, no gap left by an empty slot
    assert (texts.str[0].str.isupper() | texts.str[0].str.isdigit()).all()


# (family prefix, label, value every row of the family has)
EXPECTED = [
    ("threat_direct", "threat", 1), ("threat_conditional", "threat", 1), ("threat_intent_person", "threat", 1),
    ("threat_intent_group", "threat", 1), ("threat_intent_group", "identity_attack", 1),
    ("threat_negated", "threat", 0), ("idiom_nonthreat", "threat", 0), ("idiom_nonthreat", "hostility", 0),
    ("news_violence", "threat", 0), ("news_violence", "hostility", 0),
    ("profanity_benign", "profanity", 1), ("profanity_benign", "hostility", 0), ("profanity_benign", "insult", 0),
    ("profane_insult", "profanity", 1), ("profane_insult", "insult", 1), ("profane_insult", "hostility", 1),
    ("insult_clean", "insult", 1), ("insult_clean", "profanity", 0), ("insult_clean", "misinformation", 0),
    ("insult_clean", "threat", 0), ("criticism_clean", "insult", 0),
    ("dehumanising", "identity_attack", 1), ("dehumanising", "hostility", 1),
    ("group_positive", "identity_attack", 0), ("group_positive", "hostility", 0),
    ("counter_speech", "hostility", 0), ("counter_speech", "identity_attack", 0),
    ("greetings_thanks", "threat", 0), ("greetings_thanks", "misinformation", 0),
    ("opinion_prediction", "misinformation", 0), ("opinion_prediction", "claim", 0),
    ("fact_", "claim", 1), ("hoax", "misinformation", 1), ("hoax", "claim", 1),
    ("commenter_insult", "insult", 1), ("commenter_insult", "identity_attack", 0), ("commenter_fair", "hostility", 0),
    ("political_dehumanising", "hostility", 1), ("political_dehumanising", "threat", 0),
    ("coercive_threat", "threat", 1), ("political_fair", "hostility", 0), ("political_fair", "threat", 0),
]


@pytest.mark.parametrize(("prefix", "label", "value"), EXPECTED)
def test_family_labels(templates: pd.DataFrame, prefix: str, label: str, value: int) -> None:
    rows = _family(templates, prefix)
    assert len(rows) >= 50, prefix
    assert (rows[label] == value).all()


def test_greetings_are_negative_for_every_label(templates: pd.DataFrame) -> None:
    rows = _family(templates, "greetings_thanks")
    assert (rows[list(LABELS)] == 0).all().all()
    # Bare "hello" and "Thanks!" are the behavioural suite's (held out); greetings in other words are here.
    assert not rows["text"].isin(["Hello!", "Thanks!"]).any() and rows["text"].isin(["Hello again!", "Thanks again!"]).sum() == 2


def test_every_fact_table_has_true_and_false_twins(templates: pd.DataFrame) -> None:
    facts = _family(templates, "fact_")
    tables = facts["family"].str.rsplit("_", n=1).str[0].unique()
    assert len(tables) >= 6
    for table in tables:
        true = templates[templates["family"] == f"{table}_true"]
        false = templates[templates["family"] == f"{table}_false"]
        assert len(true) > 0 and len(false) > 0 and (true["misinformation"] == 0).all() and (false["misinformation"] == 1).all()
    assert "Paris is the capital of France." in set(templates["text"])
    assert "The capital of France is Paris." in set(templates["text"])


def test_group_names_are_not_a_shortcut_to_hostility(templates: pd.DataFrame) -> None:
    """Each group appears about as often in benign sentences as in attacks."""
    import yaml

    groups = yaml.safe_load((Path(templates_dir) / "slots.yaml").read_text())["group"]
    for group in groups:
        rows = templates[templates["text"].str.contains(rf"\b{group}\b", case=False, regex=True)]
        hostile = (rows["hostility"] == 1).sum()
        benign = (rows["hostility"] == 0).sum()
        assert benign >= 0.6 * hostile > 0, (group, hostile, benign)


def test_adapter_needs_no_data_dir(tmp_path: Path) -> None:
    df = load_source("templates", tmp_path / "absent")
    assert len(df) > 4000 and set(df["split"]) == {"train", "validation"}
    assert set(df["source"]) == {"templates"}
    assert 0.05 < (df["split"] == "validation").mean() < 0.15
    table = build_table({"templates": {"val_size": 100}}, data_dir=tmp_path / "absent")
    assert (table["split"] == "validation").sum() == 100
    assert not set(table.loc[table["split"] == "train", "text"].map(text_key)) & set(
        table.loc[table["split"] == "validation", "text"].map(text_key))
    for name in LABELS:
        assert np.isin(table[name].unique(), [0.0, 1.0, MISSING]).all()


def test_opt_in_families_come_only_when_a_config_names_them(tmp_path: Path) -> None:
    from training.templates import OPT_IN, generate_templates

    families = generate_templates(0)
    opt_in_texts = set(families.loc[families["family"].isin(sorted(OPT_IN)), "text"])
    assert opt_in_texts and OPT_IN <= set(families["family"])
    plain = set(load_source("templates", tmp_path / "absent")["text"])
    assert not plain & opt_in_texts
    named = set(load_source("templates", tmp_path / "absent", add_families=["group_contempt"])["text"])
    contempt = set(families.loc[families["family"] == "group_contempt", "text"])
    assert contempt <= named and not named & (opt_in_texts - contempt)
    with pytest.raises(ValueError, match="no opt-in family 'group_positive'"):
        load_source("templates", tmp_path / "absent", add_families=["group_positive"])
    with pytest.raises(ValueError, match="must be a list of family names"):
        load_source("templates", tmp_path / "absent", add_families="group_contempt")
    # drop_families leaves out any family, opt-in or not.
    dropped = set(load_source("templates", tmp_path / "absent", drop_families=["fact_event_false"])["text"])
    events = set(families.loc[families["family"] == "fact_event_false", "text"])
    assert events and events <= plain and not dropped & events and dropped == plain - events
    with pytest.raises(ValueError, match="no family 'fact_events'"):
        load_source("templates", tmp_path / "absent", drop_families=["fact_events"])
    from training.config import TrainConfig

    with pytest.raises(ValueError, match="no opt-in family 'nope'"):  # when the config is read, before any training
        TrainConfig(name="t", version="0.0.1", sources={"templates": {"add_families": ["nope"]}})
