"""Evaluation gate for the shipped default model (trafilatura style): pinned floors on small
committed samples, so a worse model cannot be shipped silently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from moderation import Moderator, extract_page
from moderation.model import WEIGHTS_FILE, default_model_path

FIXTURES = Path(__file__).parent / "fixtures"
SEED_000 = FIXTURES / "seeds" / "000_81f09624bfe65d55.txt"

# Pinned floors: 2.4.0 measures 0.97 (hostility) and 1.0 (misinformation) on the probe set (2.3.0: 0.98, 1.0;
# 2.1.0: 0.97, 1.0; 2.0.0: 0.98, 1.0; 1.3.0: 0.99, 1.0).
PROBE_FLOORS = {"hostility": 0.90, "misinformation": 0.85}
TEMPLATE_CEILING = 0.05


@pytest.fixture(scope="module")
def model() -> Moderator:
    return Moderator.load()


def test_default_model_is_small_and_documented(model: Moderator) -> None:
    path = default_model_path().resolve()
    size_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
    assert size_mb <= 100, size_mb
    assert (path / WEIGHTS_FILE).is_file() and (path / "MODEL_CARD.md").is_file()
    meta = model.meta
    assert meta["labels"][:2] == ["hostility", "misinformation"]
    assert set(meta["thresholds"]) == set(meta["labels"])
    assert len(meta["base_model"]["sha256"]) == 64
    assert meta["training"]["licences"] and meta["metrics"]["validation"]


def test_probe_sample_floors(model: Moderator) -> None:
    rows = [json.loads(line) for line in (FIXTURES / "model_probe.jsonl").read_text().splitlines()]
    for label, floor in PROBE_FLOORS.items():
        subset = [r for r in rows if label in r]
        probs = model.predict_proba([r["text"] for r in subset])[:, model.labels.index(label)]
        auc = roc_auc_score([r[label] for r in subset], probs)
        assert auc >= floor, f"{label} probe ROC-AUC {auc:.3f} < floor {floor}"


def test_identity_templates_rarely_flagged(model: Moderator) -> None:
    from training.bias import template_check

    result = template_check(model.predict_proba, model.thresholds["hostility"])
    assert result["flagged_rate"] <= TEMPLATE_CEILING, result["highest"][:3]


def test_identity_templates_rarely_flagged_in_every_language_the_model_reads(model: Moderator) -> None:
    from training.bias import LANGUAGES, template_check

    for language in sorted(set(model.meta.get("languages") or ["en"]) & set(LANGUAGES) - {"en"}):
        result = template_check(model.predict_proba, model.thresholds["hostility"], language)
        assert result["flagged_rate"] <= TEMPLATE_CEILING, (language, result["highest"][:3])


@pytest.fixture(scope="module")
def seed_000(model: Moderator) -> tuple[dict[str, float], dict[str, float]]:
    doc = extract_page(SEED_000.read_text(encoding="utf-8"))
    texts = [c.text for c in doc.comments]
    probs = model.predict_proba(texts)
    hostility = dict(zip(texts, probs[:, model.labels.index("hostility")]))
    misinfo = dict(zip(texts, probs[:, model.labels.index("misinformation")]))
    return hostility, misinfo


def _find(scores: dict[str, float], fragment: str) -> float:
    return next(v for t, v in scores.items() if fragment in t)


def test_seed_000_comments_rank_sensibly(model: Moderator, seed_000) -> None:
    hostility, misinfo = seed_000
    median_m = float(np.median(list(misinfo.values())))
    assert _find(misinfo, "$50 billion") > median_m
    thanks = "Thank you President Biden"
    assert _find(hostility, thanks) < model.thresholds["hostility"] and _find(misinfo, thanks) < model.thresholds["misinformation"]
    # The other comments of the page (all but the two claims the issue calls misinformation): at most a
    # third of the page is flagged for misinformation (1.0.0 flagged 24 of 30; 2.0.0 flags 1, 2.1.0 2, 2.3.0 and 2.4.0 none).
    claims = ("$50 billion", "billions in untraceable bills")
    others = [p for t, p in misinfo.items() if not any(c in t for c in claims)]
    assert len(others) == len(misinfo) - len(claims)
    assert sum(p >= model.thresholds["misinformation"] for p in others) <= len(misinfo) // 3


def test_seed_000_claims_meet_the_issue_bar(model: Moderator, seed_000) -> None:
    hostility, misinfo = seed_000
    assert _find(misinfo, "$50 billion") >= model.thresholds["misinformation"]
    assert _find(hostility, "Thank you President Biden") < model.thresholds["hostility"]
    assert _find(misinfo, "Thank you President Biden") < model.thresholds["misinformation"]


@pytest.mark.xfail(strict=True, reason="known gap of moderation-e5@2.4.0 (issue 16): the hedged claim 'We probably gave "
                   "them billions in untraceable bills' scores 0.006 for misinformation (threshold 0.476); 2.x treats "
                   "speculation like an opinion (1.3.0 flagged it)")
def test_seed_000_speculative_claim_meets_the_issue_bar(model: Moderator, seed_000) -> None:
    _, misinfo = seed_000
    assert _find(misinfo, "billions in untraceable bills") >= model.thresholds["misinformation"]


@pytest.mark.xfail(strict=True, reason="known gap of moderation-e5@2.4.0 (issue 16): the dehumanising comment "
                   "(0.088), the threat (0.088) and the 'brain dead' insult (0.114) score below the hostility threshold "
                   "(0.394); 2.1.0 scored them 0.069, 0.098 and 0.168 against 0.353, 1.3.0 0.371, 0.251 and 0.206 against 0.380")
def test_seed_000_hostile_comments_meet_the_issue_bar(model: Moderator, seed_000) -> None:
    hostility, _ = seed_000
    for fragment in ("Hamas Rats in the tunnels", "on threat of death", "people who are brain dead"):
        assert _find(hostility, fragment) >= model.thresholds["hostility"], fragment


def test_an_insult_after_300_benign_tokens_is_flagged(model: Moderator) -> None:
    benign = ("The council met on Tuesday to discuss the library budget, and residents shared their views on "
              "opening hours, parking and the children's reading programme. ") * 12
    assert len(model.tokenizer(benign)["input_ids"]) > 300
    long = model.score_one(benign + "You are a worthless pathetic idiot and I hope you die.")
    assert "hostility" in long.labels and not long.truncated
    assert "hostility" not in model.score_one(benign).labels


def test_recipe_script_matches_the_model_card() -> None:
    # The recipe is written twice: as the script users run and as the card's "Reproduce" block, which
    # training.evaluate derives from the shipped model's stages. They must not drift apart.
    from training.evaluate import _reproduce, recipe_of

    meta = json.loads((default_model_path() / "moderation.json").read_text())
    recipe = recipe_of(meta)
    assert recipe is not None, "the shipped default must come from a committed recipe (training.evaluate.RECIPES)"
    assert _script_commands(Path(__file__).parents[1] / recipe.script) == _reproduce(meta).splitlines()


def _script_commands(script: Path) -> list[str]:
    """A recipe script's commands, as a model card's Reproduce block prints them."""
    return [line.removesuffix(' "$@"') for line in script.read_text().splitlines()
            if line and not line.startswith(("#", "set "))]


@pytest.mark.parametrize("script", ["training/e5_recipe.sh", "training/e5n_recipe.sh"])
def test_each_recipe_script_is_what_its_models_card_would_print(script: str) -> None:
    # Also for recipes not (yet) behind the default: a model trained stage by stage from the
    # committed configs is recognised as this recipe, and its card prints exactly the script.
    from training.config import TrainConfig
    from training.evaluate import REPO, RECIPES, _reproduce, recipe_of

    recipe = next(r for r in RECIPES if r.script == script)
    meta = None
    for (config,) in recipe.stages:
        meta = {"config": TrainConfig.from_yaml(REPO / config).to_dict(), "training": {"train_seconds": 60}, "init_from": meta}
    assert recipe_of(meta) is recipe
    assert _script_commands(REPO / script) == _reproduce(meta).splitlines()


def test_a_model_from_other_configs_does_not_claim_the_default_recipe() -> None:
    from training.evaluate import _reproduce

    meta = json.loads((default_model_path() / "moderation.json").read_text())
    last = meta["soup"][0]["config"] if meta.get("soup") else meta["config"]
    last["seed"] += 1  # (one ingredient of) the last stage trained differently
    assert "configs/" not in _reproduce(meta)
    one_stage = {"config": {"name": "mine", "sources": {"labels.csv": {}}}, "training": {"train_seconds": 60}}
    assert "configs/" not in _reproduce(one_stage) and "moderation train --config" in _reproduce(one_stage)


def test_committed_card_is_the_rendered_card() -> None:
    # The card is generated, never hand-edited: rendering it again from the stored metadata and
    # evaluation report must give the committed file, so code changes to the card cannot drift from it.
    from training.evaluate import REPORT_FILE, render_model_card

    path = default_model_path()
    meta = json.loads((path / "moderation.json").read_text())
    report = json.loads((path / REPORT_FILE).read_text())
    assert render_model_card(meta, report) == (path / "MODEL_CARD.md").read_text()


def test_card_states_input_normalisation_and_capped_thresholds() -> None:
    from training.evaluate import REPORT_FILE, render_model_card

    path = default_model_path()
    meta = json.loads((path / "moderation.json").read_text())
    report = json.loads((path / REPORT_FILE).read_text())
    # The shipped card states what the model uses (2.3.0 and 2.4.0: both); stripped of them, the same card states neither.
    shipped = (path / "MODEL_CARD.md").read_text()
    assert ("user mentions are written `@USER`" in shipped) == bool(meta.get("normalise"))
    assert ("flag at most" in shipped) == bool(meta["config"].get("threshold_caps"))
    config = {k: v for k, v in meta["config"].items() if k != "threshold_caps"}
    plain = render_model_card(dict(meta, normalise=False, config=config), report)
    assert "@USER" not in plain and "flag at most" not in plain
    caps = {"misinformation": {"max_flagged": 0.1, "sources": ["liar", "constraint"]}}
    card = render_model_card(dict(meta, normalise=True, config=dict(config, threshold_caps=caps)), report)
    assert "user mentions are written `@USER`" in card
    assert "misinformation: the best among thresholds that flag at most 10% of the validation rows of liar, constraint" in card


def test_card_lists_only_the_source_options_a_model_used() -> None:
    from training.evaluate import _options_used

    minilm = json.loads((default_model_path().parent / "moderation-minilm-1.3.0" / "moderation.json").read_text())
    used = _options_used(minilm)  # the fast model kept in the registry; its stages 1-2 did not use the option
    assert "claimbuster `nonclaims_not_misinformation: true` (stages 3, 4)" in used
    assert "soft" not in used and "ordinal" not in used
    graded = {"config": {"sources": {"ucc": {"soft": True, "repeat": 3}, "liar": {}}}, "training": {}}
    assert _options_used(graded).startswith("Source options this model was trained with: ucc `soft: true` (stage 1).")
    assert "no source options" in _options_used({"config": {"sources": {"liar": {"train_size": 10}}}, "training": {}})
