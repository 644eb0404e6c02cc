"""Streaming readers and chunk writers for comment tables and page dumps.

Readers turn an input (JSONL, CSV/TSV, Parquet, page dumps or folders of them, ``-``
for stdin) into a stream of :class:`Row` records, one per input record, good or
bad: a bad row carries a rejection ``reason`` instead of failing the run. Only
problems that make a whole input unusable (missing file, unknown field) raise
:class:`~moderation.errors.InputError`.

Writers write one chunk of output records to one file; ``concat_chunks`` joins the
chunks into the final file. Nothing here imports torch.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from moderation.errors import InputError
from moderation.types import MAX_CHARS

STDIN = "-"
TABLE_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}
OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
#: What ``--stdin-format`` accepts: ``auto`` tells JSONL, CSV/TSV, HTML and Parquet apart by the first line that is not blank.
STDIN_FORMATS = ("auto", "jsonl", "csv", "tsv", "parquet", "page")
#: In a folder, these are page dumps; tables are read by TABLE_FORMATS except ambiguous .json.
PAGE_SUFFIXES = {"", ".txt", ".text", ".md", ".markdown", ".html", ".htm", ".xhtml"}
#: Fields every page comment carries, so the output says where the comment came from.
PAGE_FIELDS = ("source", "author", "position", "title")
#: Output keys owned by the scorer; kept input fields may not shadow them.
RESERVED = ("id", "scores", "labels", "model", "truncated")
#: How many JSON objects may lack the text field before we call the field unknown.
FIELD_LOOKAHEAD = 1000
#: A CSV field larger than this is a malformed row (protects memory), not a long comment.
CSV_FIELD_LIMIT = 64 * MAX_CHARS
PARQUET_BATCH_ROWS = 1024

csv.field_size_limit(CSV_FIELD_LIMIT)


@dataclass
class Row:
    """One input record: text to score, or the reason it was rejected."""

    source: str
    line: int  # physical line for text formats, 1-based row for Parquet, position for pages
    id: Any
    text: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)  # about its whole input (a page's decoding), on its first row

    def error_record(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "id": self.id, "reason": self.reason}


@dataclass
class Fields:
    """Which input fields to read: the text, the id and any fields copied to the output."""

    text: str = "text"
    id: str | None = None  # None: use "id" when present, else the row number
    keep: tuple[str, ...] = ()
    encoding: str = "utf-8"  # of JSONL/CSV/TSV bytes (Parquet strings are UTF-8 by its format)

    @property
    def id_name(self) -> str:
        return self.id or "id"

    @property
    def required(self) -> list[str]:
        """Fields that must exist in the input (an explicit id field included)."""
        return [self.text, *self.keep] + ([self.id] if self.id else [])

    def check(self, available: Iterable[str], where: str) -> None:
        """Fail with one line naming the field and the available ones."""
        available = list(available)
        for name in self.required:
            if name not in available:
                raise InputError(f"{where}: unknown field {name!r} (available: {_field_list(available)})")


def _field_list(names: Sequence[object], most: int = 20, width: int = 40) -> str:
    """Field names for an error line: a header that is really a sentence must not flood the terminal."""
    printable = ["".join(c if c.isprintable() else "�" for c in str(n)) for n in names[:most]]
    shown = [n if len(n) <= width else n[: width - 1] + "…" for n in printable]
    return ", ".join(shown + ([f"… {len(names) - most} more"] if len(names) > most else [])) or "none"


def input_kind(path: str) -> str:
    """"jsonl", "csv", "tsv", "parquet", "stdin" or "page", from the file name alone."""
    if path == STDIN:
        return "stdin"
    name = path[:-3] if path.endswith(".gz") else path
    return TABLE_FORMATS.get(Path(name).suffix.lower(), "page")


def _in_folder(path: Path) -> bool:
    """Which files of a folder to read: page dumps and comment tables, not stray .json etc."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    suffix = Path(name).suffix.lower()
    return suffix in PAGE_SUFFIXES or (suffix in TABLE_FORMATS and suffix != ".json")


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Folders become their page and table files (sorted, hidden skipped); missing files fail early."""
    paths: list[str] = []
    for spec in inputs:
        if spec == STDIN:
            paths.append(spec)
            continue
        p = Path(spec)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and _in_folder(f) and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not files:
                raise InputError(f"{spec}: folder has no page dumps or comment tables")
            paths += [str(f) for f in files]
        elif not p.exists():
            raise InputError(f"{spec}: no such file")
        elif not os.access(p, os.R_OK):
            raise InputError(f"{spec}: permission denied")
        else:
            paths.append(spec)
    return paths


def _open_binary(path: str) -> IO[bytes]:
    try:
        return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None


def _encodable(value: Any) -> bool:
    """False for strings holding lone surrogates (JSON escapes such as "\\udc00"), which no UTF-8 output can hold."""
    try:
        (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _row(source: str, line: int, obj: dict[str, Any], fields: Fields, row_number: int) -> Row:
    """Validate one parsed record: id (default: row number), text and kept fields."""
    id_ = obj.get(fields.id_name)
    row = Row(source, line, row_number if id_ in (None, "") else id_, fields={k: obj.get(k) for k in fields.keep})
    text = obj.get(fields.text)
    id_ok = _encodable(row.id)
    if not id_ok or not _encodable(row.fields):
        row.id = row.id if id_ok else str(row.id).encode("utf-8", "backslashreplace").decode("utf-8")
        row.fields = {}
        row.reason = "invalid Unicode (a lone surrogate) in the id or a kept field"
    elif reason := text_problem(text, fields.text):
        row.reason = reason
    else:
        row.truncated = len(text) > MAX_CHARS
        row.text = text[:MAX_CHARS]
    return row


def text_problem(text: Any, name: str) -> str | None:
    """Why ``text`` (the value of field ``name``) cannot be scored, or None: missing, not a string, empty, lone surrogates."""
    if text is None:
        return f"missing text field {name!r}"
    if not isinstance(text, str):
        return f"text field {name!r} is {type(text).__name__}, not a string"
    if not text.strip():
        return "empty text"
    if not _encodable(text):
        return "invalid Unicode (a lone surrogate) in the text"
    return None


def check_encoding(name: str) -> str:
    """A codec Python knows, and one that keeps ASCII (newlines, commas, quotes, braces) as single bytes,
    since rows are split on those bytes before decoding; returns its canonical name."""
    import codecs

    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise InputError(f"--encoding {name}: unknown encoding (examples: utf-8, latin-1, cp1252)") from None
    probe = "\n\t,\"{}[]:az09 "
    try:
        ascii_safe = probe.encode(canonical) == probe.encode("ascii")
    except (UnicodeError, LookupError):
        ascii_safe = False
    if not ascii_safe:
        raise InputError(f"--encoding {name}: only encodings that extend ASCII are read (convert first: iconv -f {name} -t utf-8)")
    return canonical


def _decode(raw: bytes, encoding: str = "utf-8") -> tuple[str, str | None]:
    """Strict decoding; on failure the row is rejected (lenient text is kept only for parsing on)."""
    try:
        return raw.decode(encoding), None
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding.replace("_", "-") == "utf-8" else encoding
        return raw.decode(encoding, errors="replace"), f"invalid {name} at byte {exc.start} of the row"


def read_jsonl(lines: Iterable[bytes], source: str, fields: Fields) -> Iterator[Row]:
    """One JSON object per line; blank lines are skipped, bad lines become rejected rows.

    A field is unknown only if none of the first objects has it (one row lacking the
    text is a rejected row, not a usage error), so rows are held back until then.
    """
    pending: list[Row] | None = []
    keys: dict[str, None] = {}  # ordered set of the keys seen while checking
    objects = 0
    for line_no, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        text, reason = _decode(raw, fields.encoding)
        obj = None
        if not reason:
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                # json's own message may already end in "at" ("Invalid control character at").
                reason = f"malformed JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"
            else:
                if not isinstance(obj, dict):
                    reason = f"not a JSON object but {type(obj).__name__} (JSONL is one object per line)"
        row = Row(source, line_no, line_no, reason=reason) if reason else _row(source, line_no, obj, fields, line_no)
        if pending is None:
            yield row
            continue
        pending.append(row)
        if not reason:
            objects += 1
            keys.update(dict.fromkeys(obj))
        if all(name in keys for name in fields.required):
            yield from pending
            pending = None
        elif objects >= FIELD_LOOKAHEAD:
            fields.check(keys, source)
    if pending is not None:
        if objects:
            fields.check(keys, source)
        yield from pending


def _jsonl_or_array(lines: Iterable[bytes], source: str, encoding: str) -> Iterator[bytes]:
    """JSONL lines as they are; a file that is one JSON array (``[{...}, ...]``, read whole) becomes
    one line per element, so its rows are checked and numbered like JSONL rows."""
    lines = iter(lines)
    head: list[bytes] = []
    for line in lines:
        head.append(line)
        if line.strip():
            break
    if not (head and head[-1].lstrip().startswith(b"[")):
        yield from itertools.chain(head, lines)
        return
    text, bad = _decode(b"".join(itertools.chain(head, lines)), encoding)
    if bad:
        raise InputError(f"{source}: {bad.removesuffix(' of the row')}")
    try:
        array = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: malformed JSON array ({exc.msg.removesuffix(' at')} at line {exc.lineno}, "
                         f"column {exc.colno}); expected JSONL (one object per line) or one array of objects") from None
    for item in array:
        yield json.dumps(item).encode("utf-8") + b"\n"


def read_csv(lines: Iterable[bytes], source: str, fields: Fields, delimiter: str) -> Iterator[Row]:
    """CSV/TSV with a header row; a row spanning lines is rejected if any of them is not UTF-8."""
    bad_lines: dict[int, str] = {}

    def decoded() -> Iterator[str]:
        for n, raw in enumerate(lines, 1):
            text, bad = _decode(raw, fields.encoding)
            if bad:
                bad_lines[n] = bad
            yield text

    # TSV as IANA defines it has no quoting: a text that starts with a quote mark is plain text.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(decoded(), delimiter=delimiter, strict=True, quoting=quoting)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"{source}: malformed CSV header ({exc})") from None
    fields.check(header, source)
    row_number = 0
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row_number += 1
            # An unclosed quote swallows the lines after it; name them so no row goes missing unreported.
            span = f" (lines {start}-{reader.line_num} read as one row)" if reader.line_num > start else ""
            yield Row(source, start, row_number, reason=f"malformed CSV row{span}: {exc}")
            continue
        if not values:
            continue  # blank line
        row_number += 1
        bad = next((bad_lines.pop(n) for n in range(start, reader.line_num + 1) if n in bad_lines), None)
        if bad:
            yield Row(source, start, row_number, reason=bad)
        elif len(values) != len(header):
            yield Row(source, start, row_number, reason=f"malformed CSV row: {len(values)} fields, header has {len(header)}")
        else:
            yield _row(source, start, dict(zip(header, values)), fields, row_number)


def read_parquet(path: str, fields: Fields, data: bytes | None = None) -> Iterator[Row]:
    """Parquet, read batch by batch (only the needed columns); binary text must be UTF-8.
    ``data`` holds the file's bytes when it came from stdin or was gzip-compressed."""
    import io

    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path if data is None else io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise InputError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    names = pf.schema_arrow.names
    fields.check(names, path)
    columns = list(dict.fromkeys([fields.text, *fields.keep] + ([fields.id_name] if fields.id_name in names else [])))
    row_number = 0
    for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns):
        for obj in batch.to_pylist():
            row_number += 1
            if isinstance(obj.get(fields.text), bytes):
                text, bad = _decode(obj[fields.text])
                if bad:
                    yield Row(path, row_number, obj.get(fields.id_name, row_number), reason=bad)
                    continue
                obj[fields.text] = text
            yield _row(path, row_number, obj, fields, row_number)


def read_pages(path: str, data: bytes | None = None, on_page: Callable[[], None] = lambda: None) -> Iterator[Row]:
    """Extract a page dump and yield each comment with its page, author, position and title;
    ``on_page`` is called once the page is extracted (a page may hold no comment)."""
    from moderation.extract import decode_bytes, extract_page, extract_path

    try:
        doc = extract_path(path) if data is None else extract_page(decode_bytes(data, "stdin")[0], source="stdin")
    except InputError as exc:
        yield Row(path, 0, None, reason=str(exc))
        return
    except Exception as exc:  # one page the extractor cannot handle must not stop a batch run
        yield Row(path, 0, None, reason=f"extraction failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return
    on_page()
    for position, comment in enumerate(doc.comments, 1):
        meta = {"source": doc.source or path, "author": comment.author, "position": position, "title": doc.title}
        row = _row(path, position, {"id": comment.id, "text": comment.text}, Fields(), position)
        row.fields = meta
        row.warnings = doc.warnings if position == 1 else []
        yield row


#: How much of stdin is looked at to tell its format.
SNIFF_BYTES = 65536


def _sniff_stdin(head: bytes) -> str:
    """The format of stdin from its first bytes (after a UTF-8 byte-order mark)."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"PAR1"):  # Parquet's magic number
        return "parquet"
    body = head.lstrip()  # HTML pages often start with a blank line
    if not body:
        return "jsonl"  # empty stdin: no rows, whatever the format
    if body.startswith((b"{", b"[")):  # a JSON array of objects is read like JSONL
        return "jsonl"
    if body.startswith(b"<"):
        return "page"
    first = body.split(b"\n", 1)[0]
    return "tsv" if b"\t" in first and b"," not in first else "csv"


def _stdin_buffer() -> IO[bytes]:
    if sys.stdin is None:
        raise InputError("-: stdin is closed")
    return sys.stdin.buffer


def _peek_stdin() -> bytes:
    """The first bytes of stdin, left unread (pipes: peek; files and test buffers: read and seek back).
    A pipe shows only what has arrived so far, so this is a best guess; reading tells for sure."""
    buffer = _stdin_buffer()
    if hasattr(buffer, "peek"):
        return buffer.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    if buffer.seekable():
        start = buffer.tell()
        head = buffer.read(SNIFF_BYTES)
        buffer.seek(start)
        return head
    return b""


def stdin_kind(stdin_format: str = "auto") -> str:
    """What stdin holds: ``stdin_format``, or for ``auto`` a guess from the bytes that have arrived
    (used to lay out output columns before reading; ``read_input`` decides on whole lines)."""
    return stdin_format if stdin_format != "auto" else _sniff_stdin(_peek_stdin().removeprefix(codecs.BOM_UTF8))


def _read_stdin_head(stream: IO[bytes]) -> list[bytes]:
    """Whole lines from the start of stdin, up to the first that is not blank (or SNIFF_BYTES)."""
    lines: list[bytes] = []
    while line := stream.readline(SNIFF_BYTES):
        lines.append(line.removeprefix(codecs.BOM_UTF8) if not lines else line)
        if line.strip() or sum(map(len, lines)) >= SNIFF_BYTES:
            break
    return lines


def _lines(path: str) -> Iterator[bytes]:
    """Raw lines, without the UTF-8 byte-order mark spreadsheet programs write; read errors name the input."""
    import zlib

    with _open_binary(path) as fh:
        try:
            for n, line in enumerate(fh):
                yield line.removeprefix(codecs.BOM_UTF8) if n == 0 else line
        except (OSError, EOFError, zlib.error) as exc:
            detail = "compressed file ended early" if isinstance(exc, EOFError) else (getattr(exc, "strerror", None) or str(exc))
            raise InputError(f"{path}: cannot read ({detail})") from None


def read_input(path: str, fields: Fields, stdin_format: str = "auto", on_page: Callable[[], None] = lambda: None) -> Iterator[Row]:
    """All rows of one input, in order. Unknown fields fail here, before the first row.
    ``stdin_format`` says what ``-`` holds (one of STDIN_FORMATS). Tables stream; pages, and Parquet
    from stdin or ``.gz``, are read whole; ``on_page`` is called for each page extracted."""
    kind = input_kind(path)
    from_stdin = kind == "stdin"
    head: list[bytes] = []
    if from_stdin:
        stream = _stdin_buffer()
        head = _read_stdin_head(stream)
        if not b"".join(head).strip():
            return iter(())  # empty stdin: nothing to score, whatever the format
        kind = _sniff_stdin(b"".join(head)) if stdin_format == "auto" else stdin_format
        if kind == "gzip":
            raise InputError("-: stdin is gzip-compressed: decompress it first (zcat FILE.gz | moderation score - ...)")
    if kind in ("parquet", "page"):
        data = b"".join(head) + stream.read() if from_stdin else None
        if kind == "parquet" and path.endswith(".gz"):
            data = b"".join(_lines(path))  # Parquet needs random access: decompressed whole, like stdin
        rows = read_parquet(path, fields, data) if kind == "parquet" else read_pages(path, data, on_page)
    else:
        lines = itertools.chain(head, stream) if from_stdin else _lines(path)
        rows = read_jsonl(_jsonl_or_array(lines, path, fields.encoding), path, fields) if kind == "jsonl" else read_csv(lines, path, fields, "\t" if kind == "tsv" else ",")
    try:
        first_row = next(rows, None)
    except InputError as exc:
        if from_stdin and stdin_format == "auto" and kind in ("csv", "tsv"):
            raise InputError(f"{exc}; if stdin is a plain-text page dump, pass --stdin-format page") from None
        raise
    return itertools.chain([first_row] if first_row else [], rows)


def check_inputs(paths: Sequence[str], fields: Fields) -> None:
    """Open every table input and check its fields, so mistakes fail before any work."""
    for path in paths:
        if input_kind(path) not in ("stdin", "page"):
            read_input(path, fields)


def estimate_rows(paths: Sequence[str]) -> int | None:
    """Rough total for a progress bar: lines of text tables, Parquet row counts; None if unknown."""
    total = 0
    for path in paths:
        kind = input_kind(path)
        if kind == "parquet" and not path.endswith(".gz"):
            import pyarrow.parquet as pq

            total += pq.ParquetFile(path).metadata.num_rows
        elif kind in ("jsonl", "csv", "tsv") and not path.endswith(".gz"):
            with open(path, "rb") as fh:
                total += sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - (kind != "jsonl")
        else:
            return None
    return total


def read_inputs(paths: Sequence[str], fields: Fields, stdin_format: str = "auto", on_page: Callable[[], None] = lambda: None) -> Iterator[Row]:
    """Rows of several inputs, one after another."""
    return itertools.chain.from_iterable(read_input(p, fields, stdin_format, on_page) for p in paths)


# --- output ------------------------------------------------------------------------------


def check_output(output: Path, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse an output that is a folder or one of the inputs (writing it would destroy that input), or
    whose folder does not exist: a typo in a path should fail, not create a stray tree (as cp and tee do)."""
    if str(output) == STDIN:
        return
    if not output.parent.is_dir():
        problem = "is not a folder" if output.parent.exists() else "does not exist"
        raise InputError(f"{output}: {output.parent} {problem}; create the folder first (--output never creates one)")
    if output.is_dir():
        raise InputError(f"{output}: is a folder; --output needs a file name")
    if output.exists() and any(str(p) != STDIN and Path(p).exists() and output.samefile(p) for p in inputs):
        raise InputError(f"{output}: is also an input; choose another --output")


def output_format(path: str, fmt: str | None) -> str:
    """The output format: ``fmt``, else from the extension; ``-`` (stdout) is JSONL unless told otherwise."""
    if path == STDIN:
        if fmt == "parquet":
            raise InputError("--output -: Parquet cannot be streamed to stdout; write a .parquet file instead")
        fmt = fmt or "jsonl"
    if fmt:
        if fmt not in OUTPUT_FORMATS:
            raise InputError(f"unknown output format {fmt!r} (use {', '.join(OUTPUT_FORMATS)})")
        return fmt
    kind = TABLE_FORMATS.get(Path(path).suffix.lower())
    if kind not in OUTPUT_FORMATS:
        raise InputError(f"cannot tell the output format from {path!r}: use --format {'|'.join(OUTPUT_FORMATS)}")
    return kind


def _as_text(value: Any) -> str | None:
    """Ids and kept fields are text in CSV/Parquet, so every chunk has the same schema."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


@dataclass
class Columns:
    """The fixed column layout of table outputs (CSV, Parquet)."""

    labels: Sequence[str]
    extra: Sequence[str]  # kept fields, then page fields

    def flat(self, record: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {"id": _as_text(record["id"])}
        row.update({f"scores.{l}": record["scores"][l] for l in self.labels})
        row["labels"] = record["labels"]
        row["model"] = record["model"]
        row.update({k: record.get(k) if k == "position" else _as_text(record.get(k)) for k in self.extra})
        row["truncated"] = bool(record.get("truncated", False))
        return row

    def names(self) -> list[str]:
        return ["id", *(f"scores.{l}" for l in self.labels), "labels", "model", *self.extra, "truncated"]

    def arrow_schema(self) -> Any:
        import pyarrow as pa

        cols = [pa.field("id", pa.string()), pa.field("scores", pa.struct([pa.field(l, pa.float64()) for l in self.labels])),
                pa.field("labels", pa.list_(pa.string())), pa.field("model", pa.string())]
        cols += [pa.field(k, pa.int64() if k == "position" else pa.string()) for k in self.extra]
        return pa.schema(cols + [pa.field("truncated", pa.bool_())])


def write_chunk(path: Path, records: Sequence[dict[str, Any]], fmt: str, columns: Columns, header: bool) -> None:
    """Write one chunk of output records to ``path`` (the caller makes it visible atomically)."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = []
        for r in records:
            flat = columns.flat(r)
            flat["scores"] = {l: flat.pop(f"scores.{l}") for l in columns.labels}
            rows.append(flat)
        pq.write_table(pa.Table.from_pylist(rows, schema=columns.arrow_schema()), path)
        return
    with open(path, "w", encoding="utf-8", newline="") as fh:
        if fmt == "jsonl":
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        else:
            flat = [columns.flat(r) for r in records]
            for row in flat:
                row["labels"] = ";".join(row["labels"])
            writer = csv.DictWriter(fh, fieldnames=columns.names())
            if header:
                writer.writeheader()
            writer.writerows(flat)
        fh.flush()
        os.fsync(fh.fileno())


def concat_chunks(chunks: Sequence[Path], out: Path, fmt: str, columns: Columns) -> None:
    """Join chunk files into ``out`` (streaming: Parquet via ParquetWriter, text by bytes)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(out, columns.arrow_schema()) as writer:
            for chunk in chunks:
                writer.write_table(pq.read_table(chunk, schema=columns.arrow_schema()))
        return
    with open(out, "wb") as dst:
        for chunk in chunks:
            with open(chunk, "rb") as src:
                while block := src.read(1 << 20):
                    dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())
