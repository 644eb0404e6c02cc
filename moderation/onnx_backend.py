"""ONNX Runtime backend: export a model directory to ONNX and score with the same API.

``export_onnx(model_dir, out_path)`` writes the encoder + head (logits out; calibration
and thresholds stay in ``moderation.json``). ``OnnxModerator.load(model_dir)`` is a
:class:`~moderation.model.Moderator` whose forward passes run in ONNX Runtime: the
tokenising, length-sorted batching, calibration and thread safety are shared.
Needs the ``onnx`` extra (``pip install 'moderation[onnx]'``).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from moderation.errors import ModelError
from moderation.model import META_FILE, Moderator, model_dir

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
OPSET = 17


def _require_runtime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ModelError("the ONNX backend needs onnxruntime: pip install 'moderation[onnx]'") from None
    return onnxruntime


def export_onnx(model_dir_: str | os.PathLike, out_path: str | os.PathLike | None = None, int8: bool = True) -> Path:
    """Export a model directory to ONNX (dynamic batch and length); int8 = dynamic weight quantisation.

    The default ``out_path`` is ``model.int8.onnx`` (or ``model.onnx``) inside the model
    directory, where ``OnnxModerator.load`` looks for it.
    """
    import torch

    _require_runtime()
    src = model_dir(model_dir_)
    out = Path(out_path) if out_path else src / (INT8_FILE if int8 else ONNX_FILE)
    moderator = Moderator.load(src)
    # Eager attention traces to plain ops that hold for every batch shape (SDPA's mask
    # shortcuts are traced as constants).
    moderator.net.encoder.set_attn_implementation("eager")
    example = moderator.tokenizer(["a short comment", "a somewhat longer comment to pad the batch"], padding=True, return_tensors="pt")
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes concern code paths eager attention avoids
        fp32 = Path(tmp) / ONNX_FILE
        torch.onnx.export(
            moderator.net, (example["input_ids"], example["attention_mask"]), str(fp32),
            input_names=["input_ids", "attention_mask"], output_names=["logits"], opset_version=OPSET, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "logits": {0: "batch"}},
        )
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True)
        else:
            out.write_bytes(fp32.read_bytes())
    return out


class _Session:
    """An ONNX Runtime session standing in for the torch module."""

    def __init__(self, path: Path, threads: int | None = None):
        ort = _require_runtime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def eval(self) -> "_Session":
        return self

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)})[0]


class OnnxModerator(Moderator):
    """A :class:`Moderator` whose forward passes run in ONNX Runtime (same methods, same results within 0.01)."""

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, onnx_file: str | os.PathLike | None = None) -> "OnnxModerator":
        from transformers import AutoTokenizer

        path = model_dir(path)
        candidates = [Path(onnx_file)] if onnx_file else [path / INT8_FILE, path / ONNX_FILE]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ModelError(f"no ONNX export in {path}: run `moderation models export-onnx {path}` first")
        try:
            meta = json.loads((path / META_FILE).read_text())
            tokenizer = AutoTokenizer.from_pretrained(path)
            session = _Session(found)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"ONNX model {found} cannot be loaded: {str(exc).splitlines()[0]}") from exc
        moderator = cls(session, tokenizer, meta)  # type: ignore[arg-type]
        moderator.meta["backend"] = f"onnx:{found.name}"
        return moderator

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.net(input_ids, attention_mask)

    def save(self, path: str | os.PathLike, fp16: bool = True) -> Path:
        raise ModelError("an ONNX-backed model cannot be saved; save the torch model and export it again")
