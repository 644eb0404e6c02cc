"""Bad input through ``moderation extract``: one-line error/warning, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from moderation.cli import app
from moderation.extract import constants as C

runner = CliRunner()
SEED = Path(__file__).parent / "fixtures" / "seeds" / "004_5390a125043288db.txt"


def run(*args: str):
    result = runner.invoke(app, ["extract", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def one_line(text: str, prefix: str, name: str) -> None:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix) and name in lines[0], text


def test_help_documents_exit_codes() -> None:
    result = runner.invoke(app, ["extract", "--help"])
    assert result.exit_code == 0
    assert "Exit codes" in result.output and "Examples" in result.output


def test_missing_path(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.txt"))
    assert result.exit_code == 2
    one_line(result.stderr, "error:", "nope.txt")


def test_directory(tmp_path: Path) -> None:
    result = run(str(tmp_path))
    assert result.exit_code == 2
    one_line(result.stderr, "error:", "directory")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"  \n\n")
    result = run(str(path))
    assert result.exit_code == 2
    one_line(result.stderr, "error:", "empty")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    result = run(str(path))
    assert result.exit_code == 2
    one_line(result.stderr, "error:", "binary")


def test_invalid_utf8_is_best_effort(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(SEED.read_bytes() + "\n\nCaf\u00e9 au lait is what I want, said nobody.\n".encode("latin-1"))
    result = run(str(path))
    assert result.exit_code == 0
    one_line(result.stderr, "warning:", "invalid UTF-8")
    record = json.loads(result.stdout)
    assert record["title"].startswith("US Urges Israel")
    assert "\ufffd" in json.dumps(record, ensure_ascii=False)


def test_50_mb_file_is_truncated_with_warning(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    block = SEED.read_bytes() + b"\n\nThis is a reader comment, I think it is too long.\n\n"
    path.write_bytes(block * (50_000_000 // len(block) + 1))
    assert path.stat().st_size >= 50_000_000
    result = run(str(path))
    assert result.exit_code == 0
    one_line(result.stderr, "warning:", "only the first")
    record = json.loads(result.stdout)
    assert record["article"] and sum(len(p) for p in record["article"]) <= C.MAX_INPUT_CHARS


def test_good_and_bad_files_together(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = run(str(SEED), str(tmp_path / "missing.txt"), "--output", str(out), "--strict")
    assert result.exit_code == 1
    one_line(result.stderr, "error:", "missing.txt")
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 1 and records[0]["source"] == str(SEED)
