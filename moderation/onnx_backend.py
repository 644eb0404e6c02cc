"""ONNX Runtime backend: export a model directory to ``model.onnx`` and run it.

The export is fp32 and adds one file next to the weights (git-ignored, about 90 MB for
MiniLM). It records the sha256 of the weights it came from, so a stale export is refused
rather than silently used. int8 dynamic quantisation was measured and is not offered: on
the default model it was faster but moved probabilities by up to 0.12 (bar: 0.01); see
the README's speed section.

Needs the ``onnx`` extra: ``pip install "moderation[onnx]"``.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from moderation.errors import ModelError

if TYPE_CHECKING:
    from moderation.model import Moderator

ONNX_FILE = "model.onnx"
WEIGHTS_HASH_KEY = "weights_sha256"
OPSET = 17
MAX_PROB_DIFF = 0.01  # the equal-scores bar an export must meet against torch

# Probe sentences for the export check: short and long, calm and hostile, claims and opinion.
CHECK_TEXTS = (
    "Thanks for the clear reporting, this helped me understand the vote.",
    "You are a pathetic idiot and everyone here knows it.",
    "The vaccine contains microchips that track your location.",
    "I think the council should have waited for the audit before deciding.",
    "Get out of this country, you people are vermin.",
    "Unemployment fell to 3.9 percent last month according to the labor department.",
    "lol",
    " ".join(["The committee met for hours and argued about the budget line by line."] * 12),
)


def _require_onnxruntime():  # noqa: ANN202 - returns the module
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError('the ONNX backend needs onnxruntime: pip install "moderation[onnx]"') from exc
    return onnxruntime


def weights_sha256(model_dir: Path) -> str:
    from moderation.model import WEIGHTS_FILE

    digest = hashlib.sha256()
    with open(model_dir / WEIGHTS_FILE, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OnnxForward:
    """A callable ``(input_ids, attention_mask) -> logits`` backed by an ONNX Runtime session."""

    def __init__(self, model_dir: Path, threads: int | None = None):
        import torch

        ort = _require_onnxruntime()
        path = model_dir / ONNX_FILE
        if not path.is_file():
            raise ModelError(f"no ONNX export at {path}: run `moderation models export-onnx {model_dir}` first")
        options = ort.SessionOptions()
        # Follow torch's setting, which `moderation serve --workers N` lowers so workers split the cores.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a corrupt file
            raise ModelError(f"ONNX export at {path} cannot be loaded: {str(exc).splitlines()[0]}") from exc
        recorded = self.session.get_modelmeta().custom_metadata_map.get(WEIGHTS_HASH_KEY)
        if recorded != weights_sha256(model_dir):
            raise ModelError(f"ONNX export at {path} is stale (made from other weights): run `moderation models export-onnx` again")

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)}
        return self.session.run(None, feeds)[0]


def export_onnx(moderator: "Moderator", check_texts: tuple[str, ...] = CHECK_TEXTS) -> dict[str, float]:
    """Write ``model.onnx`` into the folder ``moderator`` was loaded from, and verify it.

    Returns ``{"max_prob_diff": ..., "size_mb": ...}``; raises ModelError (and removes
    the file) if probabilities differ from torch by more than MAX_PROB_DIFF.
    """
    import torch

    _require_onnxruntime()
    try:
        import onnx
    except ImportError as exc:
        raise ModelError('exporting needs the onnx package: pip install "moderation[onnx]"') from exc

    if moderator.path is None:
        raise ModelError("only a model loaded from a folder can be exported")
    model_dir = moderator.path
    path = model_dir / ONNX_FILE
    tmp = path.with_suffix(".onnx.tmp")
    sample = moderator.tokenizer(list(check_texts[:2]), padding=True, return_tensors="pt")
    net = moderator.net.float().eval()
    dynamic = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "logits": {0: "batch"}}
    # The tracer warns about every data-dependent Python branch in the encoder; the check below is what counts.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (sample["input_ids"], sample["attention_mask"]), str(tmp), input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
    graph = onnx.load(str(tmp))
    onnx.helper.set_model_props(graph, {WEIGHTS_HASH_KEY: weights_sha256(model_dir), "model": moderator.name})
    onnx.save(graph, str(tmp))
    os.replace(tmp, path)

    expected = moderator.predict_proba(list(check_texts))
    got = moderator.with_backend("onnx").predict_proba(list(check_texts))
    diff = float(np.abs(got - expected).max())
    if diff > MAX_PROB_DIFF:
        path.unlink()
        raise ModelError(f"ONNX export differs from torch by {diff:.4f} (> {MAX_PROB_DIFF}); not kept")
    return {"max_prob_diff": diff, "size_mb": path.stat().st_size / 1e6}
