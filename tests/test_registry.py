"""The registry's default pointer never ends up on a missing model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from moderation.errors import ModelError
from moderation.registry import Registry
from tests.conftest import build_tiny


def test_rollback_to_a_deleted_model_keeps_the_current_default(tmp_path: Path) -> None:
    build_tiny(tmp_path / "tiny-1.0.0", version="1.0.0")
    build_tiny(tmp_path / "tiny-1.1.0", version="1.1.0")
    registry = Registry(tmp_path)
    registry.promote("tiny-1.0.0")
    registry.promote("tiny-1.1.0")
    shutil.rmtree(tmp_path / "tiny-1.0.0")  # e.g. a repo that ships only its default
    with pytest.raises(ModelError, match="no model 'tiny-1.0.0'"):
        registry.rollback()
    assert os.readlink(tmp_path / "default") == "tiny-1.1.0"
    assert len(registry.history()) == 2
    with pytest.raises(ModelError):
        registry.promote("tiny-9.9.9")
    assert os.readlink(tmp_path / "default") == "tiny-1.1.0"


def test_names_must_be_folders_inside_the_registry(tmp_path: Path) -> None:
    build_tiny(tmp_path / "tiny-1.0.0", version="1.0.0")
    registry = Registry(tmp_path)
    with pytest.raises(ModelError, match="no default model"):
        registry.get("default")
    registry.promote("tiny-1.0.0")
    registry.promote("default")  # the pointer's own name means the folder it names, never itself
    assert os.readlink(tmp_path / "default") == "tiny-1.0.0"
    for name in (str(tmp_path / "tiny-1.0.0"), "../tiny-1.0.0", ".."):
        with pytest.raises(ModelError, match="is not a model name"):
            registry.promote(name)
    assert os.readlink(tmp_path / "default") == "tiny-1.0.0"


def test_broken_entries_are_reported_not_raised(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from moderation.cli import app

    build_tiny(tmp_path / "tiny-1.0.0", version="1.0.0")
    for name, content in (("as-list", "[1, 2]"), ("garbled", "{bad")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "moderation.json").write_text(content)
    (tmp_path / "no-weights").mkdir()
    (tmp_path / "no-weights" / "moderation.json").write_text('{"labels": ["hostility"]}')
    registry = Registry(tmp_path)
    problems = {i.name: i.problem for i in registry.list()}
    assert problems["tiny-1.0.0"] is None and "not model metadata" in problems["as-list"] and "unreadable" in problems["garbled"]
    listing = CliRunner().invoke(app, ["models", "list", "--models-dir", str(tmp_path)])
    assert listing.exit_code == 0 and "unusable" in listing.output and "tiny-1.0.0" in listing.output
    for name, message in (("garbled", "unreadable"), ("no-weights", "no model.safetensors")):
        result = CliRunner().invoke(app, ["models", "promote", name, "--models-dir", str(tmp_path)])
        assert result.exit_code == 2 and message in result.output
    registry.promote("tiny-1.0.0")
    with open(tmp_path / "history.jsonl", "a") as fh:
        fh.write("garbage\n")
    result = CliRunner().invoke(app, ["models", "rollback", "--models-dir", str(tmp_path)])
    assert result.exit_code == 2 and "history.jsonl:2: not a history record" in result.output



def test_rollback_walks_back_and_never_returns_to_the_model_it_left(tmp_path: Path) -> None:
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        build_tiny(tmp_path / f"tiny-{version}", version=version)
    registry = Registry(tmp_path)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        registry.promote(f"tiny-{version}")
    assert registry.rollback().name == "tiny-1.1.0"
    assert registry.rollback().name == "tiny-1.0.0"  # not back to 1.2.0, which was rolled back from
    with pytest.raises(ModelError, match="nothing to roll back to"):
        registry.rollback()
    registry.promote("tiny-1.2.0")
    assert registry.rollback().name == "tiny-1.0.0"
