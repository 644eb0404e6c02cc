"""The batch-scoring pipeline behind ``moderation score``: streaming, resumable, order-keeping.

Rows are read in bounded windows; the model sorts each window by length into
batches and returns scores in input order. Each window becomes one committed
chunk in ``OUT.partial/``: the chunk file is written under a temporary name and
renamed, then the journal (``journal.json``, rows consumed so far and running
counts) is replaced the same way. A run killed at any point therefore leaves a
journal that names only complete chunks, and ``--resume`` skips exactly the rows
those chunks hold. The final file is assembled from the chunks and renamed into
place last, so ``OUT`` only ever exists complete.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from moderation.errors import InputError
from moderation.io import PAGE_FIELDS, STDIN, Columns, Fields, Row, concat_chunks, input_kind, read_inputs, stdin_kind, write_chunk
from moderation.types import Scores

#: Rows per window (= per committed chunk). Sorting within it by length removes most padding.
WINDOW_ROWS = 2048
#: A window also ends at this many characters, so memory stays bounded with huge comments.
WINDOW_CHARS = 16_000_000
JOURNAL = "journal.json"
JOURNAL_VERSION = 1
ERRORS_SUFFIX = "errors.jsonl"


class Scorer(Protocol):
    """What the pipeline needs from a model (``Moderator`` or a stand-in in tests)."""

    name: str
    emitted_labels: list[str]  # the labels its Scores carry

    def score(self, texts: Sequence[str], ids: Sequence[Any] | None = None) -> list[Scores]: ...


@dataclass
class Summary:
    """Running counts; stored in the journal so a resumed run reports the whole job."""

    scored: int = 0
    rejected: int = 0
    pages: int = 0  # page dumps read (a page may hold no comment)
    seconds: float = 0.0
    flagged: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        flagged = ", ".join(f"{label} {n:,}" for label, n in self.flagged.items())
        return (f"scored {self.scored:,} rows, rejected {self.rejected:,}, {self.rate:,.1f} comments/s "
                f"({self.seconds:,.1f}s); flagged: {flagged or 'none'}")


@dataclass
class Job:
    """One ``moderation score`` run: what to read, where to write, how."""

    inputs: list[str]
    output: Path
    fmt: str
    fields: Fields = field(default_factory=Fields)
    resume: bool = False
    stdin_format: str = "auto"  # what ``-`` holds: one of STDIN_FORMATS
    #: ``--output -``: each committed chunk is copied here (``output`` is then a scratch path for the chunks),
    #: and rejected rows are reported through ``warn`` since there is no OUT.errors.jsonl beside stdout.
    stream: IO[bytes] | None = None

    @property
    def partial(self) -> Path:
        return self.output.with_name(self.output.name + ".partial")

    @property
    def errors(self) -> Path:
        return self.output.with_name(self.output.name + ".errors.jsonl")

    def columns(self, labels: Sequence[str]) -> Columns:
        pages = any(input_kind(p) == "page" or (p == STDIN and stdin_kind(self.stdin_format) == "page") for p in self.inputs)
        return Columns(labels, list(dict.fromkeys([*self.fields.keep, *(PAGE_FIELDS if pages else ())])))

    def fingerprint(self, model: str) -> dict[str, Any]:
        """What must not change between a run and its resumption."""
        files = [[p] if p == STDIN else [p, os.stat(p).st_size, os.stat(p).st_mtime_ns] for p in self.inputs]
        return {"inputs": files, "fields": asdict(self.fields), "format": self.fmt, "model": model}


@dataclass
class Journal:
    """Progress of a run: committed chunks, input rows they consumed, running summary."""

    fingerprint: dict[str, Any]
    chunks: int = 0
    rows_read: int = 0
    summary: Summary = field(default_factory=Summary)

    def save(self, directory: Path) -> None:
        tmp = directory / (JOURNAL + ".tmp")
        data = {"version": JOURNAL_VERSION, "fingerprint": self.fingerprint, "chunks": self.chunks,
                "rows_read": self.rows_read, "summary": asdict(self.summary)}
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / JOURNAL)

    @classmethod
    def load(cls, directory: Path) -> "Journal":
        try:
            data = json.loads((directory / JOURNAL).read_text(encoding="utf-8"))
            return cls(data["fingerprint"], data["chunks"], data["rows_read"], Summary(**data["summary"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"cannot resume: {directory / JOURNAL} is unreadable ({exc}); delete {directory} to start over") from None


def start(job: Job, model: str, log: Callable[[str], None]) -> Journal:
    """A fresh journal, or the saved one when resuming; refuses to mix two different runs."""
    if job.resume and STDIN in job.inputs:
        raise InputError("--resume needs input files: stdin cannot be read again")
    if job.resume and job.stream is not None:
        raise InputError("--resume needs an --output file: what went to stdout cannot be continued")
    fingerprint = json.loads(json.dumps(job.fingerprint(model)))
    if job.partial.exists():
        if not job.resume:
            raise InputError(f"{job.partial} holds an unfinished run: add --resume to continue it, or delete it")
        journal = Journal.load(job.partial)
        if journal.fingerprint != fingerprint:
            raise InputError(f"cannot resume: inputs, options or model differ from the run in {job.partial}; delete it to start over")
        log(f"resuming after {journal.rows_read:,} rows ({journal.chunks} chunks)")
        return journal
    if job.resume:
        log("nothing to resume: starting a new run")
    job.partial.mkdir(parents=True)
    journal = Journal(fingerprint)
    journal.save(job.partial)
    return journal


def windows(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """Consecutive windows of at most ``size`` rows and about WINDOW_CHARS characters."""
    while True:
        window: list[Row] = []
        chars = 0
        for row in rows:
            window.append(row)
            chars += len(row.text or "")
            if len(window) >= size or chars >= WINDOW_CHARS:
                break
        if not window:
            return
        yield window


def output_record(row: Row, scores: Scores) -> dict[str, Any]:
    """``{"id", "scores", "labels", "model"}`` + kept/page fields (+ ``truncated`` when cut)."""
    record = scores.to_dict()
    truncated = record.pop("truncated", False) or row.truncated
    record.update(row.fields)
    if truncated:
        record["truncated"] = True
    return record


def _load_libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _load_libc()


def release_freed_memory() -> None:
    """Give freed small-block heap back to the OS after each window (glibc only)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _chunk_path(job: Job, index: int, suffix: str) -> Path:
    return job.partial / f"{index:06d}.{suffix}"


def _commit_file(path: Path, write: Callable[[Path], None]) -> None:
    """Write under a temporary name, then rename: a chunk file is whole or absent."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def score_window(scorer: Scorer, window: list[Row]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Output records (input order) and error records for one window."""
    good = [r for r in window if r.reason is None]
    scores = scorer.score([r.text for r in good], ids=[r.id for r in good]) if good else []
    return [output_record(r, s) for r, s in zip(good, scores)], [r.error_record() for r in window if r.reason]


def run(scorer: Scorer, job: Job, on_rows: Callable[[int], None] = lambda n: None,
        log: Callable[[str], None] = lambda msg: None, warn: Callable[[str], None] = lambda msg: None) -> Summary:
    """Score every input row into ``job.output``; returns the summary of the whole job.

    ``log`` gets progress messages, ``warn`` problems with an input that did not stop it
    (e.g. a page with invalid UTF-8, decoded with replacement).
    """
    journal = start(job, scorer.name, log)
    summary = journal.summary
    summary.flagged = {label: summary.flagged.get(label, 0) for label in scorer.emitted_labels}
    columns = job.columns(scorer.emitted_labels)

    def count_page() -> None:
        summary.pages += 1

    rows = read_inputs(job.inputs, job.fields, job.stdin_format, count_page)
    if journal.rows_read:
        skipped = sum(1 for _ in itertools.islice(rows, journal.rows_read))
        if skipped < journal.rows_read:
            raise InputError(f"cannot resume: inputs now hold fewer rows than the {journal.rows_read:,} already done")
    try:
        _score_windows(scorer, job, journal, rows, columns, on_rows, log, warn)
    except InputError as exc:
        # Only a run with committed chunks and re-readable inputs can be resumed; anything else
        # would just block the corrected rerun.
        if journal.chunks == 0 or STDIN in job.inputs or job.stream is not None:
            shutil.rmtree(job.partial, ignore_errors=True)
            raise
        raise InputError(f"{exc}; the {journal.rows_read:,} rows before it are kept in {job.partial}: --resume continues "
                         "if the inputs are unchanged, or delete it to start over") from None
    # Pages without reader comments are normal: an empty table. Otherwise a run that scored nothing failed.
    empty_ok = summary.scored == 0 and summary.rejected == 0 and summary.pages > 0
    finish(job, journal.chunks, columns, scored=summary.scored, empty_ok=empty_ok)
    return summary


def _score_windows(scorer: Scorer, job: Job, journal: Journal, rows: Iterator[Row], columns: Columns,
                   on_rows: Callable[[int], None], log: Callable[[str], None], warn: Callable[[str], None]) -> None:
    summary = journal.summary
    last = time.perf_counter()
    for window in windows(rows, WINDOW_ROWS):
        for row in window:
            for warning in row.warnings:
                warn(f"{row.source}: {warning}")
        records, errors = score_window(scorer, window)
        release_freed_memory()
        index = journal.chunks
        _commit_file(_chunk_path(job, index, job.fmt), lambda p: write_chunk(p, records, job.fmt, columns, header=index == 0))
        if errors and job.stream is not None:
            for error in errors:
                warn(f"rejected {error['source']}:{error['line']} (id {error['id']}): {error['reason']}")
        elif errors:
            _commit_file(_chunk_path(job, index, ERRORS_SUFFIX), lambda p: write_chunk(p, errors, "jsonl", columns, header=False))
        if job.stream is not None:  # stdout: the chunk goes out now, so a pipe sees results as they come
            chunk = _chunk_path(job, index, job.fmt)
            with open(chunk, "rb") as src:
                shutil.copyfileobj(src, job.stream)
            job.stream.flush()
            chunk.unlink()
        summary.scored += len(records)
        summary.rejected += len(errors)
        for record in records:
            for label in record["labels"]:
                summary.flagged[label] += 1
        now = time.perf_counter()
        summary.seconds += now - last  # reading included: this is the rate a user sees
        last = now
        journal.chunks += 1
        journal.rows_read += len(window)
        journal.save(job.partial)
        on_rows(len(window))
        log(f"committed chunk {index} ({journal.rows_read:,} rows read)")


def finish(job: Job, chunks: int, columns: Columns, scored: int = 1, empty_ok: bool = False) -> None:
    """Assemble the chunks; the errors file first, the output last (its appearance means done).
    A run that scored nothing has failed: it leaves no OUT (only the errors file that says why),
    unless ``empty_ok`` (pages without comments), which writes an empty table with its header."""
    if job.stream is not None:  # every chunk has gone to stdout already
        shutil.rmtree(job.partial)
        return
    error_chunks = [p for i in range(chunks) if (p := _chunk_path(job, i, ERRORS_SUFFIX)).exists()]
    if error_chunks:
        _commit_file(job.errors, lambda p: concat_chunks(error_chunks, p, "jsonl", columns))
    else:
        job.errors.unlink(missing_ok=True)  # a stale file from an earlier run would mislead
    parts = [_chunk_path(job, i, job.fmt) for i in range(chunks)]
    if scored:
        _commit_file(job.output, lambda p: concat_chunks(parts, p, job.fmt, columns))
    elif empty_ok:
        _commit_file(job.output, lambda p: write_chunk(p, [], job.fmt, columns, header=True))
    shutil.rmtree(job.partial)
