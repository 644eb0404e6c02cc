"""Inference backends on a tiny model: fp32 torch, bf16 autocast and auto; CLI and service."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from moderation.cli import app
from moderation.cpu import bf16_flags, choose_backend, cpu_info, has_bf16_matrix_units
from moderation.model import Moderator

# Short and long, calm and hostile, claims and opinion, and an empty text (a rejected row).
TEXTS = [
    "Thanks for the clear reporting, this helped me understand the vote.",
    "You are a pathetic idiot and everyone here knows it.",
    "The vaccine contains microchips that track your location.",
    "I think the council should have waited for the audit before deciding.",
    "Get out of this country, you people are vermin.",
    "Unemployment fell to 3.9 percent last month according to the labor department.",
    "lol",
    " ".join(["The committee met for hours and argued about the budget line by line."] * 12),
    "You people are a disgrace.",
    "",
    "Read the report before you comment.",
]


def test_unknown_backend_is_a_one_line_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "x"}\n')
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", str(tiny_model_dir), "--backend", "tvm"])
    assert result.exit_code == 2 and result.stderr == "error: unknown backend 'tvm' (use auto, torch, bf16)\n"


def test_service_scores_on_bf16(tiny_model_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from moderation.service.app import create_app
    from moderation.service.settings import Settings

    comments = [{"id": str(i), "text": t} for i, t in enumerate(TEXTS[:4])]
    with TestClient(create_app(Settings(model_dir=str(tiny_model_dir), backend="bf16"))) as client:
        response = client.post("/v1/score", json={"comments": comments})
    assert response.status_code == 200, response.text
    expected = Moderator.load(tiny_model_dir, backend="torch").score([c["text"] for c in comments])
    for got, want in zip(response.json()["results"], expected):
        assert max(abs(got["scores"][k] - want.scores[k]) for k in want.scores) <= 0.01
    # The forward sub-batch follows the backend unless set (see FORWARD_BATCH for the measurements).
    for backend, forward_batch, expected in (("torch", None, 16), ("bf16", None, 64), ("bf16", 8, 8)):
        with TestClient(create_app(Settings(model_dir=str(tiny_model_dir), backend=backend, forward_batch=forward_batch))) as client:
            assert client.app.state.service.moderator.batch_size == expected
    with pytest.raises(ValueError, match="unknown backend 'onnx' \\(use auto, torch, bf16\\)"):
        Settings(model_dir=str(tiny_model_dir), backend="onnx").validate()


def test_bf16_stays_within_the_equal_scores_bar(tiny_model_dir: Path) -> None:
    fp32 = Moderator.load(tiny_model_dir, backend="torch")
    bf16 = fp32.with_backend("bf16")
    assert (fp32.backend, bf16.backend) == ("torch", "bf16") and bf16.net is fp32.net  # weights shared, not copied
    got, want = bf16.predict_proba(TEXTS), fp32.predict_proba(TEXTS)
    assert np.abs(got - want).max() <= 0.01
    assert not np.array_equal(got, want)  # it really ran in reduced precision


def test_auto_runs_what_this_cpu_measures_best(tiny_model_dir: Path) -> None:
    # Unmocked: the real flags and, on AVX-512 BF16 CPUs, the real micro-benchmark (see test_cpu.py for each case).
    model = Moderator.load(tiny_model_dir)
    again = choose_backend("auto", 32, 64)  # the cached verdict, where one was measured
    assert (again.backend, again.measured) == (model.backend_choice.backend, model.backend_choice.measured)
    assert again.cached == (model.backend_choice.measured is not None)
    assert model.backend == model.backend_choice.backend
    if has_bf16_matrix_units():
        assert model.backend == "bf16"
    if not bf16_flags(cpu_info()[1]):
        assert model.backend == "torch"


def test_cli_scores_on_bf16_in_input_order(tmp_path: Path, tiny_model_dir: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"c{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)), encoding="utf-8")
    outs = {}
    for backend in ("torch", "bf16"):
        out = tmp_path / f"{backend}.jsonl"
        result = CliRunner().invoke(app, ["score", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--backend", backend, "-q"])
        assert result.exit_code == 0, result.output
        outs[backend] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in outs["bf16"]] == [f"c{i}" for i, t in enumerate(TEXTS) if t]  # the empty text is rejected
    for a, b in zip(outs["torch"], outs["bf16"]):
        assert max(abs(a["scores"][k] - b["scores"][k]) for k in a["scores"]) <= 0.01
