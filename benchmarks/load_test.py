"""Load test of ``moderation serve`` on loopback, against ``moderation score`` on the same comments.

    python benchmarks/load_test.py [--model models/default] [--data-dir D] [--duration 20]

Real news comments (UCC validation ``comment`` column, a fixed sample). Steps:

1. ``moderation score`` on the sample as a JSONL file: the steady comments/s it reports
   (batch throughput, the target's denominator) and its wall-clock rate;
2. a ``moderation serve`` subprocess on 127.0.0.1 with default settings; closed-loop
   clients (each sends its next request when the last one is answered) posting
   ``--per-request`` comments to ``POST /v1/score`` at 1, 8 and 32 concurrent clients:
   sustained comments/s, p50/p99 request latency, errors, and lost responses (a response
   must carry exactly the ids sent);
3. saturation: a second server with a small queue (``--queue-size 32``) and 64 clients:
   answers must be 200 or 503 with Retry-After, nothing else.

Every phase is bounded by ``--duration`` seconds and ``--max-requests`` requests. Only
servers this script starts, on 127.0.0.1, are ever contacted. Target: at 8 clients,
service throughput >= 0.8 x batch throughput. Writes benchmarks/out/load_test.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import cli_rate  # noqa: E402  (moderation score, timed the same way)
from training.data import default_data_dir  # noqa: E402

HOST = "127.0.0.1"  # never anything else
SEED = 0


def load_comments(data_dir: Path, n: int) -> list[str]:
    pool = pd.read_csv(data_dir / "ucc" / "val.csv")["comment"].dropna().astype(str)
    pool = pool[pool.str.strip().str.len() > 0].drop_duplicates().tolist()
    rng = np.random.default_rng(SEED)
    return [pool[i] for i in rng.choice(len(pool), min(n, len(pool)), replace=False)]


class ServerProcess:
    """``moderation serve`` on a free loopback port; stopped with SIGTERM (a graceful drain)."""

    def __init__(self, model: Path, extra: list[str], log: Path):
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self.cmd = [sys.executable, "-m", "moderation.cli", "serve", "--model", str(model), "--host", HOST,
                    "--port", str(self.port), *extra]
        self.log = log

    def __enter__(self) -> "ServerProcess":
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise SystemExit("server not ready after 180 s")

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def command(self) -> str:
        return " ".join(["moderation", *self.cmd[3:]])


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    comments: int = 0
    codes: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # transport errors and malformed answers
    lost: int = 0  # 200 answers whose results do not match the ids sent
    bad_503: int = 0  # 503 without Retry-After

    def summary(self, elapsed: float, requests: int) -> dict[str, Any]:
        lat = np.array(self.latencies) * 1000 if self.latencies else np.zeros(1)
        return {
            "requests": requests, "answered": sum(self.codes.values()), "codes": {str(k): v for k, v in sorted(self.codes.items())},
            "comments_ok": self.comments, "comments_per_s": round(self.comments / elapsed, 1), "seconds": round(elapsed, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 1), "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "errors": len(self.errors), "error_samples": self.errors[:3], "lost": self.lost, "503_without_retry_after": self.bad_503,
        }


async def closed_loop(url: str, texts: list[str], clients: int, per_request: int, duration: float,
                      max_requests: int) -> dict[str, Any]:
    """``clients`` concurrent clients, each posting its next request as soon as the last is answered."""
    tally = Tally()
    issued = itertools.count()
    offsets = itertools.count(0, per_request)
    deadline = time.perf_counter() + duration
    requests = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal requests
        while time.perf_counter() < deadline and next(issued) < max_requests:
            start = next(offsets)
            batch = [{"id": str(start + i), "text": texts[(start + i) % len(texts)]} for i in range(per_request)]
            requests += 1
            sent = time.perf_counter()
            try:
                r = await http.post("/v1/score", json={"comments": batch})
            except httpx.HTTPError as exc:
                tally.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            tally.codes[r.status_code] = tally.codes.get(r.status_code, 0) + 1
            if r.status_code == 200:
                tally.latencies.append(time.perf_counter() - sent)
                ids = [res["id"] for res in r.json()["results"]]
                if ids == [c["id"] for c in batch]:
                    tally.comments += per_request
                else:
                    tally.lost += 1
            elif r.status_code == 503:
                tally.bad_503 += "retry-after" not in r.headers
                await asyncio.sleep(0.05)  # a polite client backs off; a bounded loop either way
            else:
                tally.errors.append(f"HTTP {r.status_code}: {r.text[:200]}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:
        await http.post("/v1/score", json={"comments": [{"id": "warm", "text": texts[0]}]})  # warm-up
        begin = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - begin
    return tally.summary(elapsed, requests)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--data-dir", type=Path, default=None, help="default: $MODERATION_DATA_DIR or ../shared/data")
    ap.add_argument("--comments", type=int, default=2000, help="sample size (the batch baseline scores all of it)")
    ap.add_argument("--per-request", type=int, default=8, help="comments per request")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    ap.add_argument("--max-requests", type=int, default=20_000, help="cap per phase")
    ap.add_argument("--serve-arg", action="append", default=[], help="extra `moderation serve` option (repeatable)")
    ap.add_argument("--backend", default="auto", help="inference backend for both the batch run and the server")
    ap.add_argument("--skip-saturation", action="store_true")
    args = ap.parse_args()

    texts = load_comments(args.data_dir or default_data_dir(), args.comments)
    out_dir = ROOT / "benchmarks" / "out"
    out_dir.mkdir(exist_ok=True)
    results: dict[str, Any] = {"comments": len(texts), "per_request": args.per_request, "duration_s": args.duration,
                               "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        wall, reported, cmd = cli_rate(args.model, texts, Path(tmp), ["--backend", args.backend])
    results["batch"] = {"comments_per_s": round(reported, 1), "wall_comments_per_s": round(wall, 1), "command": " ".join(cmd)}
    print(json.dumps({"batch": results["batch"]}), flush=True)

    args.serve_arg = ["--backend", args.backend, *args.serve_arg]
    with ServerProcess(args.model, args.serve_arg, out_dir / "load_test_server.log") as server:
        results["server_command"] = server.command()
        results["model"] = httpx.get(server.url + "/healthz").json()["model"]
        for clients in args.clients:
            stats = asyncio.run(closed_loop(server.url, texts, clients, args.per_request, args.duration, args.max_requests))
            stats["vs_batch"] = round(stats["comments_per_s"] / results["batch"]["comments_per_s"], 2)
            results[f"clients_{clients}"] = stats
            print(json.dumps({f"clients_{clients}": stats}), flush=True)
        results["metrics_batch_size"] = [line for line in httpx.get(server.url + "/metrics").text.splitlines()
                                         if line.startswith(("moderation_batch_size_sum", "moderation_batch_size_count"))]

    if not args.skip_saturation:
        extra = [*args.serve_arg, "--queue-size", "32", "--max-comments", str(args.per_request)]
        with ServerProcess(args.model, extra, out_dir / "load_test_saturation.log") as server:
            stats = asyncio.run(closed_loop(server.url, texts, 64, args.per_request, min(args.duration, 10), args.max_requests))
            stats["server_command"] = server.command()
            results["saturation_64_clients_queue_32"] = stats
            print(json.dumps({"saturation": stats}), flush=True)

    (out_dir / "load_test.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nbatch (moderation score): {results['batch']['comments_per_s']} comments/s; {results['model']}, "
          f"{args.per_request} comments/request")
    print(f"{'clients':>7} {'comments/s':>10} {'vs batch':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'lost':>4}")
    for clients in args.clients:
        r = results[f"clients_{clients}"]
        print(f"{clients:7d} {r['comments_per_s']:10.1f} {r['vs_batch']:8.2f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
              f"{r['errors']:6d} {r['lost']:4d}")
    if "saturation_64_clients_queue_32" in results:
        s = results["saturation_64_clients_queue_32"]
        print(f"saturation (64 clients, queue 32): codes {s['codes']}, errors {s['errors']}, "
              f"503 without Retry-After {s['503_without_retry_after']}")


if __name__ == "__main__":
    main()
