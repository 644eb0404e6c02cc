"""Scoring throughput on real comments: the CLI end to end vs bare forward passes.

    python benchmarks/throughput.py [--model models/default] [--data-dir D] [--bert-n 400] [--repeat 2]
    python benchmarks/throughput.py --cli-only --compare models/moderation-minilm-1.3.0   # two models side by side

It first prints the CPU model, its bf16 flags and the backend ``--backend auto`` chose there
and why (``moderation.cpu``), so that figures from different machines can be read.

One fixed sample of 3,000 real news comments (UCC validation ``comment`` and Toxic
Spans ``comment_text``): 2,400 short ones (20-30 tokens) and 600 long ones (150-250
tokens; the model reads the first ``max_length`` = 128). For each group:

(a) ``moderation score`` end to end in a subprocess on a JSONL file: wall clock
    including interpreter start, imports and model load, and the steady rate the
    command itself reports (reading, tokenising, scoring, writing); with ``--backend torch``
    (fp32) and ``--backend auto``, and ``--backend bf16`` too where auto chose fp32 on a CPU
    with bf16 instructions, so fp32 and bf16 are side by side (without bf16 instructions
    bf16 is emulated and skipped unless ``--emulated-bf16``); the runs are interleaved,
    ``--repeat`` rounds;
(b) the bare fp32 torch forward pass of the same model on pre-tokenised, length-sorted
    batches of the same size (no tokenising, no I/O), and the same under bf16 autocast;
(c) the same for a BERT-base encoder (``BertConfig()``, random weights: the size of
    Detoxify's default model), on the first ``--bert-n`` comments of the group and at
    the same 128-token truncation (which favours BERT-base on long comments).

``--compare MODEL`` (repeatable) adds other models' ``moderation score --backend auto`` runs to
(a), interleaved with the main model's in every round, and prints them side by side.

Targets on the 2-core machine: (a) >= 0.8 x (b) and (a) >= 6 x (c), where (b) is the
fp32 torch forward pass; ratios are printed per backend, and a over the same backend's
own bare forward pass too. Also checks the bf16 scores against fp32 torch on 1,000 of
the comments (bar: max difference <= 0.01). Writes benchmarks/out/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
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

from moderation.cpu import bf16_flags, cpu_info  # noqa: E402
from moderation.model import PAD_TO_MULTIPLE, Moderator  # noqa: E402
from training.data import default_data_dir  # noqa: E402

#: Instruction-set flags worth printing with a speed figure (x86, and Arm's bf16).
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "bf16")
GROUPS = {"short": (20, 30, 2400), "long": (150, 250, 600)}  # token range, comments
SEED = 0


def comment_pool(data_dir: Path) -> list[str]:
    """Every distinct real comment the sample is drawn from: UCC validation, then Toxic Spans, in file order."""
    ucc = pd.read_csv(data_dir / "ucc" / "val.csv")["comment"]
    spans = pd.read_csv(data_dir / "toxic_spans" / "data" / "comments.csv")["comment_text"]
    return pd.concat([ucc, spans]).dropna().astype(str).drop_duplicates().tolist()


def load_comments(data_dir: Path, tokenizer) -> dict[str, list[str]]:
    """The fixed benchmark sample, grouped by token length."""
    pool = comment_pool(data_dir)
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
    ap.add_argument("--cli-only", action="store_true", help="only (a), the command end to end, per backend: skips the bare "
                    "forward passes, BERT-base and the equal-scores check (a quick figure on a busy machine)")
    ap.add_argument("--emulated-bf16", action="store_true", help="also run --backend bf16 on a CPU without bf16 instructions, "
                    "where it is emulated (about 3x slower than fp32, so skipped by default)")
    ap.add_argument("--compare", type=Path, action="append", default=[], metavar="MODEL",
                    help="another model folder whose end-to-end rate (backend auto) is measured in the same rounds")
    args = ap.parse_args()

    moderator = Moderator.load(args.model, backend="torch")
    batch_size = args.batch_size or moderator.batch_size
    cpu, flags = cpu_info()
    auto = moderator.with_backend("auto").backend_choice  # measured (or read from the cache) before any timing
    machine = {"cpu": cpu, "isa_flags": [f for f in ISA_FLAGS if f in flags], "bf16_flags": bf16_flags(flags),
               "auto": auto.to_dict(), "threads": torch.get_num_threads()}
    print(json.dumps(machine), flush=True)
    print(f"CPU {cpu}; flags {' '.join(machine['isa_flags']) or '-'}; {torch.get_num_threads()} torch threads; "
          f"auto -> {auto.describe()}", flush=True)
    groups = load_comments(args.data_dir or default_data_dir(), moderator.tokenizer)
    extra = ["--batch-size", str(args.batch_size)] if args.batch_size else []
    # fp32 and bf16 side by side; auto is one of them, measured as the command a user runs. Where bf16 is
    # emulated (no bf16 instructions) it only shows how slow emulation is: skipped unless asked for.
    emulated = not bf16_flags(flags)
    backends = ["torch", "auto"] + (["bf16"] if auto.backend == "torch" and (args.emulated_bf16 or not emulated) else [])
    if auto.backend == "torch" and "bf16" not in backends:
        print("--backend bf16 skipped: this CPU has no bf16 instructions, so it would be emulated (--emulated-bf16 runs it)", flush=True)
    own = {"torch": "torch", "bf16": "bf16", "auto": auto.backend}  # which bare forward pass each backend runs
    results = {"model": moderator.name, **machine, "batch_size": batch_size, "backends": backends, "repeat": args.repeat}
    check = [t for group in groups.values() for t in group][:: max(1, sum(map(len, groups.values())) // 1000)][:1000]
    if not args.cli_only:
        results["bf16_max_prob_diff"] = max_prob_diff(moderator, check, "bf16")
        print(json.dumps({"bf16_max_prob_diff": results["bf16_max_prob_diff"], "comments": len(check)}), flush=True)
        torch.manual_seed(SEED)
        from transformers import BertConfig, BertModel

        bert = BertModel(BertConfig()).eval()
    best = lambda measure: max(measure() for _ in range(args.repeat))  # noqa: E731
    ratio = lambda x, y, digits=2: round(x / y, digits) if y else None  # noqa: E731 (None: not measured)
    with tempfile.TemporaryDirectory() as tmp:
        for name, texts in groups.items():
            enc = batches(moderator.tokenizer, texts, moderator.max_length, batch_size)
            row = {"comments": len(texts), "mean_tokens": round(sum(int(e["attention_mask"].sum()) for e in enc) / len(texts), 1),
                   "mean_padded_width": round(sum(e["input_ids"].numel() for e in enc) / len(texts), 1)}
            if not args.cli_only:
                row["b_forward"] = round(best(lambda: forward_rate(moderator.net, enc)), 1)
                row["b_forward_bf16"] = round(best(lambda: forward_rate(moderator.net, enc, bf16=True)), 1)
                bert_enc = batches(moderator.tokenizer, texts[: args.bert_n], moderator.max_length, batch_size)
                row["c_bert_base"] = round(best(lambda: forward_rate(bert, bert_enc)), 1)
            runs: dict[str, list] = {backend: [] for backend in backends}
            for _ in range(args.repeat):  # interleaved, so a busy spell hits every backend alike
                for backend in backends:
                    runs[backend].append(cli_rate(args.model, texts, Path(tmp), extra + ["--backend", backend]))
                    wall, reported, _ = runs[backend][-1]  # each run as it ends: a busy machine may not see the table
                    print(json.dumps({"group": name, "backend": backend, "wall": round(wall, 1), "reported": round(reported, 1),
                                      "load": os.getloadavg()[0]}), flush=True)
                for other in args.compare:
                    runs.setdefault(str(other), []).append(cli_rate(other, texts, Path(tmp), extra + ["--backend", "auto"]))
                    wall, reported, _ = runs[str(other)][-1]
                    print(json.dumps({"group": name, "model": str(other), "backend": "auto", "wall": round(wall, 1),
                                      "reported": round(reported, 1), "load": os.getloadavg()[0]}), flush=True)
            for backend in backends:
                wall, reported, cmd = max(runs[backend], key=lambda r: r[1])
                own_b = row.get("b_forward_bf16" if own[backend] == "bf16" else "b_forward")
                fp32 = row.get("torch", {"a_cli_wall": wall, "a_cli_reported": reported})  # torch runs first
                row[backend] = {
                    "a_cli_wall": round(wall, 1), "a_cli_reported": round(reported, 1),
                    "a_cli_wall_all": [round(r[0], 1) for r in runs[backend]],
                    "a_cli_reported_all": [round(r[1], 1) for r in runs[backend]],
                    "a_over_b": ratio(reported, row.get("b_forward")), "a_wall_over_b": ratio(wall, row.get("b_forward")),
                    "a_over_c": ratio(reported, row.get("c_bert_base"), 1), "command": " ".join(cmd),
                    "a_over_own_b": ratio(reported, own_b),
                    "over_torch": ratio(reported, fp32["a_cli_reported"]), "wall_over_torch": ratio(wall, fp32["a_cli_wall"]),
                }
            row["compare"] = {}
            for other in args.compare:
                wall, reported, cmd = max(runs[str(other)], key=lambda r: r[1])
                row["compare"][str(other)] = {"a_cli_wall": round(wall, 1), "a_cli_reported": round(reported, 1), "command": " ".join(cmd),
                                              "over_main_auto": ratio(reported, row["auto"]["a_cli_reported"])}
            results[name] = row
            print(json.dumps({name: row}), flush=True)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"CPU {cpu}; flags {' '.join(machine['isa_flags']) or '-'}; auto -> {auto.describe()}")
    cell = lambda value, width: f"{value:{width}}" if value is not None else f"{'-':>{width}}"  # noqa: E731
    print(f"{'group':6} {'backend':11} {'(a) wall':>9} {'(a) run':>8} {'(b) fp32':>9} {'(b) bf16':>9} {'(c) BERT':>9} "
          f"{'a/b':>5} {'a/own b':>8} {'a/c':>6} {'x fp32':>7} {'wall x fp32':>12}  comments/s")
    for name in GROUPS:
        r = results[name]
        for backend in backends:
            a = r[backend]
            label = f"auto={auto.backend}" if backend == "auto" else backend
            print(f"{name:6} {label:11} {a['a_cli_wall']:9.1f} {a['a_cli_reported']:8.1f} {cell(r.get('b_forward'), 9)} "
                  f"{cell(r.get('b_forward_bf16'), 9)} {cell(r.get('c_bert_base'), 9)} {cell(a['a_over_b'], 5)} "
                  f"{cell(a['a_over_own_b'], 8)} {cell(a['a_over_c'], 6)} {a['over_torch']:7.2f} {a['wall_over_torch']:12.2f}")
    if args.compare:
        print(f"side by side, moderation score --backend auto, comments/s (best of {args.repeat}, interleaved):")
        print(f"{'group':6} {'model':44} {'wall':>7} {'run':>7} {'x main':>7}")
        for name in GROUPS:
            main_auto = results[name]["auto"]
            print(f"{name:6} {moderator.name + ' (' + str(args.model) + ')':44.44} {main_auto['a_cli_wall']:7.1f} {main_auto['a_cli_reported']:7.1f} {1.0:7.2f}")
            for other, entry in results[name]["compare"].items():
                print(f"{name:6} {other:44.44} {entry['a_cli_wall']:7.1f} {entry['a_cli_reported']:7.1f} {entry['over_main_auto']:7.2f}")
    if "bf16_max_prob_diff" in results:
        print(f"bf16 vs torch: max probability difference {results['bf16_max_prob_diff']:.2e} on {len(check):,} of the comments "
              "(benchmarks/bf16_drift.py reports drift and label flips in full)")

if __name__ == "__main__":
    main()
