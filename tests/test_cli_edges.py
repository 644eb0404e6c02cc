"""What a new user trips over on the command line (issue 19): failed runs, stdout, missing folders,
error wording, JSON arrays, legacy encodings, no-op promotions, help at 80 columns."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from typer.testing import CliRunner

from moderation.cli import app
from tests.conftest import build_tiny

ROOT = Path(__file__).resolve().parents[1]
SEEDS = Path(__file__).parent / "fixtures" / "seeds"
NO_COMMENTS = SEEDS / "001_60341a51864e5bb5.txt"  # an article without a comment section
TEXTS = ["you are a complete idiot", "thanks for the thoughtful article", "ok"]


def score(model: Path, *args: str, input: bytes | None = None):
    result = CliRunner().invoke(app, ["score", *args, "--model", str(model), "--quiet"], input=input)
    assert "Traceback" not in result.output
    return result


def write_jsonl(path: Path, objs: list) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


# --- OUT appears only when the run succeeded ------------------------------------------------------


def test_a_page_without_comments_gives_an_empty_output_not_an_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    # Issue 17: an article without reader comments is a normal page. Every format gets a valid empty table.
    for fmt in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"x.{fmt}"
        result = CliRunner().invoke(app, ["score", str(NO_COMMENTS), "--output", str(out), "--model", str(tiny_model_dir)])
        assert result.exit_code == 0, result.output
        assert "note: no comments found in 1 page" in result.stderr and out.is_file()
        assert not (tmp_path / f"x.{fmt}.partial").exists()
    assert (tmp_path / "x.jsonl").read_text() == "" and (tmp_path / "x.csv").read_text().startswith("id,")
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "x.parquet").num_rows == 0


@pytest.mark.parametrize("kind", ["empty", "binary", "all rows bad"])
def test_a_failed_run_leaves_no_output_file(tmp_path: Path, tiny_model_dir: Path, kind: str) -> None:
    if kind == "empty":
        (src := tmp_path / "empty.jsonl").write_bytes(b"")
    elif kind == "binary":
        (src := tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 8)
    else:
        src = write_jsonl(tmp_path / "bad.jsonl", [{"text": ""}, {"text": 3}])
    out = tmp_path / "x.jsonl"
    result = score(tiny_model_dir, str(src), "--output", str(out))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: nothing")
    assert not out.exists() and not (tmp_path / "x.jsonl.partial").exists()
    if kind in ("binary", "all rows bad"):  # the error line points at the reasons
        assert (tmp_path / "x.jsonl.errors.jsonl").is_file()


# --- --output - ---------------------------------------------------------------------------------


def test_output_dash_writes_jsonl_or_csv_to_stdout(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = "".join(json.dumps({"id": f"c{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)).encode()
    result = score(tiny_model_dir, "-", "--output", "-", input=data + b'{"id": "bad", "text": ""}\n')
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == ["c0", "c1", "c2"] and set(records[0]) == {"id", "scores", "labels", "model"}
    assert "rejected -:4 (id bad): empty text" in result.stderr
    as_csv = score(tiny_model_dir, "-", "--output", "-", "--format", "csv", input=data)
    assert as_csv.exit_code == 0, as_csv.output
    header, *rows = as_csv.stdout.splitlines()
    assert header.startswith("id,scores.hostility,") and [r.split(",")[0] for r in rows] == ["c0", "c1", "c2"]
    assert sorted(os.listdir(tmp_path)) == []  # no file named "-", nothing left behind
    parquet = score(tiny_model_dir, "-", "--output", "-", "--format", "parquet", input=data)
    assert parquet.exit_code == 2 and "Parquet cannot be streamed to stdout" in parquet.stderr
    extracted = CliRunner().invoke(app, ["extract", str(SEEDS / "000_81f09624bfe65d55.txt"), "--output", "-"])
    assert extracted.exit_code == 0 and json.loads(extracted.stdout)["comments"]
    assert sorted(os.listdir(tmp_path)) == []


def test_output_dash_works_in_a_real_pipe(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": t} for i, t in enumerate(TEXTS)])
    with open(src, "rb") as stdin:
        proc = subprocess.run([sys.executable, "-m", "moderation.cli", "score", "-", "--output", "-", "--model", str(tiny_model_dir)],
                              stdin=stdin, capture_output=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()
    assert [json.loads(line)["id"] for line in proc.stdout.decode().splitlines()] == [0, 1, 2]
    assert b"scored 3 rows" in proc.stderr and not (tmp_path / "-").exists()


# --- --output in a folder that does not exist ---------------------------------------------------------


def test_output_in_a_missing_folder_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    out = tmp_path / "nonexistent_dir" / "x.jsonl"
    result = score(tiny_model_dir, str(src), "--output", str(out))
    assert result.exit_code == 2 and f"{out.parent} does not exist; create the folder first" in result.stderr
    extracted = CliRunner().invoke(app, ["extract", str(NO_COMMENTS), "--output", str(out)])
    assert extracted.exit_code == 2 and "does not exist" in extracted.stderr
    assert not out.parent.exists()
    (tmp_path / "file").write_text("x")
    result = score(tiny_model_dir, str(src), "--output", str(tmp_path / "file" / "x.jsonl"))
    assert result.exit_code == 2 and "is not a folder" in result.stderr


# --- error wording and JSON arrays -------------------------------------------------------------------


def test_malformed_json_reason_reads_once(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text": "fine"}\n{"id": 2, "text": "tab\tinside"}\n')
    assert score(tiny_model_dir, str(src), "--output", str(tmp_path / "o.jsonl")).exit_code == 0
    reason = json.loads((tmp_path / "o.jsonl.errors.jsonl").read_text())["reason"]
    assert reason == "malformed JSON: Invalid control character at column 23", reason


def test_a_json_array_is_read_as_rows(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = tmp_path / "comments.json"
    src.write_text(json.dumps([{"id": "a", "text": TEXTS[0]}, {"id": "b", "text": TEXTS[1]}, 7], indent=2))
    out = tmp_path / "o.jsonl"
    result = score(tiny_model_dir, str(src), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "b"]
    error = json.loads((tmp_path / "o.jsonl.errors.jsonl").read_text())
    assert error["line"] == 3 and error["reason"] == "not a JSON object but int (JSONL is one object per line)"
    piped = score(tiny_model_dir, "-", "--output", str(tmp_path / "p.jsonl"), input=src.read_bytes())
    assert piped.exit_code == 0, piped.output
    (broken := tmp_path / "broken.json").write_text('[{"text": "a"},\n {"text": }]')
    result = score(tiny_model_dir, str(broken), "--output", str(tmp_path / "b.jsonl"))
    assert result.exit_code == 2 and "malformed JSON array" in result.stderr and "line 2" in result.stderr


# --- --encoding ---------------------------------------------------------------------------------


def test_encoding_reads_a_cp1252_csv(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = tmp_path / "excel.csv"
    src.write_bytes("id,author,text\n1,José,Quelle idée – bravo\n2,Zoë,“Great” piece\n".encode("cp1252"))
    out = tmp_path / "o.jsonl"
    default = score(tiny_model_dir, str(src), "--output", str(out))
    assert default.exit_code == 2  # as UTF-8 every row is invalid
    errors = [json.loads(line) for line in (tmp_path / "o.jsonl.errors.jsonl").read_text().splitlines()]
    assert len(errors) == 2 and errors[0]["reason"].startswith("invalid UTF-8 at byte")
    result = score(tiny_model_dir, str(src), "--output", str(out), "--encoding", "cp1252", "--keep-fields", "author")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["author"] for line in out.read_text().splitlines()] == ["José", "Zoë"]
    assert not (tmp_path / "o.jsonl.errors.jsonl").exists()
    latin = score(tiny_model_dir, "-", "--output", str(tmp_path / "l.jsonl"), "--encoding", "latin-1",
                  input='{"text": "ça va très bien"}\n'.encode("latin-1"))
    assert latin.exit_code == 0, latin.output
    for bad, message in (("klingon", "unknown encoding"), ("utf-16", "only encodings that extend ASCII")):
        result = score(tiny_model_dir, str(src), "--output", str(out), "--encoding", bad)
        assert result.exit_code == 2 and message in result.stderr, result.output


# --- the registry --------------------------------------------------------------------------------------


def test_promoting_the_current_default_changes_nothing(tmp_path: Path) -> None:
    build_tiny(tmp_path / "tiny-1.0.0", version="1.0.0")
    runner = CliRunner()
    first = runner.invoke(app, ["models", "promote", "tiny-1.0.0", "--models-dir", str(tmp_path)])
    assert first.exit_code == 0 and "default -> tiny-1.0.0" in first.output
    history = (tmp_path / "history.jsonl").read_bytes()
    again = runner.invoke(app, ["models", "promote", "tiny-1.0.0", "--models-dir", str(tmp_path)])
    assert again.exit_code == 0 and "tiny-1.0.0 is already the default; nothing changed" in again.output
    by_pointer = runner.invoke(app, ["models", "promote", "default", "--models-dir", str(tmp_path)])
    assert by_pointer.exit_code == 0 and "already the default" in by_pointer.output
    assert (tmp_path / "history.jsonl").read_bytes() == history


# --- the repository ----------------------------------------------------------------------------------


def test_the_readme_first_commands_output_is_git_ignored() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for name in ("scores.jsonl", "scores.jsonl.errors.jsonl", "scores.jsonl.partial/journal.json"):
        assert subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT).returncode == 0, name


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        found += _commands(command, prefix + (name,)) if hasattr(command, "list_commands") else [prefix + (name,)]
    return found


@pytest.mark.parametrize("command", _commands(typer.main.get_command(app)), ids=lambda c: " ".join(c) or "moderation")
def test_help_fits_80_columns(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.output, [line for line in lines if "…" in line]
    for option in ("--coral-secret-env", "--api-key-env", "--max-body-bytes") if command == ("serve",) else ():
        assert option in result.output  # whole, not cut short
