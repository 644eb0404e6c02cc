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


def test_a_label_file_with_conflicting_labels_follows_on_conflict(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _labels(tmp_path / "clash.csv", "fine")
    path.write_text(path.read_text() + "fine comment 0,1\n")  # "fine comment 0" was labelled 0 above
    def label_of(**options: object) -> list[float]:
        table = recorded_table({"seed": 1, "sources": {str(path): {"val_fraction": 0.5, **options}}})
        return table.loc[table["text"] == "fine comment 0", "hostility"].tolist()

    assert label_of() == [0.0]  # the first copy, as before the option existed
    assert "conflicting" not in capsys.readouterr().err
    assert label_of(on_conflict="first") == [0.0]
    assert "1 texts in" in capsys.readouterr().err
    assert label_of(on_conflict="mean") == [0.5]
    assert label_of(on_conflict="drop") == []
    with pytest.raises(Exception, match="conflicting labels for the same text"):
        label_of(on_conflict="error")
    with pytest.raises(ValueError, match="on_conflict must be one of"):
        label_of(on_conflict="median")
