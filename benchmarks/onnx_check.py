"""Is the ONNX backend worth keeping? Speed and score agreement against torch.

    python benchmarks/onnx_check.py [--model models/default] [--n 1000]

Exports the model (fp32 and int8) into a temporary copy of the model directory, scores
the same ``--n`` real comments (the throughput benchmark's sample, short and long in
its 4:1 mix) with torch and with each ONNX file, and reports comments/s and the
maximum absolute difference of the calibrated probabilities. The issue's bar: faster,
at max |diff| <= 0.01. Writes benchmarks/out/onnx_check.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from moderation.model import Moderator  # noqa: E402
from moderation.onnx_backend import OnnxModerator, export_onnx  # noqa: E402
from throughput import load_comments  # noqa: E402
from training.data import default_data_dir  # noqa: E402


def timed_proba(scorer: Moderator, texts: list[str]) -> tuple[np.ndarray, float]:
    scorer.predict_proba(texts[:64])  # warm-up
    start = time.perf_counter()
    probs = scorer.predict_proba(texts)
    return probs, len(texts) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()

    torch_model = Moderator.load(args.model)
    groups = load_comments(args.data_dir or default_data_dir(), torch_model.tokenizer)
    texts = groups["short"][: args.n * 4 // 5] + groups["long"][: args.n - args.n * 4 // 5]
    reference, torch_rate = timed_proba(torch_model, texts)
    thresholds = np.array([torch_model.thresholds[label] for label in torch_model.labels])
    results = {"model": torch_model.name, "comments": len(texts), "torch": {"comments_per_s": round(torch_rate, 1)}}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(shutil.copytree(args.model, Path(tmp) / "model"))
        for int8 in (False, True):
            path = export_onnx(model_dir, model_dir / f"check-{'int8' if int8 else 'fp32'}.onnx", int8=int8)
            probs, rate = timed_proba(OnnxModerator.load(model_dir, onnx_file=path), texts)
            diff = float(np.abs(probs - reference).max())
            results["onnx_int8" if int8 else "onnx_fp32"] = {
                "comments_per_s": round(rate, 1), "speedup": round(rate / torch_rate, 2), "max_abs_diff": round(diff, 5),
                "label_flips": int(((probs >= thresholds) != (reference >= thresholds)).sum()), "size_mb": round(path.stat().st_size / 1e6, 1),
                "passes": bool(diff <= 0.01 and rate > torch_rate),
            }
            print(json.dumps({path.name: results["onnx_int8" if int8 else "onnx_fp32"]}), flush=True)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "onnx_check.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
