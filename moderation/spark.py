"""Scoring on Apache Spark: a DataFrame column scored by a model folder, on every executor.

``score_dataframe`` adds ``scores`` (a struct, one field per label), ``labels``, ``model``,
``truncated`` and ``error`` to a DataFrame. The work is an iterator ``pandas_udf``: each
Python worker loads the model once (``executor_model``, cached for the life of the
process, which Spark reuses across tasks) and calls ``Moderator.score`` on each Arrow
batch, so results are those of ``Moderator.score`` itself. Bad rows (null, empty or
non-string text, invalid UTF-8 in binary text) get null scores and a reason in ``error``.

``score_files`` is ``moderation score --engine spark``: tables in, Parquet partitions out.
Needs the ``spark`` extra (pyspark 4) and Java 17 or newer.
"""

from __future__ import annotations

import functools
import glob
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark import SparkFiles, TaskContext
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from moderation.errors import InputError, ModelError
from moderation.io import RESERVED, TABLE_FORMATS, Fields, _decode, text_problem
from moderation.model import META_FILE, Moderator, model_dir, read_meta, resolve_backend

#: Columns ``score_dataframe`` adds (an input column with one of these names is refused).
OUTPUT_COLUMNS = ("scores", "labels", "model", "truncated", "error")
#: Spark's setting for rows per Arrow batch: one batch is one ``Moderator.score`` call,
#: sorted by length inside, as a window of the local pipeline is.
ARROW_BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"
#: Slices per core when ``spread`` cuts one input split into ordered pieces (see there).
SLICES_PER_CORE = 4
#: Input formats Spark reads for ``--engine spark`` (by file extension, ``.gz`` allowed).
SPARK_FORMATS = ("parquet", "jsonl", "csv", "tsv")

_MODELS: dict[tuple[str, str], Moderator] = {}  # per Python worker process: (model, backend) -> loaded model


def locate_model(ref: str) -> Path:
    """The model folder ``ref`` names here: a path (shared storage, or unpacked by ``--archives``
    into the working directory), else a file or archive shipped with ``SparkContext.addFile/addArchive``."""
    candidates = [Path(ref)]
    try:
        candidates.append(Path(SparkFiles.get(ref)))
    except Exception:  # no SparkContext / SparkFiles root in this process
        pass
    for path in candidates:
        if (path / META_FILE).is_file():  # follows a registry pointer such as models/default
            return model_dir(path)
    raise ModelError(f"no model at {ref!r} on {os.uname().nodename} (cwd {os.getcwd()}): "
                     f"not a folder holding {META_FILE}, nor a file shipped with --archives/SparkFiles")


def executor_model(ref: str, backend: str) -> Moderator:
    """The model, loaded once per Python worker process and reused by every later batch and task."""
    key = (ref, backend)
    if key not in _MODELS:
        _MODELS[key] = Moderator.load(locate_model(ref), backend=backend)
    return _MODELS[key]


def _task_threads() -> int:
    """Torch threads for this task: the cores Spark gave it (``spark.task.cpus``), not every core of the host."""
    context = TaskContext.get()
    return max(1, context.cpus()) if context is not None else (os.cpu_count() or 1)


def _missing(value: Any) -> bool:
    """Null as pandas shows it in an Arrow batch (None, NaN or pd.NA, by dtype)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _checked(value: Any, name: str) -> tuple[str | None, str | None]:
    """(text to score, None) or (None, reason it is rejected); binary text must be UTF-8."""
    if _missing(value):
        value = None
    elif isinstance(value, (bytes, bytearray)):
        value, reason = _decode(bytes(value))
        if reason:
            return None, reason
    reason = text_problem(value, name)
    return (None, reason) if reason else (value, None)


def score_batch(moderator: Moderator, texts: pd.Series, labels: Sequence[str], text_col: str) -> pd.DataFrame:
    """One Arrow batch: the UDF's result columns, one row per input row, in order.

    Good rows go through ``Moderator.score`` together; a batch it cannot score (a bug, not
    a bad row) is retried row by row so that one row cannot fail the job.
    """
    checked = [_checked(v, text_col) for v in texts]
    good = [i for i, (text, _) in enumerate(checked) if text is not None]
    results: dict[int, Any] = {}
    errors = {i: reason for i, (_, reason) in enumerate(checked) if reason}
    try:
        results = dict(zip(good, moderator.score([checked[i][0] for i in good])))
    except Exception:
        for i in good:
            try:
                results[i] = moderator.score([checked[i][0]])[0]
            except Exception as exc:
                errors[i] = f"scoring failed: {type(exc).__name__}: {exc}"
    n = len(checked)
    out = {f"s{k}": [results[i].scores[label] if i in results else None for i in range(n)] for k, label in enumerate(labels)}
    wanted = set(labels)
    out["labels"] = [[l for l in results[i].labels if l in wanted] if i in results else None for i in range(n)]
    out["model"] = [results[i].model if i in results else None for i in range(n)]
    out["truncated"] = [results[i].truncated if i in results else None for i in range(n)]
    out["error"] = [errors.get(i) for i in range(n)]
    return pd.DataFrame(out)


def _result_type(labels: Sequence[str]) -> T.StructType:
    # Scores are flat fields s0, s1, ... here and nested into the ``scores`` struct by the caller:
    # label names need not be valid pandas column names, and flat structs are the plainest Arrow path.
    fields = [T.StructField(f"s{k}", T.DoubleType()) for k in range(len(labels))]
    return T.StructType(fields + [T.StructField("labels", T.ArrayType(T.StringType())), T.StructField("model", T.StringType()),
                                  T.StructField("truncated", T.BooleanType()), T.StructField("error", T.StringType())])


def _score_udf(ref: str, backend: str, labels: list[str], text_col: str, batch_size: int | None) -> Any:
    def score(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        import torch

        torch.set_num_threads(_task_threads())
        moderator = executor_model(ref, backend)
        if batch_size:
            moderator.batch_size = batch_size
        for texts in batches:
            yield score_batch(moderator, texts, labels, text_col)

    # pandas_udf tells the iterator form from the type hints, as objects (this module postpones annotations).
    score.__annotations__ = {"batches": Iterator[pd.Series], "return": Iterator[pd.DataFrame]}
    with warnings.catch_warnings():
        # pyspark 4.3 warns that it does not fully support pandas 3; this UDF's path (string and
        # binary in, a flat struct out) is checked under pandas 3 by tests/test_spark.py.
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        return F.pandas_udf(score, _result_type(labels))


def model_labels(model: str | os.PathLike | None) -> tuple[str, list[str]]:
    """(reference executors load, the labels the model emits), read on the driver without loading weights."""
    path = model_dir(None) if model is None else locate_model(str(model))
    ref = str(path) if model is None else str(model)
    meta = read_meta(path)
    withheld = meta.get("withheld_labels") or {}
    return ref, [label for label in meta["labels"] if label not in withheld]


def score_dataframe(df: DataFrame, text_col: str = "text", model: str | os.PathLike | None = None,
                    labels: Sequence[str] | None = None, backend: str = "auto", batch_size: int | None = None,
                    arrow_batch_rows: int | None = None) -> DataFrame:
    """``df`` with ``scores`` (struct: label -> calibrated probability), ``labels`` (flagged, array),
    ``model`` (``name@version``), ``truncated`` and ``error`` (null unless the row was rejected) added.

    ``model``: a folder every executor can read at that path (shared storage, or unpacked by
    ``--archives model.tar.gz#model`` as ``model``), or a name shipped with
    ``SparkContext.addArchive``; default the shipped ``models/default`` (local and shared installs).
    ``labels``: a subset of the model's labels to report (default all). ``batch_size``: comments
    per forward pass (default the model's). ``arrow_batch_rows`` sets the session's
    ``spark.sql.execution.arrow.maxRecordsPerBatch`` (rows per ``Moderator.score`` call).
    Rows keep their order and partitions; nothing is shuffled.
    """
    Fields(text_col).check(df.columns, "DataFrame")
    if clash := [c for c in OUTPUT_COLUMNS if c in df.columns]:
        raise InputError(f"DataFrame already has column(s) {', '.join(clash)}: rename them, the scores are written there")
    ref, model_label_names = model_labels(model)
    chosen = list(labels) if labels is not None else model_label_names
    if unknown := [l for l in chosen if l not in model_label_names]:
        raise InputError(f"unknown label(s) {', '.join(unknown)} (the model has {', '.join(model_label_names)})")
    try:
        backend = resolve_backend(backend) if backend != "auto" else backend  # auto: each executor decides for its CPU
    except ModelError as exc:
        raise InputError(str(exc)) from None
    if arrow_batch_rows:
        df.sparkSession.conf.set(ARROW_BATCH_CONF, str(arrow_batch_rows))
    udf = _score_udf(ref, backend, chosen, text_col, batch_size)
    tmp = "__moderation_result"
    scored = df.withColumn(tmp, udf(F.col(f"`{text_col}`")))
    result = F.col(tmp)
    scores = F.when(result["error"].isNull(), F.struct(*[result[f"s{k}"].alias(l) for k, l in enumerate(chosen)]))
    return scored.select(*[F.col(f"`{c}`") for c in df.columns], scores.alias("scores"),
                         *[result[c].alias(c) for c in OUTPUT_COLUMNS[1:]])


# --- moderation score --engine spark --------------------------------------------------------


def _tables_in(folder: Path) -> list[Path]:
    """A local folder's table files, sorted (hidden files and Spark's ``_SUCCESS`` markers skipped)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))
                  and TABLE_FORMATS.get(Path(p.name.removesuffix(".gz")).suffix.lower()))


def expand_paths(paths: Sequence[str]) -> list[str]:
    """Local folders and globs become their table files in sorted order, so rows come out in the
    order of the command line (Spark itself packs files by size); remote paths stay as they are.
    Local paths are made absolute: the JVM may have started in another working directory."""
    files: list[str] = []
    for path in paths:
        if "://" in path:
            files.append(path)
        elif Path(path).is_dir():
            if not (found := _tables_in(Path(path))):
                raise InputError(f"{path}: folder has no .parquet, .jsonl or .csv files")
            files += [str(p.resolve()) for p in found]
        elif glob.has_magic(path):
            if not (found := sorted(glob.glob(path))):
                raise InputError(f"{path}: no file matches")
            files += [str(Path(p).resolve()) for p in found]
        elif not Path(path).exists():
            raise InputError(f"{path}: no such file")
        else:
            files.append(str(Path(path).resolve()))
    return files


def input_format(path: str) -> str:
    """``parquet``, ``jsonl``, ``csv`` or ``tsv`` from a path's extension (``.gz`` allowed)."""
    kind = TABLE_FORMATS.get(Path(path.removesuffix(".gz")).suffix.lower())
    if kind not in SPARK_FORMATS:
        raise InputError(f"{path}: --engine spark reads Parquet, JSONL, CSV and TSV tables (by extension); "
                         "for page dumps run moderation extract first, or score them without --engine")
    return kind


def read_tables(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """One DataFrame over all inputs (one format), with each row's file in ``_source``.
    Each input is read on its own with the schema of all of them, and the reads are joined in
    input order (one read over all would order files by size)."""
    files = expand_paths(paths)
    kinds = {input_format(p) for p in files}
    if len(kinds) > 1:
        raise InputError(f"--engine spark reads one format per run, got {', '.join(sorted(kinds))}")
    kind = kinds.pop()

    def read(targets: list[str], schema: T.StructType | None = None) -> DataFrame:
        reader = spark.read if schema is None else spark.read.schema(schema)
        if kind == "parquet":
            return reader.parquet(*targets)
        if kind == "jsonl":
            return reader.json(targets)
        # quoted fields may span lines and double their quotes, as in the local reader
        return reader.csv(targets, header=True, multiLine=True, escape='"', sep="\t" if kind == "tsv" else ",",
                          quote="" if kind == "tsv" else '"')

    schema = read(files).schema
    parts = [read([f], schema).withColumn("_source", F.col("_metadata.file_path")) for f in files]
    return functools.reduce(DataFrame.union, parts)


def spread(df: DataFrame, parallelism: int, slices_per_core: int = SLICES_PER_CORE) -> DataFrame:
    """``df`` over ``parallelism x slices_per_core`` partitions of about equal size, rows in their
    input order, unless it already has at least that many partitions.

    A small file (or a Parquet file of one row group, or CSV read with ``multiLine``) is one
    split, so one task would score it all while the other cores idle; a file a little over
    Spark's split size is two splits, one of them a sliver (measured: 18,867 and 1,133 rows). Numbering the rows and
    range-partitioning on that number gives contiguous, ordered slices: partition k's rows all come
    before partition k+1's, which is the order Parquet part files are written and read back in.
    Several slices per core, because a file's halves can differ in length mix (short comments
    first, long ones after): with one slice per core the core that got the long half finishes last."""
    if df.rdd.getNumPartitions() >= parallelism * slices_per_core:
        return df
    row = "__moderation_row"
    return (df.withColumn(row, F.monotonically_increasing_id()).repartitionByRange(parallelism * slices_per_core, row)
            .sortWithinPartitions(row).drop(row))


def _as_text(col: Column, dtype: T.DataType) -> Column:
    """Ids and kept fields as text, as the local Parquet output has them (JSON for nested values)."""
    if isinstance(dtype, (T.StructType, T.ArrayType, T.MapType)):
        return F.to_json(col)
    return col.cast("string")


def score_files(spark: SparkSession, paths: Sequence[str], output: Path | str, fields: Fields, model: str | os.PathLike | None,
                backend: str, batch_size: int | None, arrow_batch_rows: int) -> Any:
    """Score table files into a folder of Parquet partitions with the local Parquet output's columns
    (``id, scores, labels, model, <kept fields>, truncated``); rejected rows go to ``OUTPUT.errors/``
    as JSON lines (``source, id, reason``). Returns a :class:`~moderation.scoring.Summary`."""
    from moderation.scoring import Summary

    started = time.perf_counter()
    if "://" not in str(output):  # the JVM resolves relative paths against its own working directory
        output = Path(output).resolve()
    df = read_tables(spark, paths)
    fields.check([c for c in df.columns if c != "_source"], ", ".join(paths))
    if fields.id_name not in df.columns:
        raise InputError(f"{', '.join(paths)}: no id field {fields.id_name!r}; --engine spark needs one (--id-field) "
                         "because Spark does not number rows across files")
    types = dict((f.name, f.dataType) for f in df.schema.fields)
    base = df.select(_as_text(F.col(f"`{fields.id_name}`"), types[fields.id_name]).alias("id"),
                     F.col(f"`{fields.text}`").alias("text"),
                     *[_as_text(F.col(f"`{k}`"), types[k]).alias(f"__keep_{i}") for i, k in enumerate(fields.keep)],
                     F.col("_source"))
    base = spread(base, spark.sparkContext.defaultParallelism)
    scored = score_dataframe(base, "text", model, backend=backend, batch_size=batch_size, arrow_batch_rows=arrow_batch_rows)
    labels = scored.schema["scores"].dataType.names
    scored = scored.drop("text").persist()  # written twice (scores, errors) and counted: score once
    try:
        counts = scored.agg(F.count(F.when(F.col("error").isNull(), 1)).alias("scored"),
                            F.count(F.col("error")).alias("rejected"),
                            *[F.count(F.when(F.array_contains("labels", l), 1)).alias(f"f{k}") for k, l in enumerate(labels)]).first()
        good = scored.where(F.col("error").isNull()).select(
            "id", "scores", "labels", "model", *[F.col(f"__keep_{i}").alias(k) for i, k in enumerate(fields.keep)],
            F.coalesce(F.col("truncated"), F.lit(False)).alias("truncated"))
        good.write.parquet(str(output))
        errors = Path(str(output) + ".errors")
        if counts["rejected"]:
            scored.where(F.col("error").isNotNull()).select(F.col("_source").alias("source"), "id", F.col("error").alias("reason")) \
                .write.mode("overwrite").json(str(errors))
    finally:
        scored.unpersist()
    return Summary(scored=counts["scored"], rejected=counts["rejected"], seconds=time.perf_counter() - started,
                   flagged={l: counts[f"f{k}"] for k, l in enumerate(labels)})


def session(master: str | None, arrow_batch_rows: int, quiet: bool = True, progress: bool = False) -> tuple[SparkSession, bool]:
    """(the active SparkSession or a new one, whether this call created it). Workers run this Python."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # else workers start the system Python
    builder = (SparkSession.builder.appName("moderation score").config(ARROW_BATCH_CONF, str(arrow_batch_rows))
               .config("spark.ui.showConsoleProgress", str(progress).lower()))
    if master:
        builder = builder.master(master)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        spark = builder.getOrCreate()
    if quiet:
        spark.sparkContext.setLogLevel("ERROR")
    return spark, True
