"""Rebuilding a model's recorded training table when a derived label file is gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.evaluate import recorded_table


def _labels(path: Path, word: str) -> Path:
    path.write_text("text,hostility\n" + "".join(f"{word} comment {i},{i % 2}\n" for i in range(40)))
    return path


def test_missing_training_only_file_is_left_out_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    kept = _labels(tmp_path / "kept.csv", "kept")
    gone = tmp_path / "derived.csv"
    cfg = {"seed": 1, "sources": {str(gone): {"val_fraction": 0}, str(kept): {"val_fraction": 0.5}}}
    table = recorded_table(cfg)
    assert set(table["source"]) == {str(kept)} and (table["split"] == "validation").any()
    assert f"warning: {gone}" in capsys.readouterr().err
    # With the file present it is part of the table again, as training rows only.
    _labels(gone, "derived")
    table = recorded_table(cfg)
    assert set(table.loc[table["source"] == str(gone), "split"]) == {"train"}


def test_missing_file_with_validation_rows_is_still_an_error(tmp_path: Path) -> None:
    cfg = {"seed": 1, "sources": {str(tmp_path / "gone.csv"): {"val_fraction": 0.2}}}
    with pytest.raises(Exception, match="no such file"):
        recorded_table(cfg)
