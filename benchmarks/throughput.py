"""Scoring throughput on real comments: the CLI end to end vs bare forward passes.

    python benchmarks/throughput.py [--model models/default] [--data-dir D] [--bert-n 400] [--repeat 2]

One fixed sample of 3,000 real news comments (UCC validation ``comment`` and Toxic
Spans ``comment_text``): 2,400 short ones (20-30 tokens) and 600 long ones (150-250
tokens; the model reads the first ``max_length`` = 128). For each group:

(a) ``moderation score`` end to end in a subprocess on a JSONL file: wall clock
    including interpreter start, imports and model load, and the steady rate the
    command itself reports (reading, tokenising, scoring, writing); once per backend
    (torch fp32, and bf16 on CPUs with AMX, which is what ``--backend auto`` picks there);
(b) the bare fp32 torch forward pass of the same model on pre-tokenised, length-sorted
    batches of the same size (no tokenising, no I/O), and the same under bf16 autocast;
(c) the same for a BERT-base encoder (``BertConfig()``, random weights: the size of
    Detoxify's default model), on the first ``--bert-n`` comments of the group and at
    the same 128-token truncation (which favours BERT-base on long comments).

Targets on the 2-core machine: (a) >= 0.8 x (b) and (a) >= 6 x (c), where (b) is the
fp32 torch forward pass; ratios are printed per backend, and a over the same backend's
own bare forward pass too. Also checks the bf16 scores against fp32 torch on 1,000 of
the comments (bar: max difference <= 0.01). Writes benchmarks/out/throughput.json.
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

from moderation.model import PAD_TO_MULTIPLE, Moderator, has_bf16_matrix_units  # noqa: E402
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
                      padding=True, pad_to_multiple_of=PAD_TO_MULTIPLE, return_tensors="pt") for s in range(0, len(texts), batch_size)]


def forward_rate(net: torch.nn.Module, encoded: list[dict], bf16: bool = False) -> float:
    """Comments per second of the forward pass alone (after one warm-up batch), fp32 or under bf16 autocast."""
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        net(input_ids=encoded[0]["input_ids"], attention_mask=encoded[0]["attention_mask"])
        start = time.perf_counter()
        for enc in encoded:
            net(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        elapsed = time.perf_counter() - start
    return sum(len(enc["input_ids"]) for enc in encoded) / elapsed


def max_prob_diff(model: Moderator, texts: list[str], backend: str) -> float:
    """The equal-scores check: max |p_backend - p_torch| over ``texts``."""
    return float(np.abs(model.with_backend(backend).predict_proba(texts) - model.predict_proba(texts)).max())


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
    ap.add_argument("--bert-n", type=int, default=400, help="comments per group for BERT-base (it is slow)")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the model's")
    ap.add_argument("--repeat", type=int, default=2, help="run every measurement this many times and keep the best (timeit's rule: "
                    "slower runs measure interference from other processes, not the code)")
    args = ap.parse_args()

    moderator = Moderator.load(args.model, backend="torch")
    batch_size = args.batch_size or moderator.batch_size
    groups = load_comments(args.data_dir or default_data_dir(), moderator.tokenizer)
    torch.manual_seed(SEED)
    from transformers import BertConfig, BertModel

    bert = BertModel(BertConfig()).eval()
    extra = ["--batch-size", str(args.batch_size)] if args.batch_size else []
    backends = ["torch"] + (["bf16"] if has_bf16_matrix_units() else [])
    results = {"model": moderator.name, "threads": torch.get_num_threads(), "batch_size": batch_size, "backends": backends,
               "repeat": args.repeat}
    check = [t for group in groups.values() for t in group][:: max(1, sum(map(len, groups.values())) // 1000)][:1000]
    for backend in backends[1:]:
        results[f"{backend}_max_prob_diff"] = max_prob_diff(moderator, check, backend)
        print(json.dumps({f"{backend}_max_prob_diff": results[f"{backend}_max_prob_diff"], "comments": len(check)}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, texts in groups.items():
            enc = batches(moderator.tokenizer, texts, moderator.max_length, batch_size)
            row = {"comments": len(texts), "mean_tokens": round(sum(int(e["attention_mask"].sum()) for e in enc) / len(texts), 1),
                   "mean_padded_width": round(sum(e["input_ids"].numel() for e in enc) / len(texts), 1)}
            best = lambda measure: max(measure() for _ in range(args.repeat))  # noqa: E731
            row["b_forward"] = round(best(lambda: forward_rate(moderator.net, enc)), 1)
            if "bf16" in backends:
                row["b_forward_bf16"] = round(best(lambda: forward_rate(moderator.net, enc, bf16=True)), 1)
            bert_enc = batches(moderator.tokenizer, texts[: args.bert_n], moderator.max_length, batch_size)
            row["c_bert_base"] = round(best(lambda: forward_rate(bert, bert_enc)), 1)
            for backend in backends:
                runs = [cli_rate(args.model, texts, Path(tmp), extra + ["--backend", backend]) for _ in range(args.repeat)]
                wall, reported, cmd = max(runs, key=lambda r: r[1])
                row[backend] = {
                    "a_cli_wall": round(wall, 1), "a_cli_reported": round(reported, 1),
                    "a_over_b": round(reported / row["b_forward"], 2), "a_wall_over_b": round(wall / row["b_forward"], 2),
                    "a_over_c": round(reported / row["c_bert_base"], 1), "command": " ".join(cmd),
                    "a_over_own_b": round(reported / row.get(f"b_forward_{backend}", row["b_forward"]), 2),
                }
            results[name] = row
            print(json.dumps({name: row}), flush=True)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'group':6} {'backend':7} {'(a) wall':>9} {'(a) run':>8} {'(b) torch':>10} {'(b) own':>8} {'(c) BERT':>9} {'a/b':>5} {'a/own b':>8} {'a/c':>6}  comments/s")
    for name in GROUPS:
        r = results[name]
        for backend in backends:
            a = r[backend]
            print(f"{name:6} {backend:7} {a['a_cli_wall']:9.1f} {a['a_cli_reported']:8.1f} {r['b_forward']:10.1f} "
                  f"{r.get(f'b_forward_{backend}', r['b_forward']):8.1f} {r['c_bert_base']:9.1f} {a['a_over_b']:5.2f} "
                  f"{a['a_over_own_b']:8.2f} {a['a_over_c']:6.1f}")
    for backend in backends[1:]:
        print(f"{backend} vs torch: max probability difference {results[f'{backend}_max_prob_diff']:.2e} on 1,000 of the comments")

if __name__ == "__main__":
    main()
