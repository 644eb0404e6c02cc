"""ONNX backend on a tiny model: export, equal scores, stale and missing exports, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from moderation.cli import app
from moderation.model import Moderator
from moderation.onnx_backend import CHECK_TEXTS, ONNX_FILE, export_onnx

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

TEXTS = list(CHECK_TEXTS) + ["You people are a disgrace.", "", "Read the report before you comment."]


@pytest.fixture
def model_copy(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A private copy: exporting writes into the model folder."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "tiny"))


def test_export_gives_the_same_probabilities(model_copy: Path) -> None:
    result = export_onnx(Moderator.load(model_copy))
    assert (model_copy / ONNX_FILE).is_file() and result["max_prob_diff"] <= 0.01
    torch_model = Moderator.load(model_copy)
    onnx_model = Moderator.load(model_copy, backend="onnx")
    assert onnx_model.backend == "onnx"
    np.testing.assert_allclose(onnx_model.predict_proba(TEXTS), torch_model.predict_proba(TEXTS), atol=1e-4)
    assert [s.labels for s in onnx_model.score(TEXTS)] == [s.labels for s in torch_model.score(TEXTS)]


def test_missing_and_stale_exports_are_refused(model_copy: Path) -> None:
    from moderation.errors import ModelError

    with pytest.raises(ModelError, match="export-onnx"):
        Moderator.load(model_copy, backend="onnx")
    export_onnx(Moderator.load(model_copy))
    # New weights (say, a retrain saved over a copy) make the old export stale.
    changed = Moderator.load(model_copy)
    with torch.no_grad():
        changed.net.classifier.bias += 1.0
    changed.save(model_copy)
    with pytest.raises(ModelError, match="stale"):
        Moderator.load(model_copy, backend="onnx")


def test_cli_export_then_score_with_onnx(tmp_path: Path, model_copy: Path) -> None:
    runner = CliRunner()
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(TEXTS)), encoding="utf-8")

    missing = runner.invoke(app, ["score", str(src), "-o", str(tmp_path / "x.jsonl"), "--model", str(model_copy), "--backend", "onnx", "-q"])
    assert missing.exit_code == 2 and missing.stderr.startswith("error: no ONNX export") and "Traceback" not in missing.output

    exported = runner.invoke(app, ["models", "export-onnx", str(model_copy)])
    assert exported.exit_code == 0, exported.output
    assert "max probability difference" in exported.stdout

    outs = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / f"{backend}.jsonl"
        result = runner.invoke(app, ["score", str(src), "-o", str(out), "--model", str(model_copy), "--backend", backend, "-q"])
        assert result.exit_code == 0, result.output
        outs[backend] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in outs["onnx"]] == [r["id"] for r in outs["torch"]]
    for a, b in zip(outs["torch"], outs["onnx"]):
        assert max(abs(a["scores"][k] - b["scores"][k]) for k in a["scores"]) <= 1e-3


def test_unknown_backend_is_a_one_line_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "x"}\n')
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", str(tiny_model_dir), "--backend", "tvm"])
    assert result.exit_code == 2 and result.stderr == "error: unknown backend 'tvm' (use torch or onnx)\n"


def test_service_scores_on_onnx(model_copy: Path) -> None:
    from fastapi.testclient import TestClient

    from moderation.service.app import create_app
    from moderation.service.settings import Settings

    export_onnx(Moderator.load(model_copy))
    comments = [{"id": str(i), "text": t} for i, t in enumerate(TEXTS[:4])]
    with TestClient(create_app(Settings(model_dir=str(model_copy), backend="onnx"))) as client:
        response = client.post("/v1/score", json={"comments": comments})
    assert response.status_code == 200, response.text
    expected = Moderator.load(model_copy).score([c["text"] for c in comments])
    for got, want in zip(response.json()["results"], expected):
        assert max(abs(got["scores"][k] - want.scores[k]) for k in want.scores) <= 1e-3
