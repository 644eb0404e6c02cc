"""Retraining a tiny parent on new slang insults: learned, gated, promoted and rolled back."""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moderation.cli import app
from moderation.model import Moderator
from moderation.registry import Registry
from tests.conftest import TINY_ENCODER

OLD_INSULTS = ["idiot", "moron", "imbecile", "fool", "loser", "clown", "dimwit", "halfwit"]
NEW_SLANG = ["gronk", "plonker", "numpty", "bellend", "muppet", "wazzock", "pillock", "nincompoop"]
# Neutral nouns share the frames with the insults, so only the word itself carries the label,
# and outnumber them, so an unseen word starts out low.
NEUTRAL = ["gardener", "teacher", "neighbour", "cyclist", "reader", "pianist", "baker", "nurse", "farmer",
           "student", "painter", "sailor", "runner", "writer", "plumber", "doctor", "driver", "singer",
           "chemist", "banker", "tailor", "pilot", "dancer", "lawyer"]
FRAMES = ["you are a total {}", "what a {} you are", "only a {} would write this", "well said, {}"]


def _write(path: Path, rows: list[tuple[str, float]]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "hostility"])
        w.writerows(rows)
    return path


def _rows(words: list[str], rng: random.Random) -> list[tuple[str, float]]:
    hostile = [(f.format(w) + f" #{i}", 1.0) for i in range(2) for w in words for f in FRAMES]
    calm = [(f.format(n) + f" #{i}", 0.0) for i in range(2) for n in NEUTRAL for f in FRAMES]
    rows = hostile + calm
    rng.shuffle(rows)
    return rows


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding a tiny parent trained on classic insults, promoted to default."""
    from training.config import TrainConfig
    from training.trainer import train_model

    root = tmp_path_factory.mktemp("registry")
    data = _write(root.parent / "parent.csv", _rows(OLD_INSULTS, random.Random(0)))
    cfg = TrainConfig(
        name="tiny", version="1.0.0", tiny_encoder=TINY_ENCODER, max_length=32, batch_size=16,
        epochs=6, learning_rate=3e-3, checkpoint_every=0, sources={str(data): {"val_fraction": 0.25}},
    )
    train_model(cfg, root / "tiny-1.0.0", progress=False)
    Registry(root).promote("tiny-1.0.0")
    return root


def test_parent_learned_its_task(registry: Path) -> None:
    parent = Moderator.load(registry / "default")
    hostile, calm = parent.predict_proba(["you are a total moron", "you are a total gardener"])[:, 0]
    assert hostile > calm + 0.3


def test_retrain_learns_new_slang_and_passes_gate(registry: Path, tmp_path: Path) -> None:
    new = _write(tmp_path / "slang.csv", _rows(NEW_SLANG, random.Random(1)))
    retrain_cfg = tmp_path / "retrain.yaml"
    retrain_cfg.write_text("batch_size: 16\nepochs: 6\nlearning_rate: 3.0e-3\ncheckpoint_every: 0\n")
    probe = [f.format(w) for w in NEW_SLANG for f in FRAMES]
    before = Moderator.load(registry / "default").predict_proba(probe)[:, 0].mean()

    result = CliRunner().invoke(app, [
        "train", "--init-from", str(registry / "default"), "--data", str(new), "--config", str(retrain_cfg),
        "--output", str(registry / "tiny-1.1.0"), "--models-dir", str(registry), "--replay", "0.5",
        "--margin", "0.02", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    assert "| source | label | ROC-AUC before | ROC-AUC after |" in result.output
    assert "promoted tiny-1.1.0 to default" in result.output

    child = Moderator.load(registry / "default")
    after = child.predict_proba(probe)[:, 0].mean()
    assert before < 0.5 < after, (before, after)
    gate = child.meta["regression_gate"]
    assert gate["passed"] and child.meta["parent"] == "tiny@1.0.0" and child.meta["version"] == "1.1.0"
    parent_rows = [r for r in gate["rows"] if r["before"] is not None]
    assert parent_rows and all(r["delta"] >= -0.02 for r in parent_rows)
    assert all(p.stat().st_mode & 0o222 == 0 for p in (registry / "tiny-1.1.0").iterdir() if p.is_file())

    # Rollback and promote round-trip through the CLI.
    out = CliRunner().invoke(app, ["models", "rollback", "--models-dir", str(registry)])
    assert out.exit_code == 0 and "tiny-1.0.0" in out.output
    assert Moderator.load(registry / "default").meta["version"] == "1.0.0"
    out = CliRunner().invoke(app, ["models", "promote", "tiny-1.1.0", "--models-dir", str(registry)])
    assert out.exit_code == 0 and os.readlink(registry / "default") == "tiny-1.1.0"
    listing = CliRunner().invoke(app, ["models", "list", "--models-dir", str(registry)]).output
    assert "* tiny-1.1.0" in listing
    history = [json.loads(l) for l in (registry / "history.jsonl").read_text().splitlines()]
    assert [h["action"] for h in history] == ["promote", "promote", "rollback", "promote"]


def test_gate_refuses_regression_unless_forced(registry: Path, tmp_path: Path) -> None:
    # Labels that contradict the parent: classic insults marked harmless must break the gate.
    flipped = [(t, 1.0 - y) for t, y in _rows(OLD_INSULTS, random.Random(2))]
    bad = _write(tmp_path / "flipped.csv", flipped)
    cfg = tmp_path / "retrain.yaml"
    cfg.write_text("batch_size: 16\nepochs: 4\nlearning_rate: 3.0e-3\ncheckpoint_every: 0\n")
    default_before = os.readlink(registry / "default")
    result = CliRunner().invoke(app, [
        "train", "--init-from", str(registry / "default"), "--data", str(bad), "--config", str(cfg),
        "--output", str(registry / "tiny-bad"), "--models-dir", str(registry), "--replay", "0", "--quiet",
    ])
    assert result.exit_code == 1, result.output
    assert "REGRESSED" in result.output
    assert os.readlink(registry / "default") == default_before
    refused = CliRunner().invoke(app, ["models", "promote", "tiny-bad", "--models-dir", str(registry)])
    assert refused.exit_code == 1 and "regression gate" in refused.output  # as train gives for the same refusal
    forced = CliRunner().invoke(app, ["models", "promote", "tiny-bad", "--force", "--models-dir", str(registry)])
    assert forced.exit_code == 0
    assert json.loads((registry / "history.jsonl").read_text().splitlines()[-1])["forced"] is True


def test_label_file_validation_reports_every_bad_row(tmp_path: Path) -> None:
    from training.labelfiles import load_label_file, resolve_conflicts

    path = tmp_path / "labels.csv"
    path.write_text("text,hostility,colour\nfine comment,0,red\n,1,blue\nyou idiot,1.5,red\nok,abc,red\ndup,1,x\ndup,0,x\nunlabelled,,x\n")
    rows, problems = load_label_file(path)
    reasons = [str(p) for p in problems]
    assert any("unknown column 'colour'" in r for r in reasons)
    assert any(r.startswith(f"{path}:3:") and "missing" in r for r in reasons)
    assert any(r.startswith(f"{path}:4:") and "outside [0, 1]" in r for r in reasons)
    assert any(r.startswith(f"{path}:5:") and "not a number" in r for r in reasons)
    assert any(r.startswith(f"{path}:8:") and "no label value" in r for r in reasons)
    assert list(rows["text"]) == ["fine comment", "dup", "dup"]
    merged, conflicts = resolve_conflicts(rows, "mean")
    assert merged.loc[merged["text"] == "dup", "hostility"].item() == 0.5
    assert any("conflicting labels" in p.reason and "lines 6, 7" in p.reason for p in conflicts)
    dropped, _ = resolve_conflicts(rows, "drop")
    assert list(dropped["text"]) == ["fine comment"]


def test_add_label_grows_a_head_that_learns_and_is_evaluated(registry: Path, tmp_path: Path) -> None:
    rows = [(text, label, 1.0 if any(w in text for w in NEW_SLANG) else 0.0) for text, label in _rows(NEW_SLANG, random.Random(3))]
    spam = tmp_path / "spam.csv"
    with open(spam, "w", newline="") as fh:
        csv.writer(fh).writerows([["text", "hostility", "slang"], *rows])
    cfg = tmp_path / "retrain.yaml"
    cfg.write_text("batch_size: 16\nepochs: 6\nlearning_rate: 3.0e-3\ncheckpoint_every: 0\n")
    out = tmp_path / "tiny-slang"
    args = ["train", "--init-from", str(registry / "tiny-1.0.0"), "--data", str(spam), "--config", str(cfg),
            "--models-dir", str(tmp_path), "--margin", "1", "--quiet"]
    result = CliRunner().invoke(app, [*args, "--add-label", "slang", "--output", str(out)])
    assert result.exit_code == 0, result.output
    child = Moderator.load(out)
    assert child.labels[-1] == "slang" and child.meta["added_labels"] == ["slang"] and 0 < child.thresholds["slang"] < 1
    slang, plain = child.predict_proba(["what a numpty you are", "what a gardener you are"])[:, -1]
    assert slang > plain + 0.3
    assert any(r["label"] == "slang" and r["before"] is None for r in child.meta["regression_gate"]["rows"])
    # Names that cannot be a label of their own are refused before any training.
    for name, message in (("hostility", "already has that label"), ("split", "column of every label table"),
                          ("Spam!", "lowercase letters"), ("spam", "no --data file has a 'spam' column")):
        result = CliRunner().invoke(app, [*args, "--add-label", name, "--output", str(tmp_path / f"x-{len(name)}")])
        assert result.exit_code == 2 and message in result.output, result.output
    twice = CliRunner().invoke(app, [*args, "--add-label", "slang", "--add-label", "slang", "--output", str(tmp_path / "x2")])
    assert twice.exit_code == 2 and "names a label twice" in twice.output


def test_child_metadata_records_its_own_stage_not_the_parents_figures(registry: Path, tmp_path: Path) -> None:
    parent_dir = registry / "tiny-1.0.0"
    parent_meta = json.loads((parent_dir / "moderation.json").read_text())
    new = _write(tmp_path / "slang.csv", _rows(NEW_SLANG, random.Random(4)))
    cfg = tmp_path / "retrain.yaml"
    cfg.write_text("batch_size: 16\nepochs: 1\nlearning_rate: 1.0e-3\ncheckpoint_every: 0\n")
    out = tmp_path / "child"
    result = CliRunner().invoke(app, ["train", "--init-from", str(parent_dir), "--data", str(new), "--config", str(cfg),
                                      "--output", str(out), "--margin", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "not promoted: " in result.output and "outside the registry" in result.output
    meta = json.loads((out / "moderation.json").read_text())
    assert "metrics" not in meta or meta["metrics"] != parent_meta.get("metrics")
    assert meta["init_from"]["model"] == "tiny@1.0.0" and meta["init_from"]["config"] == parent_meta["config"]
    assert meta["config"]["init_from"] == str(parent_dir) and meta["parent"] == "tiny@1.0.0"
    assert meta["training"]["rows"] != parent_meta["training"]["rows"]
    # A second child of the same parent in the same folder gets the next free version, not its sibling's.
    again = CliRunner().invoke(app, ["train", "--init-from", str(parent_dir), "--data", str(new), "--config", str(cfg),
                                     "--output", str(tmp_path / "child2"), "--margin", "1", "--quiet"])
    assert again.exit_code == 0, again.output
    assert (meta["version"], Moderator.load(tmp_path / "child2").meta["version"]) == ("1.1.0", "1.2.0")


def test_retrain_refuses_what_it_cannot_do(registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = _write(tmp_path / "one.csv", [("you are a total gronk", 1.0)])
    cfg = tmp_path / "retrain.yaml"
    cfg.write_text("batch_size: 16\nepochs: 1\ncheckpoint_every: 0\n")
    base = ["train", "--init-from", str(registry / "tiny-1.0.0"), "--config", str(cfg), "--quiet"]
    result = CliRunner().invoke(app, [*base, "--data", str(one), "--output", str(tmp_path / "a")])
    assert result.exit_code == 2 and "all held out for the gate" in result.output
    result = CliRunner().invoke(app, [*base, "--data", str(one), "--output", str(tmp_path / "b"), "--resume"])
    assert result.exit_code == 2 and "--resume continues plain training" in result.output
    bad = _write(tmp_path / "bad.csv", [("what a gronk", 9.0)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no ./configs here: the default config comes from the installation
    result = CliRunner().invoke(app, ["train", "--init-from", str(registry / "tiny-1.0.0"), "--data", str(bad), "--output", str(tmp_path / "c")])
    assert result.exit_code == 2 and "no usable rows in the label files" in result.output and "bad.csv:2: label 'hostility' = 9.0" in result.output


def test_evaluate_on_label_files_without_hostility(registry: Path, tmp_path: Path) -> None:
    claims = tmp_path / "claims.csv"
    with open(claims, "w", newline="") as fh:
        csv.writer(fh).writerows([["text", "misinformation"], *[(f"the moon is made of cheese {i}", i % 2) for i in range(20)]])
    result = CliRunner().invoke(app, ["evaluate", str(registry / "tiny-1.0.0"), "--data", str(claims)])
    assert result.exit_code == 0, result.output
    assert "| claims | misinformation | 20 | 10 |" in result.output
    twice = CliRunner().invoke(app, ["evaluate", str(registry / "tiny-1.0.0"), "--data", str(claims), "--data", str(claims)])
    assert twice.exit_code == 0 and f"| {claims} | misinformation | 20 | 10 |" in twice.output and "duplicate text" in twice.output
    result = CliRunner().invoke(app, ["evaluate", str(registry / "tiny-1.0.0"), "--data", str(claims), "--card"])
    assert result.exit_code == 2 and "--card describes the model's own validation suite" in result.output


def test_a_changed_label_file_is_reported_when_the_table_is_rebuilt(registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from training.evaluate import table_for

    new = _write(tmp_path / "slang.csv", _rows(NEW_SLANG, random.Random(5)))
    cfg = tmp_path / "retrain.yaml"
    cfg.write_text("batch_size: 16\nepochs: 1\ncheckpoint_every: 0\n")
    result = CliRunner().invoke(app, ["train", "--init-from", str(registry / "tiny-1.0.0"), "--data", str(new), "--config", str(cfg),
                                      "--output", str(tmp_path / "child"), "--margin", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    child = Moderator.load(tmp_path / "child")
    (path,) = child.meta["data_files"]
    # The default --on-conflict error is not recorded: an edited file rebuilds with a warning, not an error.
    assert "on_conflict" not in child.meta["config"]["sources"][str(Path(path).resolve())]
    table_for(child)
    assert "has changed" not in capsys.readouterr().err
    original = Path(path).read_text()
    try:
        Path(path).write_text(original.replace(",1.0", ",0.0"))
        table_for(child)
        assert f"warning: {path} has changed since {child.name}" in capsys.readouterr().err
    finally:
        Path(path).write_text(original)


def test_a_grandchild_keeps_the_hashes_of_its_parents_label_files(registry: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "retrain.yaml"
    cfg.write_text("batch_size: 16\nepochs: 1\ncheckpoint_every: 0\n")
    parent = registry / "tiny-1.0.0"
    for n, name in enumerate(("child", "grandchild")):
        new = _write(tmp_path / f"{name}.csv", _rows(NEW_SLANG, random.Random(20 + n)))
        result = CliRunner().invoke(app, ["train", "--init-from", str(parent), "--data", str(new), "--config", str(cfg),
                                          "--output", str(tmp_path / name), "--margin", "1", "--quiet"])
        assert result.exit_code == 0, result.output
        parent = tmp_path / name
    files = Moderator.load(tmp_path / "grandchild").meta["data_files"]
    assert {Path(f).name for f in files} == {"child.csv", "grandchild.csv"}


def test_a_child_whose_label_file_had_bad_rows_can_be_rebuilt(registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from training.evaluate import table_for

    new = _write(tmp_path / "slang.csv", [*_rows(NEW_SLANG, random.Random(6)), ("what a plonker", 7.0)])
    cfg = tmp_path / "retrain.yaml"
    cfg.write_text("batch_size: 16\nepochs: 1\ncheckpoint_every: 0\n")
    result = CliRunner().invoke(app, ["train", "--init-from", str(registry / "tiny-1.0.0"), "--data", str(new), "--config", str(cfg),
                                      "--output", str(tmp_path / "child"), "--margin", "1", "--quiet"])
    assert result.exit_code == 0 and "outside [0, 1]" in result.output
    table = table_for(Moderator.load(tmp_path / "child"))
    assert (table["source"] == str(new.resolve())).any()
    assert f"1 bad rows in {new.resolve()} left out" in capsys.readouterr().err


@pytest.mark.parametrize("policy, label", [("mean", 0.5), ("drop", None)])
def test_a_childs_rebuilt_table_follows_its_on_conflict_policy(registry: Path, tmp_path: Path, policy: str, label: float | None) -> None:
    from training.evaluate import table_for

    clash = "what a plonker you are, honestly"
    new = _write(tmp_path / "slang.csv", [*_rows(NEW_SLANG, random.Random(7)), (clash, 1.0), (clash, 0.0)])
    cfg = tmp_path / "retrain.yaml"
    cfg.write_text("batch_size: 16\nepochs: 1\ncheckpoint_every: 0\n")
    result = CliRunner().invoke(app, ["train", "--init-from", str(registry / "tiny-1.0.0"), "--data", str(new), "--config", str(cfg),
                                      "--output", str(tmp_path / "child"), "--margin", "1", "--on-conflict", policy, "--quiet"])
    assert result.exit_code == 0, result.output
    child = Moderator.load(tmp_path / "child")
    assert child.meta["config"]["sources"][str(new.resolve())]["on_conflict"] == policy
    table = table_for(child)
    rows = table.loc[table["text"] == clash, "hostility"].tolist()
    assert rows == ([] if label is None else [label])


@pytest.mark.parametrize("name, content, where", [
    ("rag.csv", "text,hostility\nfine,1\nragged,1,extra\n", "line 3 has 3 fields, the header has 2"),
    ("mal.jsonl", '{"text": "a", "hostility": 1}\n{"text": broken\n', "line 2: malformed JSON"),
])
def test_unparseable_label_file_names_the_line(tmp_path: Path, name: str, content: str, where: str) -> None:
    from moderation.errors import InputError
    from training.labelfiles import load_label_file

    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=where):
        load_label_file(path)
