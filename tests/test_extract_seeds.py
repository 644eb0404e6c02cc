"""The five real seed dumps are reproduced exactly (tests/fixtures/seeds, copied from ../shared/seeds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moderation.extract import extract_path

SEEDS = sorted((Path(__file__).parent / "fixtures" / "seeds").glob("*.txt"))


def test_all_five_seeds_are_shipped() -> None:
    assert len(SEEDS) == 5


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem[:3])
def test_seed_matches_gold(path: Path) -> None:
    gold = json.loads(path.with_suffix(".gold.json").read_text(encoding="utf-8"))
    got = extract_path(path).to_dict()
    assert got["source"] == str(path)
    assert "warnings" not in got
    for key in ("title", "metadata", "article", "translations", "boilerplate"):
        assert got[key] == gold[key], key
    assert [{"author": c["author"], "text": c["text"]} for c in got["comments"]] == gold["comments"]
    assert [c["id"] for c in got["comments"]] == [f"c{i}" for i in range(1, len(gold["comments"]) + 1)]
