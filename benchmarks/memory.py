"""Peak memory of ``moderation score`` on a large JSONL dump: streaming means constant RSS.

    python benchmarks/memory.py [--rows 1000000] [--model models/default | --tiny] [--limit N] [--backend torch]

Writes a JSONL file of ``--rows`` real comments (UCC + Toxic Spans, cycled, with ids)
to /tmp, scores its first ``--limit`` rows (default: all) with ``moderation score`` in
a subprocess, samples the child's RSS every 0.5 s and reports the peak (target:
< 1.5 GB) and the RSS at each quarter of the run, which stays flat if memory is
constant. ``--tiny`` uses a tiny random model so all 1,000,000 rows finish in
minutes; the real model is slow enough that a prefix is measured instead.
Writes benchmarks/out/memory-<model>.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.data import default_data_dir  # noqa: E402


def make_dump(path: Path, rows: int, data_dir: Path) -> None:
    if path.exists() and sum(1 for _ in open(path, "rb")) == rows:
        return
    ucc = pd.read_csv(data_dir / "ucc" / "val.csv")["comment"]
    spans = pd.read_csv(data_dir / "toxic_spans" / "data" / "comments.csv")["comment_text"]
    pool = pd.concat([ucc, spans]).dropna().astype(str).tolist()
    with open(path, "w", encoding="utf-8") as fh:
        for i, text in zip(range(rows), itertools.cycle(pool)):
            fh.write(json.dumps({"id": f"c{i}", "text": text, "site": "example.org"}) + "\n")


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (0 once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--limit", type=int, default=None, help="score only the first N rows (real model: e.g. 50000)")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--tiny", action="store_true", help="use a tiny random model (fast, same pipeline)")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--backend", choices=("auto", "torch", "bf16"), default="auto")
    args = ap.parse_args()

    dump = Path(tempfile.gettempdir()) / f"moderation-bench-{args.rows}.jsonl"
    make_dump(dump, args.rows, args.data_dir or default_data_dir())
    workdir = Path(tempfile.mkdtemp(prefix="moderation-mem-"))
    src = dump
    if args.limit:
        src = workdir / "prefix.jsonl"
        with open(dump, "rb") as fin, open(src, "wb") as fout:
            fout.writelines(itertools.islice(fin, args.limit))
    model = args.model
    if args.tiny:
        sys.path.insert(0, str(ROOT / "tests"))
        from conftest import build_tiny

        model = build_tiny(workdir / "tiny")
    n = args.limit or args.rows
    cmd = [sys.executable, "-m", "moderation.cli", "score", str(src), "--output", str(workdir / "out.jsonl"), "--model", str(model), "--backend", args.backend]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    samples: list[tuple[float, float]] = []
    while proc.poll() is None:
        samples.append((time.perf_counter() - start, rss_mb(proc.pid)))
        time.sleep(0.5)
    stderr = proc.stderr.read()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"moderation score failed: {stderr.strip()}")
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kernel's own peak, KB on Linux
    quarters = [max((r for t, r in samples if wall * (q - 1) / 4 <= t < wall * q / 4), default=0.0) for q in (1, 2, 3, 4)]
    result = {
        "model": "tiny" if args.tiny else str(args.model), "rows": n, "seconds": round(wall, 1), "rows_per_s": round(n / wall, 1),
        "peak_rss_mb": round(peak, 1), "rss_mb_by_quarter": [round(q, 1) for q in quarters], "summary": stderr.strip().splitlines()[-1],
        "command": " ".join(["moderation", *cmd[3:]]),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / f"memory-{'tiny' if args.tiny else 'default'}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"peak RSS {peak:,.0f} MB for {n:,} rows ({'OK' if peak < 1536 else 'OVER'} the 1.5 GB target)")


if __name__ == "__main__":
    main()
