"""Spark scoring against ``moderation score`` on the same rows, cores, backend and model.

    python benchmarks/spark.py [--rows 20000] [--model models/default] [--backend torch] [--repeat 2]
    python benchmarks/spark.py --steady [--master local[2] | --master local[1] --spark-only] [--rows N]

Takes ``--rows`` real comments (UCC + Toxic Spans, as benchmarks/memory.py writes them: JSONL
with ids) and, interleaved ``--repeat`` times, runs in subprocesses on that same file:
``moderation score`` (local engine), ``--engine spark --master local[2]`` and ``local[1]``.
For each run it records the wall clock (interpreter and JVM start-up, model loads, reading,
scoring, writing) and the rate the command reports (for the local engine: after the model
has loaded; for Spark: the whole Spark job, executor model loads included), plus the load
average before it. The best run of each kind is kept (slower runs measure the other
processes on the machine, not the code). From the ``local[1]`` rate (one core, one torch
thread) it estimates wall time and core-hours for 100M comments on N executors.
Writes benchmarks/out/spark.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from memory import make_dump  # noqa: E402  (the same real-comment sample as the memory benchmark)
from training.data import default_data_dir  # noqa: E402

RUNS = {"local": [], "spark local[2]": ["--engine", "spark", "--master", "local[2]"],
        "spark local[1]": ["--engine", "spark", "--master", "local[1]"]}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def run(name: str, src: Path, workdir: Path, common: list[str]) -> dict:
    """One ``moderation score`` run: wall clock, reported rate, load average before it."""
    out = workdir / ("out.jsonl" if name == "local" else "out.parquet")
    for stale in (out, Path(f"{out}.errors"), Path(f"{out}.errors.jsonl")):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "moderation.cli", "score", str(src), "--output", str(out), *common, *RUNS[name]]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYSPARK_PYTHON=sys.executable))
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed: {proc.stderr.strip()[-2000:]}")
    match = re.search(r"scored ([\d,]+) rows.*?([\d,.]+) comments/s", proc.stderr)
    scored = int(match.group(1).replace(",", ""))
    return {"run": name, "scored": scored, "wall_s": round(wall, 1), "wall_rate": round(scored / wall, 1),
            "reported_rate": float(match.group(2).replace(",", "")), "load_before": round(load, 2),
            "command": " ".join(["moderation", *cmd[3:]])}


def estimate(per_core: float, efficiency: float, comments: float = 100e6, cores_per_executor: int = 4) -> list[dict]:
    """Wall hours and core-hours for ``comments`` on N executors of ``cores_per_executor`` cores."""
    core_hours = comments / (per_core * efficiency) / 3600
    return [{"executors": n, "cores": n * cores_per_executor, "wall_hours": round(core_hours / (n * cores_per_executor), 2),
             "core_hours": round(core_hours, 1)} for n in (1, 10, 25, 50, 100)]


def steady(src: Path, workdir: Path, args: argparse.Namespace) -> None:
    """Warm, in one process: the local pipeline (``scoring.run``, as ``moderation score`` runs it once
    the model is loaded) and ``score_files`` on a session whose workers already hold the model,
    interleaved. Start-up costs are left out: at 100M rows they are noise, on a starved machine not."""
    from moderation.io import Fields
    from moderation.model import Moderator
    from moderation.scoring import WINDOW_ROWS, Job, run as run_local
    from moderation.spark import score_files, session

    spark, _ = session(args.master, WINDOW_ROWS)
    warm = workdir / "warm.jsonl"
    warm.write_text("".join(src.read_text().splitlines(keepends=True)[:50]))
    score_files(spark, [str(warm)], workdir / "warm.parquet", Fields(), args.model, args.backend, None, WINDOW_ROWS)
    moderator = Moderator.load(args.model, backend=args.backend) if not args.spark_only else None
    rows = []
    for i in range(args.repeat):
        if moderator is not None:
            load = os.getloadavg()[0]
            summary = run_local(moderator, Job([str(src)], workdir / f"local{i}.jsonl", "jsonl"))
            rows.append({"run": "local (warm)", "rate": round(summary.rate, 1), "seconds": round(summary.seconds, 1), "load_before": round(load, 2)})
            print(json.dumps(rows[-1]), flush=True)
        load = os.getloadavg()[0]
        summary = score_files(spark, [str(src)], workdir / f"spark{i}.parquet", Fields(), args.model, args.backend, None, WINDOW_ROWS)
        rows.append({"run": f"spark {args.master} (warm)", "rate": round(summary.rate, 1), "seconds": round(summary.seconds, 1),
                     "load_before": round(load, 2)})
        print(json.dumps(rows[-1]), flush=True)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    name = args.master.replace("[", "").replace("]", "").replace("*", "all")
    (out / f"spark-steady-{name}.json").write_text(json.dumps({"cpu": cpu_model(), "rows": args.rows, "backend": args.backend,
                                                                 "master": args.master, "runs": rows}, indent=2) + "\n")
    spark.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--backend", choices=("torch", "bf16"), default="torch", help="explicit, so both engines use the same one")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--steady", action="store_true", help="warm rates in one process (no start-up), interleaved; see steady()")
    ap.add_argument("--master", default="local[2]", help="with --steady: the Spark master")
    ap.add_argument("--spark-only", action="store_true", help="with --steady: skip the local engine (e.g. for local[1])")
    args = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="moderation-spark-"))
    src = workdir / "comments.jsonl"
    make_dump(src, args.rows, args.data_dir or default_data_dir())
    if args.steady:
        steady(src, workdir, args)
        shutil.rmtree(workdir, ignore_errors=True)
        return
    common = ["--model", str(args.model), "--backend", args.backend]
    runs = []
    for _ in range(args.repeat):
        for name in RUNS:  # interleaved: each kind sees the same mix of outside load
            runs.append(run(name, src, workdir, common))
            print(json.dumps(runs[-1]), flush=True)
    best = {name: max((r for r in runs if r["run"] == name), key=lambda r: r["reported_rate"]) for name in RUNS}
    local, spark2, spark1 = best["local"], best["spark local[2]"], best["spark local[1]"]
    efficiency = spark2["reported_rate"] / (2 * spark1["reported_rate"])
    results = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "rows": args.rows, "backend": args.backend, "model": str(args.model),
        "runs": runs, "best": best,
        "spark2_over_local_reported": round(spark2["reported_rate"] / local["reported_rate"], 2),
        "spark2_over_local_wall": round(spark2["wall_rate"] / local["wall_rate"], 2),
        "spark2_over_spark1": round(spark2["reported_rate"] / spark1["reported_rate"], 2),
        "per_core_rate": spark1["reported_rate"], "scaling_efficiency": round(efficiency, 2),
        "estimate_100M": estimate(spark1["reported_rate"], min(1.0, efficiency)),
    }
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "spark.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"CPU {results['cpu']}, {results['cores']} cores; {args.rows:,} real comments; backend {args.backend}; best of {args.repeat}")
    print(f"{'run':16} {'reported/s':>11} {'wall/s':>8} {'wall s':>7} {'load':>5}")
    for name, r in best.items():
        print(f"{name:16} {r['reported_rate']:11.1f} {r['wall_rate']:8.1f} {r['wall_s']:7.1f} {r['load_before']:5.2f}")
    print(f"local[2] / moderation score: {results['spark2_over_local_reported']} (reported), {results['spark2_over_local_wall']} (wall); "
          f"local[2] / local[1]: {results['spark2_over_spark1']}")
    print("100M comments, 4-core executors, at the local[1] per-core rate x min(1, local[2] efficiency):")
    for e in results["estimate_100M"]:
        print(f"  {e['executors']:4} executors ({e['cores']:4} cores): {e['wall_hours']:7.2f} h wall, {e['core_hours']:.0f} core-hours")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
