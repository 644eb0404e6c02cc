"""``moderation score`` end to end on a tiny model: order, resume, bad rows, errors; the Python API."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from moderation import scoring
from moderation.cli import app
from moderation.types import MAX_CHARS

SEED_PAGE = Path(__file__).parent / "fixtures" / "seeds" / "000_81f09624bfe65d55.txt"


def texts(n: int) -> list[str]:
    """Comments of very different lengths, so length-sorted batches really reorder them."""
    words = "the council vote was rigged and you are all liars thanks for the article".split()
    return [" ".join(words[(i * 7 + j) % len(words)] for j in range(1 + (i * 37) % 90)) for i in range(n)]


def write_jsonl(path: Path, objs: list) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def invoke(model: Path, *args: str):
    result = CliRunner().invoke(app, ["score", *args, "--model", str(model), "--quiet"])
    assert "Traceback" not in result.output
    return result


def assert_one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr


@pytest.fixture(scope="module")
def moderator(tiny_model_dir: Path):
    from moderation.model import Moderator

    return Moderator.load(tiny_model_dir)


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many chunks from few rows: exercises window boundaries and resume quickly."""
    monkeypatch.setattr(scoring, "WINDOW_ROWS", 50)


# --- order and content --------------------------------------------------------------------


def test_order_preserved_and_scores_match_api(tmp_path: Path, tiny_model_dir: Path, moderator, small_windows) -> None:
    items = texts(230)
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": f"c{i}", "text": t} for i, t in enumerate(items)])
    out = tmp_path / "out.jsonl"
    result = invoke(tiny_model_dir, str(src), "-o", str(out), "--batch-size", "8")
    assert result.exit_code == 0, result.output
    records = lines(out)
    assert [r["id"] for r in records] == [f"c{i}" for i in range(len(items))]
    singles = [moderator.score_one(t) for t in items[:: 23]]  # one at a time: no batching involved
    for record, single in zip(records[:: 23], singles):
        assert record["labels"] == single.labels
        assert max(abs(record["scores"][k] - single.scores[k]) for k in single.scores) <= 2e-4
    assert set(records[0]) == {"id", "scores", "labels", "model"} and records[0]["model"] == moderator.name
    assert not (tmp_path / "out.jsonl.partial").exists() and not (tmp_path / "out.jsonl.errors.jsonl").exists()


def test_summary_counts(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in texts(5)] + [{"text": ""}])
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "o.jsonl"), "-m", str(tiny_model_dir)])
    assert result.exit_code == 0
    assert "scored 5 rows, rejected 1" in result.stderr and "comments/s" in result.stderr and "flagged: hostility" in result.stderr


# --- resume -------------------------------------------------------------------------------


def kill_after(monkeypatch: pytest.MonkeyPatch, saves: int) -> None:
    """Die like a killed process on the n-th journal save: chunk file written, journal not."""
    real = scoring.Journal.save
    calls = {"n": 0}

    def save(self, directory: Path) -> None:
        calls["n"] += 1
        if calls["n"] == saves:
            raise SystemExit(137)
        real(self, directory)

    monkeypatch.setattr(scoring.Journal, "save", save)


def test_resume_after_kill_gives_exactly_the_uninterrupted_output(tmp_path: Path, tiny_model_dir: Path, small_windows, monkeypatch) -> None:
    objs = [{"id": i, "text": t} for i, t in enumerate(texts(260))]
    objs[120] = {"id": 120, "text": ""}  # a rejected row inside a resumed chunk
    src = write_jsonl(tmp_path / "in.jsonl", objs)
    full, out = tmp_path / "full.jsonl", tmp_path / "out.jsonl"
    assert invoke(tiny_model_dir, str(src), "-o", str(full)).exit_code == 0

    with monkeypatch.context() as m:
        kill_after(m, saves=4)  # 1 initial save + 2 chunks committed, the 3rd chunk's journal lost
        killed = invoke(tiny_model_dir, str(src), "-o", str(out))
    assert killed.exit_code == 137
    assert not out.exists(), "a partial result must never look complete"
    assert json.loads((tmp_path / "out.jsonl.partial" / "journal.json").read_text())["rows_read"] == 100

    again = invoke(tiny_model_dir, str(src), "-o", str(out))
    assert_one_line_error(again, "--resume")
    resumed = invoke(tiny_model_dir, str(src), "-o", str(out), "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert out.read_text() == full.read_text()
    assert lines(tmp_path / "out.jsonl.errors.jsonl") == lines(tmp_path / "full.jsonl.errors.jsonl")
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_resume_refuses_changed_input(tmp_path: Path, tiny_model_dir: Path, small_windows, monkeypatch) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in texts(120)])
    out = tmp_path / "out.csv"
    with monkeypatch.context() as m:
        kill_after(m, saves=3)
        assert invoke(tiny_model_dir, str(src), "-o", str(out)).exit_code == 137
    write_jsonl(src, [{"text": t} for t in texts(121)])
    assert_one_line_error(invoke(tiny_model_dir, str(src), "-o", str(out), "--resume"), "cannot resume")


def test_resume_csv_and_parquet_have_one_header(tmp_path: Path, tiny_model_dir: Path, small_windows, monkeypatch) -> None:
    import pyarrow.parquet as pq

    src = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts(140))])
    for name in ("out.csv", "out.parquet"):
        out = tmp_path / name
        with monkeypatch.context() as m:
            kill_after(m, saves=3)
            assert invoke(tiny_model_dir, str(src), "-o", str(out)).exit_code == 137
        assert invoke(tiny_model_dir, str(src), "-o", str(out), "--resume").exit_code == 0
    csv_lines = (tmp_path / "out.csv").read_text().splitlines()
    assert len(csv_lines) == 141 and csv_lines[0].startswith("id,scores.hostility")
    assert pq.read_table(tmp_path / "out.parquet").column("id").to_pylist() == [str(i) for i in range(140)]


# --- bad input ----------------------------------------------------------------------------


def test_every_bad_row_is_reported_and_good_rows_scored(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = tmp_path / "in.jsonl"
    good = json.dumps({"id": "ok", "text": "fine comment"}).encode()
    src.write_bytes(b"\n".join([
        good,
        b'{"id": "badjson", "text": ',
        b'{"id": "missing"}',
        b'{"id": "number", "text": 42}',
        b'{"id": "empty", "text": ""}',
        json.dumps({"id": "huge", "text": "a" * (MAX_CHARS + 5)}).encode(),
        b'{"id": "utf8", "text": "caf\xe9"}',
        good.replace(b'"ok"', b'"ok2"'),
    ]) + b"\n")
    out = tmp_path / "out.jsonl"
    result = invoke(tiny_model_dir, str(src), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert [(r["id"], r.get("truncated")) for r in lines(out)] == [("ok", None), ("huge", True), ("ok2", None)]
    errors = lines(tmp_path / "out.jsonl.errors.jsonl")
    assert [(e["line"], e["id"]) for e in errors] == [(2, 2), (3, "missing"), (4, "number"), (5, "empty"), (7, 7)]
    reasons = [e["reason"] for e in errors]
    assert reasons[0].startswith("malformed JSON") and reasons[1].startswith("missing text")
    assert "not a string" in reasons[2] and reasons[3] == "empty text" and reasons[4].startswith("invalid UTF-8")
    assert invoke(tiny_model_dir, str(src), "-o", str(out), "--strict").exit_code == 1


def test_bad_csv_rows(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(b'id,text\na,fine\nb,"broken"quote\nc,x,y\nd,caf\xe9\ne,\nf,also fine\n')
    out = tmp_path / "out.jsonl"
    assert invoke(tiny_model_dir, str(src), "-o", str(out)).exit_code == 0
    assert [r["id"] for r in lines(out)] == ["a", "f"]
    errors = lines(tmp_path / "out.jsonl.errors.jsonl")
    assert [(e["line"], e["reason"].split(":")[0]) for e in errors] == [
        (3, "malformed CSV row"), (4, "malformed CSV row"), (5, "invalid UTF-8 at byte 5 of the row"), (6, "empty text")]


def test_nothing_readable_exits_2(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("garbage\n{broken\n")
    result = invoke(tiny_model_dir, str(src), "-o", str(tmp_path / "out.jsonl"))
    assert_one_line_error(result, "nothing could be read")
    assert len(lines(tmp_path / "out.jsonl.errors.jsonl")) == 2


# --- user mistakes: one line, exit 2, no traceback ----------------------------------------


def test_unknown_field(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"body": "x", "author": "a"}])
    assert_one_line_error(invoke(tiny_model_dir, str(src), "-o", str(tmp_path / "o.jsonl")), "'text'", "available: body, author")
    result = invoke(tiny_model_dir, str(src), "-o", str(tmp_path / "o.jsonl"), "--text-field", "body", "--keep-fields", "authr")
    assert_one_line_error(result, "'authr'")
    assert not (tmp_path / "o.jsonl.partial").exists()


def test_unreadable_inputs(tmp_path: Path, tiny_model_dir: Path) -> None:
    assert_one_line_error(invoke(tiny_model_dir, str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o.jsonl")), "nope.jsonl: no such file")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    assert_one_line_error(invoke(tiny_model_dir, str(bad), "-o", str(tmp_path / "o.jsonl")), "not a readable Parquet file")
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    assert_one_line_error(invoke(tiny_model_dir, str(src), "-o", str(src / "o.jsonl")), "in.jsonl is not a folder")


def test_missing_model(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", str(tmp_path / "nomodel")])
    assert_one_line_error(result, "no model at")


@pytest.mark.parametrize("damage", ["truncated weights", "labels not names"])
def test_corrupt_model_is_one_line(tmp_path: Path, tiny_model_dir: Path, damage: str) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    for f in broken.iterdir():
        f.chmod(0o644)
    if damage == "truncated weights":
        weights = broken / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    else:
        meta = json.loads((broken / "moderation.json").read_text())
        (broken / "moderation.json").write_text(json.dumps({**meta, "labels": [1, 2]}))
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", str(broken)])
    assert_one_line_error(result, "incomplete or corrupt" if damage == "truncated weights" else "no list of label names")


def test_help_has_examples() -> None:
    result = CliRunner().invoke(app, ["score", "--help"])
    assert result.exit_code == 0 and "Examples" in result.output and "--resume" in result.output


# --- Python API ---------------------------------------------------------------------------


def test_python_api(moderator) -> None:
    items = texts(40)
    batch = moderator.score(items, ids=[str(i) for i in range(40)])
    assert [s.id for s in batch] == [str(i) for i in range(40)]
    one = moderator.score_one(items[7])
    assert one.scores == batch[7].scores and one.labels == batch[7].labels
    streamed = list(moderator.stream(iter(items), batch_size=16))
    assert [s.scores for s in streamed] == [s.scores for s in batch]
    assert all(set(s.scores) == set(moderator.labels) for s in batch)
    assert moderator.score_one("x" * (MAX_CHARS + 1)).truncated
    doc, scores = moderator.score_page(SEED_PAGE.read_text(encoding="utf-8"))
    assert len(scores) == len(doc.comments) and [s.id for s in scores] == [c.id for c in doc.comments]


def test_long_texts_are_read_whole_in_windows(moderator) -> None:
    from moderation import model as model_module

    words = " ".join(f"w{i}" for i in range(400))  # several windows at the tiny model's 64 tokens
    ids, owner, cut = moderator._windows(["short text", words])
    assert owner.tolist().count(0) == 1 and owner.tolist().count(1) > 3 and not cut.any()
    assert all(len(x) <= moderator.max_length for x in ids)
    # Each label takes its maximum over the windows, which are scored as texts of their own.
    import torch

    with torch.inference_mode():
        single = [moderator._forward(np.array([x]), np.ones((1, len(x)), dtype=np.int64))[0] for x, o in zip(ids, owner) if o == 1]
    whole = moderator.logits(["short text", words])[1]
    np.testing.assert_allclose(whole, np.max(single, axis=0), atol=1e-5)
    assert (np.ptp(single, axis=0) > 1e-3).any()  # the windows really differ
    assert not moderator.score_one(words).truncated
    limited = model_module.MAX_WINDOWS
    try:
        model_module.MAX_WINDOWS = 2  # over the cap: only the first windows are read, and it says so
        assert moderator.score_one(words).truncated and not moderator.score_one("short text").truncated
        assert moderator._windows([words])[1].tolist() == [0, 0]
    finally:
        model_module.MAX_WINDOWS = limited


def test_python_api_names_bad_arguments(moderator) -> None:
    with pytest.raises(TypeError, match="not one string"):
        moderator.score("hello")  # would otherwise score each character
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        moderator.predict_proba(["fine", None])
    with pytest.raises(ValueError, match=r"texts\[0\] is not valid Unicode"):
        moderator.score_one("bad \udc00")
    with pytest.raises(ValueError, match="got 1 ids for 2 texts"):
        moderator.score(["a", "b"], ids=["x"])


def test_threads_give_the_same_results_as_sequential(moderator) -> None:
    items = texts(120)
    expected = [s.scores for s in moderator.score(items)]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            results[k] = [s.scores for s in moderator.score(items[k::3] + items[: k])]
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k, got in results.items():
        assert got == [expected[i] for i in list(range(k, 120, 3)) + list(range(k))]


def test_import_moderation_stays_light() -> None:
    code = ("import sys, moderation, moderation.cli, moderation.io, moderation.scoring; "
            "heavy = [m for m in ('torch', 'transformers', 'training', 'datasets', 'pandas') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_withheld_labels_leave_scores_and_output(tmp_path: Path, tiny_model_dir: Path) -> None:
    import shutil

    from moderation.model import Moderator

    model_dir = tmp_path / "withheld"
    shutil.copytree(tiny_model_dir, model_dir)
    meta = json.loads((model_dir / "moderation.json").read_text())
    meta["withheld_labels"] = {"threat": "validation ROC-AUC 0.700 < 0.85"}
    (model_dir / "moderation.json").write_text(json.dumps(meta))
    m = Moderator.load(model_dir)
    assert m.emitted_labels == [l for l in m.labels if l != "threat"] and m.predict_proba(["hi"]).shape == (1, len(m.labels))
    scored = m.score_one("I will find you.")
    assert "threat" not in scored.scores and "threat" not in scored.labels and len(scored.scores) == len(m.labels) - 1
    assert m.with_backend("bf16").withheld == m.withheld
    result = invoke(model_dir, str(write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "hi"}])),
                    "--output", str(tmp_path / "out.csv"))
    assert result.exit_code == 0, result.output
    header = (tmp_path / "out.csv").read_text().splitlines()[0]
    assert "scores.hostility" in header and "scores.threat" not in header
    m.save(tmp_path / "saved")
    assert json.loads((tmp_path / "saved" / "moderation.json").read_text())["withheld_labels"] == meta["withheld_labels"]
