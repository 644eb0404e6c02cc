"""Training pipeline: adapters on tiny raw files, masking, leakage, resume and the train CLI."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from moderation.cli import app
from moderation.errors import InputError
from moderation.labels import LABELS, MISSING
from moderation.model import Moderator
from tests.conftest import TINY_ENCODER
from training.config import TrainConfig
from training.data import build_table, leak_key, load_source, text_key
import training.trainer as trainer_module
from training.evaluate import _training_time
from training.trainer import masked_bce, train_model


def test_masked_loss_ignores_missing_cells() -> None:
    logits = torch.zeros(2, 3, requires_grad=True)
    targets = torch.tensor([[1.0, MISSING, 0.0], [MISSING, MISSING, 1.0]])
    loss = masked_bce(logits, targets, torch.ones(3))
    loss.backward()
    assert logits.grad[0, 1] == 0 and logits.grad[1, 0] == 0 and logits.grad[1, 1] == 0
    assert logits.grad[0, 0] < 0 < logits.grad[0, 2]
    assert loss.item() == pytest.approx(np.log(2), rel=1e-5)  # mean over the 3 known cells only


@pytest.fixture()
def raw_dir(tmp_path: Path) -> Path:
    """A miniature data directory in the shipped raw formats."""
    (tmp_path / "liar").mkdir()
    rows = [("1.json", "pants-fire", "The moon is cheese."), ("2.json", "true", "Water is wet."),
            ("3.json", "half-true", "Taxes rose a bit."), ("4.json", "barely-true", "Crime tripled.")]
    for name, prefix in (("train.tsv", ""), ("valid.tsv", "Valid: ")):
        with open(tmp_path / "liar" / name, "w") as fh:
            for id_, label, text in rows:
                fields = [id_, label, prefix + text, "subj", "speaker", "job", "state", "party", "0", "0", "0", "0", "0", "ctx"]
                fh.write("\t".join(fields) + "\n")
    (tmp_path / "kaggle_insults").mkdir()
    (tmp_path / "kaggle_insults" / "train.csv").write_text(
        'Insult,Date,Comment\n1,,"""You are a fool\\xc2\\xa0indeed"""\n0,,"""Nice point\\\\nthanks"""\n'
    )
    (tmp_path / "toxic_spans" / "data").mkdir(parents=True)
    (tmp_path / "toxic_spans" / "data" / "comments.csv").write_text("comment_id,comment_text\n1,you idiot\n2,damn rain\n")
    (tmp_path / "toxic_spans" / "data" / "annotations.csv").write_text(
        "annotation,comment_id,worker,country,all toxic,not toxic\n0,1,a,USA,False,False\n1,1,b,USA,False,False\n"
        "2,1,c,USA,False,True\n3,2,a,USA,False,False\n4,2,b,USA,False,False\n5,2,c,USA,False,False\n"
    )
    (tmp_path / "toxic_spans" / "data" / "spans.csv").write_text(
        "annotation,type,start,end\n0,Insult,4,9\n1,Insu,4,9\n3,Profane/Obscene,0,4\n4,Profane/Obscene,0,4\n"
    )
    (tmp_path / "ucc").mkdir()
    (tmp_path / "ucc" / "val.csv").write_text(
        "_unit_id,comment,hostile,hostile:confidence\n1,You clowns are pathetic,1,0.8\n2,Fair point on taxes,0,0.6\n"
        "3,Thanks for the article,0,1.0\n"
    )
    (tmp_path / "claimbuster").mkdir()
    (tmp_path / "claimbuster" / "kfold_25ncs.csv").write_text(
        "sentence_id,screening,label,text\n1,-3,1,We lost 700000 jobs last year.\n2,-3,0,I believe in this country.\n"
    )
    return tmp_path


def test_claimbuster_non_claims_as_misinformation_negatives_only_when_asked(raw_dir: Path) -> None:
    plain = load_source("claimbuster", raw_dir).set_index("text")
    assert (plain["misinformation"] == MISSING).all()
    opted = load_source("claimbuster", raw_dir, nonclaims_not_misinformation=True).set_index("text")
    assert opted.loc["I believe in this country.", "misinformation"] == 0
    assert opted.loc["We lost 700000 jobs last year.", "misinformation"] == MISSING  # a claim may be true or false
    with pytest.raises(ValueError, match="no option 'train_sise'"):
        build_table({"claimbuster": {"train_sise": 10}}, data_dir=raw_dir)


def test_validation_caps_do_not_depend_on_the_training_seed(raw_dir: Path) -> None:
    (raw_dir / "claimbuster" / "kfold_25ncs.csv").write_text(
        "sentence_id,screening,label,text\n" + "".join(f"{i},-3,{i % 2},Sentence number {i} about budgets.\n" for i in range(200))
    )
    def val_texts(seed: int) -> set:
        table = build_table({"claimbuster": {"val_fraction": 0.5, "val_size": 20, "train_size": 20}}, data_dir=raw_dir, seed=seed)
        return set(table.loc[table["split"] == "validation", "text"]), set(table.loc[table["split"] == "train", "text"])
    (val_a, train_a), (val_b, train_b) = val_texts(1), val_texts(2)
    assert val_a == val_b and len(val_a) == 20
    assert train_a != train_b  # training samples still follow the seed


def test_repeat_weights_a_source_in_training_only(raw_dir: Path) -> None:
    once = build_table({"ucc": {"val_fraction": 0.34}, "claimbuster": {}}, data_dir=raw_dir)
    thrice = build_table({"ucc": {"val_fraction": 0.34, "repeat": 3}, "claimbuster": {}}, data_dir=raw_dir)
    count = lambda t, split, source: int(((t["split"] == split) & (t["source"] == source)).sum())
    assert count(once, "train", "ucc") >= 1 and count(thrice, "train", "ucc") == 3 * count(once, "train", "ucc")
    assert count(thrice, "validation", "ucc") == count(once, "validation", "ucc")
    assert count(thrice, "train", "claimbuster") == count(once, "train", "claimbuster")
    with pytest.raises(ValueError, match="repeat must be a whole number"):
        build_table({"ucc": {"repeat": 0.5}}, data_dir=raw_dir)


@pytest.mark.parametrize("options, message", [
    ({"repeat": 0}, "repeat must be a whole number of at least 1"),
    ({"train_size": "all"}, "train_size must be a whole number"),
    ({"val_fraction": 1.5}, "val_fraction must be at least 0 and below 1"),
    ({"soft": True, "sharpen": 2}, "has no option 'sharpen'"),
])
def test_bad_source_options_fail_before_any_file_is_read(tmp_path: Path, options: dict, message: str) -> None:
    # The data directory is empty: a check made only after loading would fail on the missing files instead.
    with pytest.raises(ValueError, match=message):
        build_table({"claimbuster": {}, "ucc": options}, data_dir=tmp_path)


def test_liar_binary_mapping_and_official_splits(raw_dir: Path) -> None:
    df = load_source("liar", raw_dir)
    assert set(df["split"]) == {"train", "validation"}
    y = dict(zip(df[df["split"] == "train"]["text"], df[df["split"] == "train"]["misinformation"]))
    assert y == {"The moon is cheese.": 1.0, "Water is wet.": 0.0, "Taxes rose a bit.": 0.0, "Crime tripled.": 1.0}
    assert (df["hostility"] == MISSING).all()  # LIAR says nothing about hostility


def test_liar_ordinal_targets_keep_the_binary_split(raw_dir: Path) -> None:
    plain, graded = load_source("liar", raw_dir), load_source("liar", raw_dir, ordinal=True)
    y = dict(zip(graded["text"], graded["misinformation"]))
    # pants-fire > barely-true > half-true > true, and each stays on its side of 0.5.
    assert y["The moon is cheese."] > y["Crime tripled."] > 0.5 > y["Taxes rose a bit."] > y["Water is wet."]
    assert ((graded["misinformation"] >= 0.5) == (plain["misinformation"] >= 0.5)).all()


def test_ucc_soft_labels_are_the_share_of_raters(raw_dir: Path) -> None:
    plain = load_source("ucc", raw_dir).set_index("text")["hostility"]
    soft = load_source("ucc", raw_dir, soft=True).set_index("text")["hostility"]
    assert plain.to_dict() == {"You clowns are pathetic": 1.0, "Fair point on taxes": 0.0, "Thanks for the article": 0.0}
    assert soft.to_dict() == pytest.approx({"You clowns are pathetic": 0.8, "Fair point on taxes": 0.4, "Thanks for the article": 0.0})
    assert ((soft >= 0.5) == (plain >= 0.5)).all()  # the majority label, and so validation metrics, are unchanged


def test_kaggle_unescapes_comments(raw_dir: Path) -> None:
    df = load_source("kaggle_insults", raw_dir)
    assert set(df["text"]) == {"You are a fool indeed", "Nice point thanks"}
    assert (df["insult"] == df["hostility"]).all()


def test_toxic_spans_soft_labels_by_span_type(raw_dir: Path) -> None:
    df = load_source("toxic_spans", raw_dir).set_index("text")
    # Two of three raters marked an insult (one typed "Insu"); the third ticked "not toxic".
    assert df.loc["you idiot", "hostility"] == pytest.approx(2 / 3)
    assert df.loc["you idiot", "insult"] == pytest.approx(2 / 3)
    # Profanity alone is not hostility.
    assert df.loc["damn rain", "hostility"] == 0 and df.loc["damn rain", "profanity"] == pytest.approx(2 / 3)


def _label_file(path: Path, n: int = 80) -> Path:
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "hostility"])
        for i in range(n):
            hostile = i % 2 == 0
            word = rng.choice(["idiot", "moron", "fool"]) if hostile else rng.choice(["friend", "reader", "neighbour"])
            w.writerow([f"hello {word} number {i}", 1 if hostile else 0])
    return path


def test_train_rows_never_leak_into_validation(tmp_path: Path) -> None:
    a = _label_file(tmp_path / "a.csv")
    b = tmp_path / "b.csv"
    b.write_text(a.read_text())  # the same texts again, as a second source
    table = build_table({str(a): {"val_fraction": 0.3}, str(b): {"val_fraction": 0.0}})
    val_texts = set(table.loc[table["split"] == "validation", "text"])
    train_texts = table.loc[table["split"] == "train", "text"]
    assert val_texts and not set(train_texts) & val_texts
    assert train_texts.is_unique


def test_copies_that_differ_only_in_links_leave_training(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # OLID writes "URL" where TweetEval (the same tweets) writes nothing; the plain key check misses that.
    a = _label_file(tmp_path / "a.csv")
    table = build_table({str(a): {"val_fraction": 0.3}})
    val_texts = list(table.loc[table["split"] == "validation", "text"])
    b = tmp_path / "b.csv"
    b.write_text("text,hostility\n" + f"{val_texts[0]} URL,1\n{val_texts[1]} https://t.co/x1,0\nsomething new entirely,0\n")
    table = build_table({str(a): {"val_fraction": 0.3}, str(b): {"val_fraction": 0.0}})
    assert table.loc[table["source"] == str(b), "text"].tolist() == ["something new entirely"]
    assert "2 training rows left out" in capsys.readouterr().err
    assert leak_key("Gun control URL via @USER") == leak_key("Gun control via @user") != text_key("Gun control URL via @USER")


def _tiny_cfg(data: Path, **kw) -> TrainConfig:
    return TrainConfig(name="tiny", version="0.1.0", tiny_encoder=TINY_ENCODER, max_length=16, batch_size=8,
                       epochs=2, learning_rate=1e-3, checkpoint_every=4, seed=3, sources={str(data): {"val_fraction": 0.25}}, **kw)


def test_resume_after_kill_matches_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _label_file(tmp_path / "labels.csv")
    full = train_model(_tiny_cfg(data), tmp_path / "full", progress=False)

    calls = {"n": 0}
    real_step = torch.optim.AdamW.step

    def crashing_step(self, *a, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 11:  # after the step-8 checkpoint, before step 12's
            raise KeyboardInterrupt
        return real_step(self, *a, **kw)

    monkeypatch.setattr(torch.optim.AdamW, "step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        train_model(_tiny_cfg(data), tmp_path / "resumed", progress=False)
    assert not (tmp_path / "resumed" / "moderation.json").exists()  # no half-finished model is presented
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    with pytest.raises(InputError, match=r"written with other settings \(batch_size\)"):
        train_model(dataclasses.replace(_tiny_cfg(data), batch_size=4), tmp_path / "resumed", resume=True, progress=False)
    resumed = train_model(_tiny_cfg(data), tmp_path / "resumed", resume=True, progress=False)

    a, b = full.net.state_dict(), resumed.net.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_a_deadline_stops_at_a_checkpoint_and_resuming_gives_the_uninterrupted_model(tmp_path: Path) -> None:
    import time

    data = _label_file(tmp_path / "labels.csv")
    full = train_model(_tiny_cfg(data), tmp_path / "full", progress=False)
    out = tmp_path / "split"
    for step in (1, 2):  # a deadline already past: one more batch per call, then a checkpoint
        with pytest.raises(trainer_module.TimeLimitReached) as stop:
            train_model(_tiny_cfg(data), out, resume=step > 1, progress=False, deadline=time.monotonic() - 1)
        assert (stop.value.step, stop.value.path) == (step, out / "checkpoints" / "last.pt")
        assert torch.load(stop.value.path, weights_only=False)["step"] == step and not (out / "moderation.json").exists()
    resumed = train_model(_tiny_cfg(data), out, resume=True, progress=False)
    a, b = full.net.state_dict(), resumed.net.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_train_cli_time_limit_exits_3_and_resume_finishes_then_does_nothing(tmp_path: Path) -> None:
    data = _label_file(tmp_path / "labels.csv", n=120)
    cfg = tmp_path / "cfg.yaml"
    text = ("name: tiny\nversion: 0.2.0\nmax_length: 16\nbatch_size: 8\nepochs: 2\nlearning_rate: 2.0e-3\ncheckpoint_every: 5\n"
            f"tiny_encoder: {TINY_ENCODER}\nsources:\n  {data}: {{val_fraction: 0.25}}\n")
    cfg.write_text(text)
    out = tmp_path / "model"
    run = ["train", "--config", str(cfg), "--output", str(out), "--quiet"]
    stopped = CliRunner().invoke(app, [*run, "--time-limit", "0"])
    assert stopped.exit_code == 3 and "stopped after batch 1 of" in stopped.output and "rerun with --resume" in stopped.output
    assert not (out / "moderation.json").exists()
    finished = CliRunner().invoke(app, [*run, "--resume"])
    assert finished.exit_code == 0 and Moderator.load(out).name == "tiny@0.2.0", finished.output
    again = CliRunner().invoke(app, [*run, "--resume"])  # a rerun recipe passes finished stages
    assert again.exit_code == 0 and "nothing to resume" in again.output
    cfg.write_text(text.replace("learning_rate: 2.0e-3", "learning_rate: 1.0e-3"))
    other = CliRunner().invoke(app, [*run, "--resume"])
    assert other.exit_code == 2 and "other settings (learning_rate)" in other.output
    retrain = CliRunner().invoke(app, ["train", "--init-from", str(out), "--data", str(data), "--output", str(tmp_path / "r"),
                                       "--time-limit", "5"])
    assert retrain.exit_code == 2 and "--time-limit is for plain training" in retrain.output


@pytest.mark.parametrize("flags, precision", [("fpu sse2 avx2 fma", "fp32"), ("avx2 avx512f avx512_bf16", "bf16"),
                                              ("avx2 amx_bf16 amx_tile", "bf16"), ("fp asimd sve bf16", "bf16")])
def test_bf16_config_trains_in_bf16_only_where_the_cpu_has_bf16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture, flags: str, precision: str) -> None:
    monkeypatch.setattr(trainer_module, "cpu_info", lambda: ("Test CPU", frozenset(flags.split())))
    data = _label_file(tmp_path / "labels.csv")
    model = train_model(_tiny_cfg(data, bf16=True), tmp_path / "m", progress=False)
    assert model.meta["training"]["precision"] == precision and model.meta["training"]["cpu"] == "Test CPU"
    assert ("no bf16 instructions" in capsys.readouterr().err) == (precision == "fp32")
    assert f"({precision} on Test CPU)" in _training_time(model.meta)  # the card says what the minutes were spent on
    assert trainer_module.training_precision(False, frozenset(flags.split())) == "fp32"  # never asked: never bf16


def test_resume_without_a_checkpoint_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = _label_file(tmp_path / "labels.csv")
    train_model(_tiny_cfg(data), tmp_path / "fresh", resume=True, progress=False)
    assert "no checkpoint at" in capsys.readouterr().err


def test_train_cli_writes_a_loadable_calibrated_model(tmp_path: Path) -> None:
    data = _label_file(tmp_path / "labels.csv", n=120)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "name: tiny\nversion: 0.2.0\nmax_length: 16\nbatch_size: 8\nepochs: 4\nlearning_rate: 2.0e-3\ncheckpoint_every: 0\n"
        f"tiny_encoder: {TINY_ENCODER}\nsources:\n  {data}: {{val_fraction: 0.25}}\n"
    )
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--output", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    m = Moderator.load(out)
    assert m.name == "tiny@0.2.0" and m.labels == list(LABELS)
    p = m.predict_proba(["hello idiot number 999", "hello friend number 999"])[:, 0]
    assert p[0] > p[1]
    assert m.meta["training"]["rows_per_source"] and 0 < m.thresholds["hostility"] < 1
    # Models are immutable: a second run into the same folder is refused with one line.
    again = CliRunner().invoke(app, ["train", "--config", str(cfg), "--output", str(out), "--quiet"])
    assert again.exit_code == 2 and "immutable" in again.output


def test_train_cli_rejects_bad_config(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("epochz: 3\n")
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--output", str(tmp_path / "m")])
    assert result.exit_code == 2 and "unknown config keys: epochz" in result.output
    result = CliRunner().invoke(app, ["train", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "config not found" in result.output
    cfg.write_text("sources:\n  ucc: {repeat: 0}\n")
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--output", str(tmp_path / "m")])
    assert result.exit_code == 2 and "source 'ucc': repeat must be a whole number" in result.output


@pytest.mark.parametrize("text, message", [
    ("batch_size: 0\n", "batch_size must be at least 1, not 0"),
    ('batch_size: "16"\n', "batch_size must be a whole number, not '16'"),
    ("epochs: -1\n", "epochs must be above 0"),
    ("learning_rate: 1e-3\n", "write 1.0e-3"),
    ("dropout: 1.5\n", "dropout must be at least 0 and below 1"),
    ("label_weights: {hostilty: 1.0}\n", "unknown label 'hostilty'"),
    ("batch_size: [\n", "not valid YAML"),
    ("- a list\n", "a config is a mapping of keys to values, not list"),
    ("normalise: 1\n", "normalise must be true or false, not 1"),
    ("sources: {liar: {}}\nthreshold_caps: {misinfo: {max_flagged: 0.1, sources: [liar]}}\n", "unknown label 'misinfo'"),
    ("sources: {liar: {}}\nthreshold_caps: {misinformation: {max_flagged: 10, sources: [liar]}}\n",
     "max_flagged must be a share above 0 and at most 1, not 10"),
    ("sources: {liar: {}}\nthreshold_caps: {misinformation: {max_flagged: 0.1, sources: [constraint]}}\n",
     "sources must list sources of this config"),
    ("threshold_caps: {misinformation: {max_flagged: 0.1}}\n", "needs exactly max_flagged and sources"),
])
def test_train_cli_rejects_bad_values_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--output", str(tmp_path / "m")])
    assert result.exit_code == 2 and message in result.output, result.output


def test_train_cli_checks_sources_and_output_before_training(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"tiny_encoder: {TINY_ENCODER}\n")
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--output", str(tmp_path / "m")])
    assert result.exit_code == 2 and "the config lists no sources" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("text,hostility\nnot a number,maybe\n")
    cfg.write_text(f"tiny_encoder: {TINY_ENCODER}\nsources:\n  {bad}: {{}}\n")
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--output", str(tmp_path / "m")])
    assert result.exit_code == 2 and f"warning: 1 bad rows in {bad} left out" in result.output and f"{bad}: no usable rows" in result.output
    (tmp_path / "afile").write_text("x")
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--output", str(tmp_path / "afile" / "model")])
    assert result.exit_code == 2 and "is a file, not a folder" in result.output


def test_train_cli_names_a_missing_data_file(tmp_path: Path) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"tiny_encoder: {TINY_ENCODER}\nsources:\n  ucc: {{}}\n")
    result = CliRunner().invoke(app, ["train", "--config", str(cfg), "--data-dir", str(empty), "--output", str(tmp_path / "m")])
    assert result.exit_code == 2, result.output  # an uncaught exception would exit 1
    assert f"source 'ucc': {empty / 'ucc' / 'val.csv'} not found (data directory {empty}" in result.output


def test_train_layers_updates_only_the_top_of_the_encoder(tmp_path: Path) -> None:
    from training.trainer import Trainer, build_moderator

    data = _label_file(tmp_path / "labels.csv")
    cfg = dataclasses.replace(_tiny_cfg(data), train_layers=0, checkpoint_every=0)
    moderator = build_moderator(cfg, list(LABELS))
    before = {k: v.clone() for k, v in moderator.net.state_dict().items()}
    table = build_table(cfg.sources)
    Trainer(cfg, tmp_path / "out", progress=False).fit(moderator, table[table["split"] == "train"].reset_index(drop=True))
    after = moderator.net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"classifier.weight", "classifier.bias"}
    assert all(p.requires_grad for p in moderator.net.parameters())  # later training is not silently frozen
    with pytest.raises(ValueError, match="train_layers"):
        Trainer(dataclasses.replace(cfg, train_layers=5), tmp_path / "x", progress=False).fit(moderator, table)


def test_bf16_training_learns_and_keeps_fp32_weights(tmp_path: Path) -> None:
    data = _label_file(tmp_path / "labels.csv", n=120)
    cfg = dataclasses.replace(_tiny_cfg(data), bf16=True, epochs=4, learning_rate=2e-3, checkpoint_every=0)
    m = train_model(cfg, tmp_path / "bf16", progress=False)
    assert all(p.dtype == torch.float32 for p in m.net.parameters())  # autocast only: master weights stay fp32
    p = Moderator.load(tmp_path / "bf16", backend="torch").predict_proba(["hello idiot number 999", "hello friend number 999"])[:, 0]
    assert p[0] > p[1]


def test_layer_lr_decay_scales_each_layer_below_the_top(tmp_path: Path) -> None:
    from training.trainer import build_moderator, param_groups

    data = _label_file(tmp_path / "labels.csv")
    cfg = dataclasses.replace(_tiny_cfg(data), tiny_encoder={**TINY_ENCODER, "num_hidden_layers": 3})
    net = build_moderator(cfg, list(LABELS)).net
    rate = {id(p): g["lr"] for g in param_groups(net, 1.0, 0.01, layer_lr_decay=0.5) for p in g["params"]}
    by_name = {name: rate[id(p)] for name, p in net.named_parameters()}
    assert by_name["classifier.weight"] == 1.0
    assert by_name["encoder.encoder.layer.2.output.dense.weight"] == 1.0
    assert by_name["encoder.encoder.layer.1.output.dense.weight"] == 0.5
    assert by_name["encoder.encoder.layer.0.output.dense.weight"] == 0.25
    assert by_name["encoder.embeddings.word_embeddings.weight"] == 0.125
    # Without the option: one rate, two groups (weight decay on or off), as before the option existed.
    plain = param_groups(net, 1.0, 0.01)
    assert [(g["lr"], g["weight_decay"]) for g in plain] == [(1.0, 0.01), (1.0, 0.0)]
    assert sum(len(g["params"]) for g in plain) == len(list(net.parameters()))


def test_domain_adaptive_pretraining_learns_and_saves_a_base_encoder(tmp_path: Path) -> None:
    from transformers import AutoTokenizer, BertConfig, BertModel

    from training.dapt import PretrainArgs, corpus, pretrain
    from training.trainer import resolve_base

    base = tmp_path / "tiny-base"
    torch.manual_seed(0)
    BertModel(BertConfig(**TINY_ENCODER)).save_pretrained(base)
    AutoTokenizer.from_pretrained(resolve_base("all-MiniLM-L6-v2")[0]).save_pretrained(base)
    data = _label_file(tmp_path / "labels.csv", n=40)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"sources:\n  {data}: {{val_fraction: 0.25}}\n")
    texts = corpus(cfg)
    val = build_table({str(data): {"val_fraction": 0.25}})
    assert len(texts) == int((val["split"] == "train").sum())
    assert not set(texts) & set(val.loc[val["split"] == "validation", "text"])  # validation text never reaches the encoder

    args = PretrainArgs(base_model=str(base), batch_size=8, epochs=12, learning_rate=3e-3, head_learning_rate=3e-3,
                        head_steps=6, mask_probability=0.3, bf16=False, seed=1)
    record = pretrain(texts, tmp_path / "adapted", args, progress=False)
    losses = [h["loss"] for h in record["history"]]
    assert losses[-1] < losses[0] - 0.5, losses
    adapted = BertModel.from_pretrained(tmp_path / "adapted")
    before = BertModel.from_pretrained(base)
    assert not torch.equal(adapted.encoder.layer[0].attention.self.query.weight, before.encoder.layer[0].attention.self.query.weight)
    # The adapted folder is a base a config can name: fine-tuning starts from it.
    m = train_model(dataclasses.replace(_tiny_cfg(data), tiny_encoder=None, base_model=str(tmp_path / "adapted")), tmp_path / "m", progress=False)
    assert m.meta["base_model"]["name"] == str(tmp_path / "adapted") and len(m.meta["base_model"]["sha256"]) == 64


def test_joined_comments_take_the_larger_label_and_only_training_text(tmp_path: Path) -> None:
    from training.augment import SOURCE, check_concat, concatenations

    data = _label_file(tmp_path / "labels.csv", n=80)
    table = build_table({str(data): {"val_fraction": 0.25}})
    train = table[table["split"] == "train"].reset_index(drop=True)
    spec = {"rows": 200, "carriers": [str(data)], "inserts": [str(data)], "seed": 1}
    joined = concatenations(train, spec)
    assert len(joined) == 200 and set(joined["source"]) == {SOURCE} and set(joined["split"]) == {"train"}
    assert list(joined.columns) == list(train.columns)
    labels = dict(zip(train["text"], train["hostility"]))
    val_texts = set(table.loc[table["split"] == "validation", "text"])
    pairs = {f"{a} {b}": (a, b) for a in labels for b in labels}
    for text, hostility in zip(joined["text"], joined["hostility"]):
        parts = pairs[text]  # two training comments joined (validation comments are never in labels)
        assert not set(parts) & val_texts
        assert hostility == max(labels[t] for t in parts)  # hostile if either part is
        assert min(labels[t] for t in parts) == 0  # the carrier is benign
    assert joined["hostility"].mean() == pytest.approx(0.5)  # hostile_share
    assert (joined["misinformation"] == MISSING).all()  # unknown in either part: unknown
    assert joined.equals(concatenations(train, spec))  # reproducible from the seed
    with pytest.raises(ValueError, match="concat: unknown inserts 'olid'"):
        check_concat({**spec, "inserts": ["olid"]}, {str(data): {}})
    with pytest.raises(ValueError, match="no benign carriers of at most 5 characters"):
        concatenations(train, {**spec, "max_chars": 5})
    cfg = _tiny_cfg(data, concat={"rows": 40, "carriers": [str(data)], "inserts": [str(data)]})
    model = train_model(cfg, tmp_path / "m", progress=False)
    assert model.meta["training"]["rows_per_source"][SOURCE] == 40
