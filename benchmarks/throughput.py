"""Scoring throughput on real comments: the CLI end to end vs bare forward passes.

    python benchmarks/throughput.py [--model models/default] [--data-dir D] [--bert-n 200]

One fixed sample of 3,000 real news comments (UCC validation ``comment`` and Toxic
Spans ``comment_text``): 2,400 short ones (20-30 tokens) and 600 long ones (150-250
tokens; the model reads the first ``max_length`` = 128). For each group:

(a) ``moderation score`` end to end in a subprocess on a JSONL file: wall clock
    including interpreter start, imports and model load, and the steady rate the
    command itself reports (reading, tokenising, scoring, writing);
(b) the bare forward pass of the same model on pre-tokenised, length-sorted batches
    of the same size (no tokenising, no I/O): the ceiling for (a);
(c) the same for a BERT-base encoder (``BertConfig()``, random weights: the size of
    Detoxify's default model), on the first ``--bert-n`` comments of the group and at
    the same 128-token truncation (which favours BERT-base on long comments).

Targets on the 2-core machine: (a) >= 0.8 x (b) and (a) >= 6 x (c). Writes
benchmarks/out/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from moderation.model import Moderator  # noqa: E402
from training.data import default_data_dir  # noqa: E402

GROUPS = {"short": (20, 30, 2400), "long": (150, 250, 600)}  # token range, comments
SEED = 0


def load_comments(data_dir: Path, tokenizer) -> dict[str, list[str]]:
    """The fixed benchmark sample, grouped by token length."""
    ucc = pd.read_csv(data_dir / "ucc" / "val.csv")["comment"]
    spans = pd.read_csv(data_dir / "toxic_spans" / "data" / "comments.csv")["comment_text"]
    pool = pd.concat([ucc, spans]).dropna().astype(str).drop_duplicates().tolist()
    lengths = np.array([len(ids) for ids in tokenizer(pool)["input_ids"]])
    rng = np.random.default_rng(SEED)
    groups = {}
    for name, (lo, hi, n) in GROUPS.items():
        idx = np.flatnonzero((lengths >= lo) & (lengths <= hi))
        if len(idx) < n:
            raise SystemExit(f"only {len(idx)} {name} comments in {data_dir}, need {n}")
        groups[name] = [pool[i] for i in rng.choice(idx, n, replace=False)]
    return groups


def batches(tokenizer, texts: list[str], max_length: int, batch_size: int) -> list[dict]:
    """Length-sorted, padded batches exactly as ``Moderator.logits`` builds them."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    return [tokenizer([texts[i] for i in order[s : s + batch_size]], truncation=True, max_length=max_length,
                      padding=True, return_tensors="pt") for s in range(0, len(texts), batch_size)]


def forward_rate(net: torch.nn.Module, encoded: list[dict]) -> float:
    """Comments per second of the forward pass alone (after one warm-up batch)."""
    with torch.inference_mode():
        net(input_ids=encoded[0]["input_ids"], attention_mask=encoded[0]["attention_mask"])
        start = time.perf_counter()
        for enc in encoded:
            net(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        elapsed = time.perf_counter() - start
    return sum(len(enc["input_ids"]) for enc in encoded) / elapsed


def cli_rate(model: Path, texts: list[str], workdir: Path, extra: list[str]) -> tuple[float, float, list[str]]:
    """(wall-clock rate incl. start-up, rate reported by the command, the command line)."""
    src = workdir / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    out = workdir / "out.jsonl"
    cmd = [sys.executable, "-m", "moderation.cli", "score", str(src), "--output", str(out), "--model", str(model), *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"moderation score failed: {proc.stderr.strip()}")
    reported = float(re.search(r"([\d,.]+) comments/s", proc.stderr).group(1).replace(",", ""))
    assert sum(1 for _ in open(out)) == len(texts)
    return len(texts) / wall, reported, ["moderation", *cmd[3:]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--data-dir", type=Path, default=None, help="default: $MODERATION_DATA_DIR or ../shared/data")
    ap.add_argument("--bert-n", type=int, default=200, help="comments per group for BERT-base (it is slow)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the model's")
    args = ap.parse_args()

    moderator = Moderator.load(args.model)
    batch_size = args.batch_size or moderator.batch_size
    groups = load_comments(args.data_dir or default_data_dir(), moderator.tokenizer)
    torch.manual_seed(SEED)
    from transformers import BertConfig, BertModel

    bert = BertModel(BertConfig()).eval()
    extra = ["--batch-size", str(args.batch_size)] if args.batch_size else []
    results = {"model": moderator.name, "threads": torch.get_num_threads(), "batch_size": batch_size}
    with tempfile.TemporaryDirectory() as tmp:
        for name, texts in groups.items():
            wall, reported, cmd = cli_rate(args.model, texts, Path(tmp), extra)
            enc = batches(moderator.tokenizer, texts, moderator.max_length, batch_size)
            bare = forward_rate(moderator.net, enc)
            base = forward_rate(bert, batches(moderator.tokenizer, texts[: args.bert_n], moderator.max_length, batch_size))
            results[name] = {
                "comments": len(texts), "mean_tokens": round(sum(int(e["attention_mask"].sum()) for e in enc) / len(texts), 1),
                "a_cli_wall": round(wall, 1), "a_cli_reported": round(reported, 1), "b_forward": round(bare, 1), "c_bert_base": round(base, 1),
                "a_over_b": round(reported / bare, 2), "a_wall_over_b": round(wall / bare, 2), "a_over_c": round(reported / base, 1),
                "command": " ".join(cmd),
            }
            print(json.dumps({name: results[name]}), flush=True)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'group':6} {'(a) wall':>9} {'(a) run':>8} {'(b) fwd':>8} {'(c) BERT':>9} {'a/b':>5} {'a/c':>6}  comments/s")
    for name in GROUPS:
        r = results[name]
        print(f"{name:6} {r['a_cli_wall']:9.1f} {r['a_cli_reported']:8.1f} {r['b_forward']:8.1f} {r['c_bert_base']:9.1f} {r['a_over_b']:5.2f} {r['a_over_c']:6.1f}")


if __name__ == "__main__":
    main()
