"""The behavioural suite: its file, the runner's pass/fail logic, loading errors, the card section,
the translated identity templates and the leakage check against training templates."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from moderation.labels import LABELS
from training.bias import IDENTITY_FORMS, IDENTITY_TERMS, LANGUAGE_TEMPLATES, template_checks_by_language, template_sentences
from training.functional import (
    CASES_FILE,
    SUITE_LABELS,
    TEMPLATES_DIR,
    Case,
    CaseError,
    app,
    load_cases,
    overlap_key,
    overlapping_cases,
    run_suite,
    template_files,
)

#: The issue's list, one functionality each (names as in cases.jsonl).
REQUIRED = {
    "threat_direct", "threat_conditional", "threat_intent", "idiom_nonthreat", "news_violence", "profanity_positive",
    "dehumanising", "insult_plain", "identity_attack", "counter_speech", "quoted_hate", "negation", "question_neutral",
    "thanks_praise", "greeting_chitchat", "polite_disagreement", "fact_true", "hoax_false", "opinion", "prediction",
    "insult_no_misinfo", "long_insult",
}


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_cases()


def test_suite_is_large_and_covers_every_functionality(cases: list[Case]) -> None:
    counts = Counter(c.functionality for c in cases)
    assert len(cases) >= 330 and len(counts) >= 22
    assert min(counts.values()) >= 10, counts
    assert REQUIRED <= set(counts)
    keys = [overlap_key(c.text) for c in cases]
    assert all(keys) and len(set(keys)) == len(keys), "every case needs its own text"
    assert all("claim" not in c.expect for c in cases)


def test_expectations_follow_the_issue(cases: list[Case]) -> None:
    by = {name: [c.expect for c in cases if c.functionality == name] for name in REQUIRED}
    assert all(e["threat"] == 1 and e["hostility"] == 1 for f in ("threat_direct", "threat_conditional", "threat_intent") for e in by[f])
    assert all(e["threat"] == 0 and e["hostility"] == 0 for f in ("idiom_nonthreat", "news_violence") for e in by[f])
    assert all(e["profanity"] == 1 and e["hostility"] == 0 for e in by["profanity_positive"])
    assert all(e["hostility"] == 1 and e["identity_attack"] == 1 and e["profanity"] == 0 for e in by["dehumanising"])
    assert all(e["hostility"] == 0 for f in ("counter_speech", "quoted_hate", "negation", "polite_disagreement") for e in by[f])
    assert all(e == dict.fromkeys(SUITE_LABELS, 0) for f in ("question_neutral", "thanks_praise", "greeting_chitchat") for e in by[f])
    assert all(e["misinformation"] == 0 for f in ("fact_true", "opinion", "prediction", "insult_no_misinfo") for e in by[f])
    assert all(e["misinformation"] == 1 and e["threat"] == 0 and e["profanity"] == 0 for e in by["hoax_false"])
    assert all(e["hostility"] == 1 for f in ("insult_no_misinfo", "long_insult") for e in by[f])
    texts = {c.text for c in cases}
    assert {"hello", "Thanks!", "Vaccines cause autism.", "Drinking bleach cures COVID."} <= texts


def test_long_comments_put_the_insult_after_300_tokens(cases: list[Case], tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    long = [c for c in cases if c.functionality == "long_insult"]
    assert len(long) >= 10
    for case in long:
        benign, _, insult = case.text.rpartition(". ")
        assert len(tokenizer(benign + ".", add_special_tokens=False)["input_ids"]) >= 300, case.id
        assert 3 <= len(insult.split()) <= 25, case.id


class Stub:
    """A model whose probabilities are a table by text; counts its predict_proba calls."""

    def __init__(self, probs: dict[str, dict[str, float]], labels: tuple[str, ...] = ("hostility", "threat")):
        self.labels, self.probs, self.calls = list(labels), probs, 0
        self.thresholds = {**dict.fromkeys(labels, 0.5), "threat": 0.3}

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.array([[self.probs[t].get(l, 0.0) for l in self.labels] for t in texts])


def test_runner_flags_at_the_threshold_and_counts_per_functionality() -> None:
    cases = [
        Case("a1", "a", "at threshold", {"hostility": 1, "threat": 1}),  # 0.5 and 0.3: both flagged
        Case("a2", "a", "just below", {"hostility": 0, "threat": 1}),  # threat 0.2999 is not flagged
        Case("a3", "a", "quiet", {"hostility": 0, "threat": 0}),
        Case("b1", "b", "loud", {"hostility": 1}),
        Case("b2", "b", "no such label", {"hostility": 1, "profanity": 1}),  # the stub has no profanity
    ]
    stub = Stub({
        "at threshold": {"hostility": 0.5, "threat": 0.3},
        "just below": {"hostility": 0.4999, "threat": 0.2999},
        "quiet": {"hostility": 0.1, "threat": 0.1},
        "loud": {"hostility": 0.9},
        "no such label": {"hostility": 0.9},
    })
    report = run_suite(stub, cases)
    assert stub.calls == 1
    assert [r.passed for r in report.results] == [True, False, True, True, False]
    assert report.results[1].wrong == ["threat"] and report.results[1].missing == []
    assert report.results[4].wrong == [] and report.results[4].missing == ["profanity"]
    assert report.results[4].scores == {"hostility": 0.9}
    assert report.missing_labels == ["profanity"]
    assert report.per_functionality == {"a": {"n": 3, "passed": 2, "pass_rate": 2 / 3}, "b": {"n": 2, "passed": 1, "pass_rate": 0.5}}
    assert report.overall == pytest.approx(3 / 5)
    assert report.below(0.75) == ["a", "b"] and report.below(0.6) == ["b"] and not report.passed()
    summary = report.summary()
    assert summary["below_target"] == ["a", "b"] and summary["n"] == 5 and "results" not in summary


def test_perfect_model_meets_the_targets(cases: list[Case]) -> None:
    # A model that answers exactly the expectations passes every case: the suite is consistent.
    probs = {c.text: {l: 0.9 if v else 0.0 for l, v in c.expect.items()} for c in cases}
    report = run_suite(Stub(probs, labels=SUITE_LABELS), cases)
    assert report.overall == 1.0 and report.passed() and report.below() == []


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"id": "g1", "functionality": "f", "text": "hi", "expect": {"hostility": 0}})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not JSON"),
        (json.dumps({"id": "x", "text": "hi", "expect": {"hostility": 0}}), "line 2: 'functionality' missing"),
        (json.dumps({"id": "x", "functionality": "f", "text": "hi", "expect": {"claim": 1}}), "line 2: unknown label 'claim'"),
        (json.dumps({"id": "x", "functionality": "f", "text": "hi", "expect": {"hostility": 2}}), "line 2: 'expect' value for hostility is 2"),
        (json.dumps({"id": "x", "functionality": "f", "text": "hi", "expect": {"hostility": True}}), "line 2: 'expect' value for hostility is True"),
        (json.dumps({"id": "x", "functionality": "f", "text": "hi", "expect": {}}), "line 2: 'expect' missing"),
        (json.dumps({"id": "x", "functionality": "f", "text": " ", "expect": {"hostility": 0}}), "line 2: 'text' missing"),
        (GOOD, "line 2: duplicate id 'g1'"),
        ("[1, 2]", "line 2: not a JSON object"),
    ],
)
def test_load_cases_names_the_bad_line(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(CaseError, match=message):
        load_cases(_write(tmp_path, [GOOD, line]))


def test_load_cases_reports_every_bad_line_and_skips_blank_ones(tmp_path: Path) -> None:
    with pytest.raises(CaseError) as err:
        load_cases(_write(tmp_path, ["{", GOOD, "", '{"id": "y"}']))
    assert "line 1: not JSON" in str(err.value) and "line 4: 'functionality' missing" in str(err.value)
    assert [c.id for c in load_cases(_write(tmp_path, ["", GOOD, ""]))] == ["g1"]
    with pytest.raises(CaseError, match="no cases"):
        load_cases(_write(tmp_path, [""]))
    with pytest.raises(CaseError, match="cannot read"):
        load_cases(tmp_path / "absent.jsonl")


def test_cli_prints_the_table_and_writes_json(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "functional.json"
    result = CliRunner().invoke(app, [str(tiny_model_dir), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "threat_direct" in result.output and "overall" in result.output
    report = json.loads(out.read_text())
    assert report["n"] == len(load_cases()) == len(report["results"]) and report["model"] == "tiny@0.0.1"
    assert sum(f["n"] for f in report["per_functionality"].values()) == report["n"]
    bad = CliRunner().invoke(app, [str(tmp_path / "nowhere")])
    assert bad.exit_code == 2 and "error: no model at" in bad.output
    bad = CliRunner().invoke(app, [str(tiny_model_dir), "--json", str(tmp_path)])
    assert bad.exit_code == 2 and "error: cannot write" in bad.output
    broken = _write(tmp_path, ["{"])
    bad = CliRunner().invoke(app, [str(tiny_model_dir), "--cases", str(broken)])
    assert bad.exit_code == 2 and "line 1: not JSON" in bad.output


# --- the card -------------------------------------------------------------------------------------

def test_evaluate_adds_functional_results_and_languages_to_report_metrics_and_card(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    import pandas as pd

    from moderation.model import Moderator
    from training.evaluate import evaluate_model, render_model_card, write_report

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    moderator = Moderator.load(model_dir, backend="torch")
    texts = [f"comment number {i}" for i in range(8)]
    table = pd.DataFrame({"text": texts, "source": "probe", "split": "validation", "hostility": [0.0, 1.0] * 4})
    for label in LABELS[1:]:
        table[label] = -1.0
    report = evaluate_model(moderator, table, baseline=False)
    functional = report["functional"]
    assert functional["n"] == len(load_cases()) and set(functional["per_functionality"]) >= REQUIRED
    assert set(report["templates_by_language"]) == {"de", "pt", "zh"}
    write_report(model_dir, moderator, report)
    metrics = json.loads((model_dir / "moderation.json").read_text())["metrics"]
    assert metrics["functional"]["overall"] == functional["overall"]
    assert metrics["functional"]["per_functionality"]["threat_direct"] == functional["per_functionality"]["threat_direct"]["pass_rate"]
    assert set(metrics["identity_templates_flagged_by_language"]) == {"en", "de", "pt", "zh"}
    card = (model_dir / "MODEL_CARD.md").read_text()
    assert "## Functional tests" in card and f"**{functional['overall']:.2f}** ({functional['n']} cases)" in card
    row = functional["per_functionality"]["long_insult"]
    assert f"| long_insult | {row['n']} | {row['passed']} | {row['pass_rate']:.2f}" in card
    assert "| zh | 260 |" in card and "| de | 260 |" in card
    # A report without these parts (such as the committed 1.3.0 one) renders no such sections.
    bare = {k: v for k, v in report.items() if k not in ("functional", "templates_by_language")}
    bare_card = render_model_card(moderator.meta, bare)
    assert "## Functional tests" not in bare_card and "| zh |" not in bare_card


def test_card_lists_the_functionalities_below_target() -> None:
    from training.evaluate import _functional_section

    summary = run_suite(
        Stub({"x": {"hostility": 0.9}, "y": {"hostility": 0.1}}),
        [Case("1", "good", "x", {"hostility": 1}), Case("2", "bad", "y", {"hostility": 1})],
    ).summary()
    section = _functional_section(summary)
    assert "below 0.75: bad." in section and "| bad | 1 | 0 | 0.00 (below target) |" in section
    assert "| good | 1 | 1 | 1.00 |" in section and "**0.50** (2 cases)" in section


# --- identity templates in other languages ---------------------------------------------------------

@pytest.mark.parametrize("language", ["de", "zh", "pt"])
def test_translated_templates_cover_the_same_identities(language: str) -> None:
    pairs = template_sentences(language)
    english = template_sentences("en")
    assert len(pairs) == len(english) and len({s for _, s in pairs}) == len(pairs)
    assert Counter(name for name, _ in pairs) == Counter(name for name, _ in english)
    assert len(LANGUAGE_TEMPLATES[language]) == len(LANGUAGE_TEMPLATES["en"])
    for name, sentence in pairs:
        forms = IDENTITY_FORMS[language](name)
        assert any(form.lower() in sentence.lower() for form in forms.values()), (name, sentence)
        assert "{" not in sentence and sentence[0] == sentence[0].upper()
    assert not any(s in {t for _, t in english} for _, s in pairs)  # really translated


def test_template_checks_by_language_report_each_language() -> None:
    hostility = LABELS.index("hostility")

    def predict_proba(texts: list[str]) -> np.ndarray:  # flags only sentences with a German word
        out = np.zeros((len(texts), len(LABELS)))
        out[:, hostility] = [0.9 if "meiner" in t else 0.1 for t in texts]
        return out

    checks = template_checks_by_language(predict_proba, 0.5)
    assert set(checks) == {"en", "de", "pt", "zh"} and set(checks["de"]["per_identity"]) == set(IDENTITY_TERMS)
    assert checks["de"]["language"] == "de" and checks["de"]["flagged"] == 4 * len(IDENTITY_TERMS)  # four templates say "meiner"
    assert not checks["de"]["passed"] and checks["pt"]["passed"] and checks["zh"]["flagged_rate"] == 0.0


# --- no suite sentence in the training templates ----------------------------------------------------

@pytest.mark.parametrize("path", template_files() or [None], ids=lambda p: str(p.relative_to(TEMPLATES_DIR)) if p else "no-templates-folder")
def test_suite_texts_are_not_in_training_templates(cases: list[Case], path: Path | None) -> None:
    if path is None:
        assert not template_files(), f"{TEMPLATES_DIR} has files but none were collected"
        return
    if path.name == "slots.yaml":  # slot values are fragments ("Hello"); the sentences they make are checked below
        return
    assert overlapping_cases(cases, path) == [], f"suite texts found in {path}"


def test_suite_texts_are_not_among_the_generated_training_sentences(cases: list[Case], tmp_path: Path) -> None:
    templates = pytest.importorskip("training.templates")
    generated = tmp_path / "generated.txt"
    generated.write_text("\n".join(templates.generate_templates(0)["text"]) + "\n", encoding="utf-8")
    assert overlapping_cases(cases, generated) == []


def test_overlap_check_finds_suite_texts_in_template_files(tmp_path: Path) -> None:
    cases = [
        Case("short", "f", "hello", {"hostility": 0}),
        Case("long", "f", "Vaccines train the immune system to recognise a pathogen.", {"misinformation": 0}),
        Case("zh", "f", "谢谢你们的报道，写得很好。", {"hostility": 0}),
        Case("other", "f", "This sentence is in no file at all.", {"hostility": 0}),
    ]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(json.dumps({"text": "Hello!", "label": 0}) + "\n")
    assert overlapping_cases(cases, jsonl) == ["short"]
    yaml = tmp_path / "b.yaml"
    yaml.write_text("negatives:\n  - \"VACCINES train the immune system, to recognise a pathogen\"\n")
    assert overlapping_cases(cases, yaml) == ["long"]
    embedded = tmp_path / "c.py"
    embedded.write_text("TEXT = f'As we know, vaccines train the immune system to recognise a pathogen, {x}'\n")
    assert overlapping_cases(cases, embedded) == ["long"]
    chinese = tmp_path / "d.txt"
    chinese.write_text("谢谢你们的报道, 写得很好\n")
    assert overlapping_cases(cases, chinese) == ["zh"]
    near = tmp_path / "e.txt"
    near.write_text("hello there, neighbours\nVaccines train the immune system.\n")  # a short text inside a line does not count
    assert overlapping_cases(cases, near) == []
    folder = tmp_path / "templates"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "x.yaml").write_text("a: b\n")
    assert template_files(folder) == [folder / "sub" / "x.yaml"] and template_files(tmp_path / "absent") == []


def test_sub_labels_are_withheld_by_validation_auc_and_the_suite() -> None:
    from training.evaluate import withheld_labels

    metrics = {"all": {"insult": {"roc_auc": 0.91, "n": 900}, "threat": {"roc_auc": 0.80, "n": 300},
                       "identity_attack": {"roc_auc": 0.90, "n": 700}, "profanity": {"roc_auc": 0.88, "n": 500},
                       "claim": {"roc_auc": 0.86, "n": 800}}}
    results = [{"functionality": "profanity_positive", "expect": {"profanity": 1, "hostility": 0}, "wrong": ["profanity"], "missing": []},
               {"functionality": "profanity_positive", "expect": {"profanity": 1}, "wrong": [], "missing": []},
               {"functionality": "dehumanising", "expect": {"identity_attack": 1}, "wrong": [], "missing": []},
               {"functionality": "insult_plain", "expect": {"insult": 1, "hostility": 1}, "wrong": ["hostility"], "missing": []}]
    reasons = withheld_labels(metrics, {"results": results})
    assert set(reasons) == {"threat", "profanity"}  # insult met its own expectations; hostility is never withheld
    assert "0.800 < 0.85" in reasons["threat"] and "profanity_positive 0.50" in reasons["profanity"]
    assert "no labelled validation rows" in withheld_labels({"all": {}}, {"results": []})["insult"]
