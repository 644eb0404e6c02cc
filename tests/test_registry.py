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
