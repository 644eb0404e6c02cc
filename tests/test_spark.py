"""moderation.spark on local[2] with the tiny model: equal to Moderator.score, order kept, bad rows reported.

Needs the ``spark`` extra and Java 17+ (``.ci/run`` installs both); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[spark]')")


def _java_ok() -> bool:
    java = shutil.which("java") or (os.environ.get("JAVA_HOME") and str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    if not java or not Path(java).exists():
        return False
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    major = out.split('"')[1].split(".")[0] if '"' in out else "0"
    return major.isdigit() and int(major) >= 17


if not _java_ok():
    pytest.skip("Spark 4 needs Java 17 or newer on PATH or in JAVA_HOME", allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402

from moderation.cli import app  # noqa: E402
from moderation.errors import InputError  # noqa: E402
from moderation.model import Moderator  # noqa: E402
from moderation.spark import score_dataframe, spread  # noqa: E402
from moderation.types import MAX_CHARS  # noqa: E402

TEXTS = [
    "Thanks for the article, very informative.",
    "You people are vermin and should be thrown out.",
    "Drinking bleach cures COVID, the doctors are hiding it.",
    "ok",
    "This is a long comment that goes on. " * 60,  # far beyond the tiny model's 64 tokens
    "x" * (MAX_CHARS + 50),  # cut at MAX_CHARS and marked truncated, as Moderator does
    "Ünïcödé and emoji 😀 are fine too.",
]


@pytest.fixture(scope="session")
def spark():
    """One local[2] session for the module: small shuffles, no UI, loopback only, quiet logs."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("moderation-tests")
               .config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false").config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def reference(tiny_model_dir: Path) -> Moderator:
    return Moderator.load(tiny_model_dir, backend="torch")


def test_scores_equal_moderator_score(spark, tiny_model_dir, reference):
    df = spark.createDataFrame([(f"c{i}", t) for i, t in enumerate(TEXTS)], "id string, text string").repartition(3)
    rows = {r["id"]: r for r in score_dataframe(df, model=str(tiny_model_dir), backend="torch").collect()}
    expected = reference.score(TEXTS, ids=[f"c{i}" for i in range(len(TEXTS))])
    assert len(rows) == len(TEXTS)
    for want in expected:
        got = rows[want.id]
        assert got["error"] is None
        assert got["scores"].asDict() == pytest.approx(want.scores, abs=1e-5)
        assert list(got["scores"].asDict()) == reference.labels
        assert got["labels"] == want.labels and got["model"] == want.model and got["truncated"] == want.truncated
    assert rows["c5"]["truncated"] is True


def test_order_ids_and_columns_kept_over_partitions_and_batches(spark, tiny_model_dir, reference):
    texts = [f"comment number {i}: " + "word " * (i % 17) for i in range(60)]
    rows = spark.sparkContext.parallelize([(i, f"r{i}", t, i * 0.5) for i, t in enumerate(texts)], 4)  # 4 partitions of 15, in order
    df = spark.createDataFrame(rows, "n int, id string, text string, extra double")
    out = score_dataframe(df, model=str(tiny_model_dir), backend="torch", arrow_batch_rows=7)  # several Arrow batches per partition
    assert out.rdd.getNumPartitions() == 4
    assert out.columns == ["n", "id", "text", "extra", "scores", "labels", "model", "truncated", "error"]
    rows = out.collect()
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(60)]
    assert all(r["extra"] == r["n"] * 0.5 and r["text"] == texts[r["n"]] for r in rows)
    expected = reference.score(texts)
    assert all(r["scores"].asDict() == pytest.approx(expected[r["n"]].scores, abs=1e-5) for r in rows)


def test_spread_gives_every_core_an_ordered_slice(spark):
    df = spark.createDataFrame([(f"r{i}", i) for i in range(50)], "id string, n int").coalesce(1)
    out = spread(df, 2, slices_per_core=3)
    assert out.rdd.getNumPartitions() == 6
    parts = out.rdd.glom().map(lambda rows: [r["n"] for r in rows]).collect()
    assert all(parts) and sum(parts, []) == list(range(50))  # every slice used, contiguous, in order
    assert out.columns == ["id", "n"]
    assert spread(out, 2, slices_per_core=3) is out  # enough partitions already: untouched
    uneven = spark.createDataFrame([(f"r{i}", i) for i in range(50)], "id string, n int").repartitionByRange(2, "n")
    assert spread(uneven, 2, slices_per_core=3).rdd.getNumPartitions() == 6  # two splits, fewer than the slices wanted


def test_cli_engine_spark_one_parquet_file_uses_both_cores_in_order(spark, tiny_model_dir, tmp_path):
    texts = [f"comment {i}: " + "word " * (i % 13) for i in range(40)]
    import pyarrow as pa
    pq.write_table(pa.table({"id": [f"c{i}" for i in range(40)], "text": texts}), tmp_path / "one.parquet")  # one row group
    result = CliRunner().invoke(app, ["score", str(tmp_path / "one.parquet"), "--output", str(tmp_path / "out.parquet"),
                                      "--engine", "spark", "--master", "local[2]", "--model", str(tiny_model_dir), "--backend", "torch"])
    assert result.exit_code == 0, result.output
    parts = sorted((tmp_path / "out.parquet").glob("part-*.parquet"))
    assert len(parts) > 1  # spread over the session's two cores
    assert [r["id"] for p in parts for r in pq.read_table(p).to_pylist()] == [f"c{i}" for i in range(40)]


def test_bad_rows_get_null_scores_and_an_error(spark, tiny_model_dir):
    df = spark.createDataFrame([("a", "A fine comment."), ("b", None), ("c", ""), ("d", "  \n\t"), ("e", "Another one.")], "id string, text string")
    rows = {r["id"]: r for r in score_dataframe(df, model=str(tiny_model_dir), backend="torch").collect()}
    assert rows["a"]["error"] is None and rows["e"]["error"] is None and rows["a"]["scores"] is not None
    assert rows["b"]["error"] == "missing text field 'text'"
    assert rows["c"]["error"] == rows["d"]["error"] == "empty text"
    for key in "bcd":
        assert rows[key]["scores"] is None and rows[key]["labels"] is None and rows[key]["model"] is None


def test_non_string_and_binary_text(spark, tiny_model_dir, reference):
    numbers = spark.createDataFrame([(1, 10), (2, None)], "id int, body int")
    rows = score_dataframe(numbers, "body", model=str(tiny_model_dir), backend="torch").orderBy("id").collect()
    assert re.fullmatch(r"text field 'body' is (int|int64), not a string", rows[0]["error"]) and rows[0]["scores"] is None
    assert rows[1]["error"] == "missing text field 'body'"
    raw = spark.createDataFrame([(1, "Plain UTF-8 text.".encode()), (2, b"bad \xff byte")], "id int, text binary")
    rows = score_dataframe(raw, model=str(tiny_model_dir), backend="torch").orderBy("id").collect()
    assert rows[0]["scores"].asDict() == pytest.approx(reference.score_one("Plain UTF-8 text.").scores, abs=1e-5)
    assert rows[1]["error"].startswith("invalid UTF-8 at byte 4") and rows[1]["scores"] is None


def test_missing_text_column_is_one_clear_error(spark, tiny_model_dir):
    df = spark.createDataFrame([("a", "hi")], "id string, body string")
    with pytest.raises(InputError, match=r"unknown field 'text' \(available: id, body\)"):
        score_dataframe(df, model=str(tiny_model_dir))
    with pytest.raises(InputError, match="unknown label"):
        score_dataframe(df, "body", model=str(tiny_model_dir), labels=["hostility", "spam"])


def test_label_subset(spark, tiny_model_dir, reference):
    df = spark.createDataFrame([("a", TEXTS[1])], "id string, text string")
    row = score_dataframe(df, model=str(tiny_model_dir), labels=["insult", "hostility"], backend="torch").first()
    want = reference.score_one(TEXTS[1])
    assert row["scores"].asDict() == pytest.approx({"insult": want.scores["insult"], "hostility": want.scores["hostility"]}, abs=1e-5)
    assert row["labels"] == [l for l in want.labels if l in ("insult", "hostility")]


def test_cli_engine_spark_matches_local_parquet(spark, tiny_model_dir, tmp_path):
    rows = [{"id": f"c{i}", "text": t, "site": "example.org"} for i, t in enumerate(TEXTS[:5])]
    rows.insert(2, {"id": "bad", "text": "", "site": "example.org"})
    folder = tmp_path / "in"
    folder.mkdir()
    for part in (0, 1):  # a folder of two files
        (folder / f"part{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[part * 3 : part * 3 + 3]))
    runner = CliRunner()
    common = ["--model", str(tiny_model_dir), "--backend", "torch", "--keep-fields", "site"]
    local = runner.invoke(app, ["score", *map(str, sorted(folder.iterdir())), "--output", str(tmp_path / "local.parquet"), *common])
    assert local.exit_code == 0, local.output
    result = runner.invoke(app, ["score", str(folder), "--output", str(tmp_path / "spark.parquet"), "--engine", "spark", "--master", "local[2]", *common])
    assert result.exit_code == 0, result.output
    assert "scored 5 rows, rejected 1" in result.output
    got = pq.read_table(tmp_path / "spark.parquet")
    want = pq.read_table(tmp_path / "local.parquet")
    assert got.schema.names == want.schema.names == ["id", "scores", "labels", "model", "site", "truncated"]
    got_rows, want_rows = got.to_pylist(), want.to_pylist()
    assert [r["id"] for r in got_rows] == [r["id"] for r in want_rows] == ["c0", "c1", "c2", "c3", "c4"]
    for g, w in zip(got_rows, want_rows):
        assert g["scores"] == pytest.approx(w["scores"], abs=1e-5)
        assert (g["labels"], g["model"], g["site"], g["truncated"]) == (w["labels"], w["model"], w["site"], w["truncated"])
    errors = [json.loads(line) for p in sorted((tmp_path / "spark.parquet.errors").glob("*.json")) for line in p.read_text().splitlines()]
    assert [(e["id"], e["reason"]) for e in errors] == [("bad", "empty text")]


def test_cli_engine_spark_csv_glob(spark, tiny_model_dir, tmp_path):
    (tmp_path / "a.csv").write_text('id,text\n1,"First line\nsecond ""quoted"" line"\n2,Short one\n', encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,text\n3,Third comment\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["score", str(tmp_path / "*.csv"), "--output", str(tmp_path / "out.parquet"), "--engine", "spark",
                                      "--model", str(tiny_model_dir), "--backend", "torch", "--quiet"])
    assert result.exit_code == 0, result.output
    got = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["id"] for r in got] == ["1", "2", "3"]
    reference = Moderator.load(tiny_model_dir, backend="torch").score(['First line\nsecond "quoted" line', "Short one", "Third comment"])
    assert all(g["scores"] == pytest.approx(w.scores, abs=1e-5) for g, w in zip(got, reference))


@pytest.mark.parametrize(("args", "message"), [
    (["page.txt"], "for page dumps run moderation extract first"),
    (["-"], "not - (stdin)"),
    (["in.jsonl", "--resume"], "--resume is for the local engine"),
    (["in.jsonl", "--text-field", "body"], "unknown field 'body' (available: id, text)"),
])
def test_cli_engine_spark_usage_errors(spark, tiny_model_dir, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    Path("page.txt").write_text("A page.\n")
    Path("in.jsonl").write_text('{"id": 1, "text": "hi"}\n')
    result = CliRunner().invoke(app, ["score", *args, "--output", "out.parquet", "--engine", "spark", "--model", str(tiny_model_dir)])
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last and "Traceback" not in result.output
