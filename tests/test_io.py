"""Readers and writers of ``moderation score``: every input and output format, bad rows, fields."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from moderation.cli import app
from moderation.errors import InputError
from moderation.io import Fields, estimate_rows, expand_inputs, read_input
from moderation.types import MAX_CHARS

SEEDS = Path(__file__).parent / "fixtures" / "seeds"
TEXTS = ["you are a complete idiot", "thanks for the thoughtful article", "the vote was rigged by billions in untraceable bills", "ok"]


def rows_of(path: Path, **kw) -> list:
    return list(read_input(str(path), Fields(**kw)))


def write_jsonl(path: Path, objs: list) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def score(tiny_model_dir: Path, *args: str, input: bytes | None = None):
    result = CliRunner().invoke(app, ["score", *args, "--model", str(tiny_model_dir), "--quiet"], input=input)
    assert "Traceback" not in result.output
    return result


# --- readers -----------------------------------------------------------------------------


def test_jsonl_rows_line_numbers_and_ids(tmp_path: Path) -> None:
    p = tmp_path / "in.jsonl"
    p.write_bytes(b'{"id": "a", "text": "one"}\n\n{"text": "two"}\n{"id": "", "text": "three"}\n')
    rows = rows_of(p)
    assert [(r.line, r.id, r.text) for r in rows] == [(1, "a", "one"), (3, 3, "two"), (4, 4, "three")]
    assert all(r.reason is None for r in rows)


def test_jsonl_bad_rows_become_reasons(tmp_path: Path) -> None:
    p = tmp_path / "in.jsonl"
    p.write_bytes(b'{"text": "fine"}\n{"text": "broken\n[1, 2]\n{"text": null}\n{"text": 3}\n{"text": "  "}\n{"text": "caf\xe9"}\n')
    reasons = [r.reason for r in rows_of(p)]
    assert reasons[0] is None
    assert reasons[1].startswith("malformed JSON")
    assert reasons[2] == "not a JSON object but list (JSONL is one object per line)"
    assert reasons[3] == "missing text field 'text'"
    assert reasons[4] == "text field 'text' is int, not a string"
    assert reasons[5] == "empty text"
    assert reasons[6].startswith("invalid UTF-8")


def test_long_text_is_truncated(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "in.jsonl", [{"text": "x" * (MAX_CHARS + 10)}, {"text": "short"}])
    long, short = rows_of(p)
    assert long.truncated and len(long.text) == MAX_CHARS
    assert not short.truncated


@pytest.mark.parametrize("name", ["in.jsonl", "in.csv", "in.parquet"])
def test_unknown_field_names_field_and_available(tmp_path: Path, name: str) -> None:
    p = tmp_path / name
    if name.endswith(".jsonl"):
        write_jsonl(p, [{"body": "x", "n": 1}])
    elif name.endswith(".csv"):
        p.write_text("body,n\nx,1\n")
    else:
        pq.write_table(pa.table({"body": ["x"], "n": [1]}), p)
    with pytest.raises(InputError, match=r"unknown field 'text' \(available: body, n\)"):
        rows_of(p)


def test_jsonl_row_missing_text_is_not_an_unknown_field(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "in.jsonl", [{"other": 1}, {"text": "here"}])
    assert [r.reason for r in rows_of(p)] == ["missing text field 'text'", None]


def test_csv_malformed_rows_and_multiline_fields(tmp_path: Path) -> None:
    p = tmp_path / "in.csv"
    p.write_bytes(b'id,text\n1,plain\n2,"bad"quote\n3,"two\nlines"\n4,too,many\n5,caf\xe9\n6,last\n')
    rows = rows_of(p)
    assert [(r.line, r.id) for r in rows] == [(2, "1"), (3, 2), (4, "3"), (6, 4), (7, 5), (8, "6")]
    assert rows[0].reason is None and rows[2].text == "two\nlines"
    assert rows[1].reason.startswith("malformed CSV row")
    assert rows[3].reason == "malformed CSV row: 3 fields, header has 2"
    assert rows[4].reason.startswith("invalid UTF-8")
    assert rows[5].reason is None


def test_tsv_and_kept_fields(tmp_path: Path) -> None:
    p = tmp_path / "in.tsv"
    p.write_text("cid\tbody\tauthor\n7\thi, there\tann\n")
    (row,) = rows_of(p, text="body", id="cid", keep=("author",))
    assert (row.id, row.text, row.fields) == ("7", "hi, there", {"author": "ann"})


def test_parquet_binary_text_must_be_utf8(tmp_path: Path) -> None:
    p = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": pa.array([b"good", b"caf\xe9", None], pa.binary())}), p)
    rows = rows_of(p)
    assert rows[0].text == "good"
    assert rows[1].reason.startswith("invalid UTF-8")
    assert rows[2].reason == "missing text field 'text'"


def test_pages_carry_source_author_position_title() -> None:
    rows = rows_of(SEEDS / "000_81f09624bfe65d55.txt")
    assert len(rows) > 5
    assert [r.fields["position"] for r in rows] == list(range(1, len(rows) + 1))
    assert set(rows[0].fields) == {"source", "author", "position", "title"}
    assert rows[0].id == "c1"


def test_expand_inputs(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ["d/b.html", "d/a.txt", "d/sub/c.jsonl", "d/.hidden", "d/gold.json", "d/logo.png"]:
        (tmp_path / name).write_text("x")
    assert [Path(p).relative_to(tmp_path).as_posix() for p in expand_inputs([str(tmp_path / "d")])] == ["d/a.txt", "d/b.html", "d/sub/c.jsonl"]
    with pytest.raises(InputError, match="no such file"):
        expand_inputs([str(tmp_path / "missing.jsonl")])


def test_estimate_rows(tmp_path: Path) -> None:
    j = write_jsonl(tmp_path / "a.jsonl", [{"text": "x"}] * 3)
    c = tmp_path / "b.csv"
    c.write_text("text\nx\ny\n")
    assert estimate_rows([str(j), str(c)]) == 5
    assert estimate_rows([str(SEEDS / "000_81f09624bfe65d55.txt")]) is None


# --- formats end to end -------------------------------------------------------------------


def read_output(path: Path) -> list[dict]:
    """Output records as JSON-like dicts, whatever the format."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "tsv", "parquet"])
def test_each_input_format(tmp_path: Path, tiny_model_dir: Path, fmt: str) -> None:
    src = tmp_path / f"in.{fmt}"
    ids = [f"r{i}" for i in range(len(TEXTS))]
    if fmt == "jsonl":
        write_jsonl(src, [{"id": i, "text": t} for i, t in zip(ids, TEXTS)])
    elif fmt == "parquet":
        pq.write_table(pa.table({"id": ids, "text": TEXTS}), src)
    else:
        with open(src, "w", newline="") as fh:
            w = csv.writer(fh, delimiter="\t" if fmt == "tsv" else ",")
            w.writerows([["id", "text"], *zip(ids, TEXTS)])
    out = tmp_path / "out.jsonl"
    result = score(tiny_model_dir, str(src), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_output(out)] == ids
    # The same table gzip-compressed (every format, Parquet included).
    import gzip

    packed = tmp_path / f"in.{fmt}.gz"
    packed.write_bytes(gzip.compress(src.read_bytes()))
    result = score(tiny_model_dir, str(packed), "--output", str(tmp_path / "gz.jsonl"))
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_output(tmp_path / "gz.jsonl")] == ids


@pytest.mark.parametrize("payload", ["jsonl", "csv"])
def test_stdin(tmp_path: Path, tiny_model_dir: Path, payload: str) -> None:
    data = "".join(json.dumps({"text": t}) + "\n" for t in TEXTS) if payload == "jsonl" else "text\n" + "\n".join(TEXTS) + "\n"
    out = tmp_path / "out.jsonl"
    result = score(tiny_model_dir, "-", "--output", str(out), input=data.encode())
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_output(out)] == [1, 2, 3, 4]


def test_stdin_parquet_is_told_by_its_magic_number(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"], "text": TEXTS}), src)
    out = tmp_path / "out.jsonl"
    result = score(tiny_model_dir, "-", "--output", str(out), input=src.read_bytes())
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_output(out)] == ["a", "b", "c", "d"]


def test_stdin_plain_text_page_needs_stdin_format_page(tmp_path: Path, tiny_model_dir: Path) -> None:
    page = (SEEDS / "000_81f09624bfe65d55.txt").read_bytes()
    guessed = score(tiny_model_dir, "-", "--output", str(tmp_path / "guess.jsonl"), input=page)
    assert guessed.exit_code == 2 and "pass --stdin-format page" in guessed.output
    assert len(guessed.output) < 400  # a header that is really a sentence is clipped in the error
    out = tmp_path / "out.csv"
    result = score(tiny_model_dir, "-", "--stdin-format", "page", "--output", str(out), input=page)
    assert result.exit_code == 0, result.output
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 30 and rows[0]["source"] == "stdin" and rows[-1]["position"] == "30"


def test_stdin_html_after_blank_lines_is_a_page_and_gzip_is_named(tmp_path: Path, tiny_model_dir: Path) -> None:
    import gzip

    html = b"\n  \n<html><body><article><p>" + b"The council met. " * 30 + b"</p></article></body></html>\n"
    result = score(tiny_model_dir, "-", "--output", str(tmp_path / "out.jsonl"), input=html)
    # Read as a page (which holds no comments), not as JSONL rows that all fail to parse: an
    # article without comments is not an error, the output is empty and stderr says so.
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.jsonl").read_text() == ""

    packed = score(tiny_model_dir, "-", "--output", str(tmp_path / "gz.jsonl"), input=gzip.compress(b'{"text": "hi"}\n'))
    assert packed.exit_code == 2 and "stdin is gzip-compressed" in packed.output


@pytest.mark.parametrize("args, message", [
    (["-", "--stdin-format", "yaml"], "--stdin-format must be one of auto, jsonl, csv, tsv, parquet, page"),
    (["in.jsonl", "--stdin-format", "page"], "--stdin-format describes stdin: add - to the inputs"),
    (["-", "-"], "- (stdin) can be given once"),
])
def test_stdin_format_mistakes(tmp_path: Path, tiny_model_dir: Path, args: list[str], message: str) -> None:
    result = score(tiny_model_dir, *args, "--output", str(tmp_path / "out.jsonl"), input=b'{"text": "hi"}\n')
    assert result.exit_code == 2 and message in result.output


def test_page_dump_file_and_folder(tmp_path: Path, tiny_model_dir: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    page = (SEEDS / "000_81f09624bfe65d55.txt").read_bytes()
    for name in ("b.txt", "a.txt"):
        (folder / name).write_bytes(page)
    (folder / "a.gold.json").write_text('{"not": "a page"}')  # skipped in folders
    out_file, out_dir = tmp_path / "one.jsonl", tmp_path / "all.jsonl"
    assert score(tiny_model_dir, str(folder / "a.txt"), "-o", str(out_file)).exit_code == 0
    result = score(tiny_model_dir, str(folder), "-o", str(out_dir))
    assert result.exit_code == 0, result.output
    one, every = read_output(out_file), read_output(out_dir)
    assert {"source", "author", "position", "title", "scores", "labels", "model"} <= set(one[0])
    assert one[0]["source"].endswith("a.txt") and one[0]["position"] == 1
    assert len(every) == 2 * len(one) and not (tmp_path / "all.jsonl.errors.jsonl").exists()
    assert every[: len(one)] == one  # files in name order, comments in page order
    assert [r["position"] for r in every] == [r["position"] for r in one] * 2


def test_output_formats_agree(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": t, "lang": "en"} for i, t in enumerate(TEXTS)])
    outs = {fmt: tmp_path / f"out.{fmt}" for fmt in ("jsonl", "csv", "parquet")}
    for out in outs.values():
        assert score(tiny_model_dir, str(src), "-o", str(out), "--keep-fields", "lang").exit_code == 0
    jsonl, table, parquet = (read_output(outs[f]) for f in ("jsonl", "csv", "parquet"))
    assert [r["id"] for r in jsonl] == list(range(len(TEXTS)))
    for j, c, p in zip(jsonl, table, parquet):
        assert c["id"] == p["id"] == str(j["id"])
        assert c["lang"] == p["lang"] == j["lang"] == "en"
        assert p["scores"] == j["scores"]
        assert {k[len("scores."):]: float(v) for k, v in c.items() if k.startswith("scores.")} == j["scores"]
        assert c["labels"].split(";") if c["labels"] else [] == j["labels"] == p["labels"]
        assert p["truncated"] is False and c["truncated"] == "False"


def test_format_option_overrides_extension(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    out = tmp_path / "scores.out"
    assert score(tiny_model_dir, str(src), "-o", str(out), "--format", "parquet").exit_code == 0
    assert pq.read_table(out).num_rows == len(TEXTS)
    result = score(tiny_model_dir, str(src), "-o", str(tmp_path / "scores.out2"))
    assert result.exit_code == 2 and "--format" in result.stderr


# --- inputs users get wrong -------------------------------------------------------------


def test_lone_surrogates_are_rejected_rows_not_a_crash(tmp_path: Path, tiny_model_dir: Path) -> None:
    # JSON may escape a lone surrogate ("\udc00"); no UTF-8 output and no tokenizer can take it.
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": "bad \\udc00"}\n{"id": "\\ud800c", "text": "ok"}\n{"id": "d", "text": "fine too"}\n')
    out = tmp_path / "out.jsonl"
    result = score(tiny_model_dir, str(src), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_output(out)] == ["a", "d"]
    errors = read_output(tmp_path / "out.jsonl.errors.jsonl")
    assert [(e["line"], e["reason"]) for e in errors] == [
        (2, "invalid Unicode (a lone surrogate) in the text"), (3, "invalid Unicode (a lone surrogate) in the id or a kept field")]
    assert errors[1]["id"] == "\\ud800c"  # escaped, so the errors file itself stays valid UTF-8


def test_byte_order_mark_does_not_hide_the_header(tmp_path: Path) -> None:
    p = tmp_path / "excel.csv"
    p.write_bytes(b"\xef\xbb\xbfid,text\nx1,hello\n")
    assert [(r.id, r.text) for r in rows_of(p)] == [("x1", "hello")]
    j = tmp_path / "bom.jsonl"
    j.write_bytes(b'\xef\xbb\xbf{"id": "j1", "text": "hello"}\n')
    assert [(r.id, r.reason) for r in rows_of(j)] == [("j1", None)]


def test_tsv_reads_quote_marks_as_text(tmp_path: Path) -> None:
    p = tmp_path / "in.tsv"
    p.write_text('id\ttext\n1\t"Fake news" is what they call it\n2\t"unbalanced\n3\tnext\n')
    assert [(r.id, r.text) for r in rows_of(p)] == [("1", '"Fake news" is what they call it'), ("2", '"unbalanced'), ("3", "next")]


def test_csv_unclosed_quote_names_the_lines_it_swallowed(tmp_path: Path) -> None:
    p = tmp_path / "in.csv"
    p.write_text('id,text\n1,plain\n2,"unclosed\n3,next\n4,more\n')
    rows = rows_of(p)
    assert [r.text for r in rows if r.reason is None] == ["plain"]
    assert rows[1].reason.startswith("malformed CSV row (lines 3-5 read as one row)")


@pytest.mark.parametrize("damage", ["truncated", "not gzip"])
def test_unreadable_gzip_is_one_error_naming_the_input(tmp_path: Path, tiny_model_dir: Path, damage: str) -> None:
    import gzip

    data = "".join(json.dumps({"text": f"comment {i}"}) + "\n" for i in range(3000)).encode()
    src = tmp_path / "in.jsonl.gz"
    src.write_bytes(gzip.compress(data)[:200] if damage == "truncated" else data)
    result = score(tiny_model_dir, str(src), "--output", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2 and f"error: {src}: cannot read" in result.output
    assert not (tmp_path / "out.jsonl.partial").exists()  # nothing committed, so nothing to block a rerun


def test_failed_stdin_run_leaves_nothing_behind(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "out.jsonl"
    data = b'{"text": "hello"}\n'
    first = score(tiny_model_dir, "-", "--output", str(out), "--text-field", "body", input=data)
    assert first.exit_code == 2 and "unknown field 'body'" in first.output
    again = score(tiny_model_dir, "-", "--output", str(out), input=data)
    assert again.exit_code == 0, again.output
    empty = score(tiny_model_dir, "-", "--output", str(tmp_path / "e.jsonl"), input=b"")
    assert empty.exit_code == 2 and "nothing to score: the inputs hold no rows" in empty.output


def test_output_that_is_a_folder_or_an_input_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    (tmp_path / "out.jsonl").mkdir()
    result = score(tiny_model_dir, str(src), "--output", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2 and "is a folder" in result.output
    result = score(tiny_model_dir, str(src), "--output", str(src))
    assert result.exit_code == 2 and "is also an input" in result.output
    assert src.read_text().count("\n") == len(TEXTS)  # the input is untouched
    page = tmp_path / "page.txt"
    page.write_bytes((SEEDS / "000_81f09624bfe65d55.txt").read_bytes())
    result = CliRunner().invoke(app, ["extract", str(page), "--output", str(page)])
    assert result.exit_code == 2 and "is also an input" in result.output and page.stat().st_size > 0
    result = CliRunner().invoke(app, ["extract", str(page), "--output", str(tmp_path / "new" / "dir" / "pages.jsonl")])
    assert result.exit_code == 2 and "create the folder first" in result.output and not (tmp_path / "new").exists()


def test_page_warnings_reach_the_user_and_kept_page_fields_are_not_doubled(tmp_path: Path, tiny_model_dir: Path) -> None:
    raw = (SEEDS / "000_81f09624bfe65d55.txt").read_bytes()
    cut = raw.index(b"Thank you President")
    page = tmp_path / "page.txt"
    page.write_bytes(raw[:cut] + b"\xff" + raw[cut:])
    out = tmp_path / "out.parquet"
    result = score(tiny_model_dir, str(page), "--output", str(out), "--keep-fields", "author,author")
    assert result.exit_code == 0, result.output
    assert f"warning: {page}: invalid UTF-8" in result.output
    table = pq.read_table(out)
    assert table.column_names.count("author") == 1 and table.num_rows == 30
