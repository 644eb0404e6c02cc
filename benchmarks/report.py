"""The review report at scale: build time, file size and opening time in headless Chromium.

    python benchmarks/report.py [--comments 100000] [--pool 5000] [--model models/default] [--data-dir D] [--repeat 2]

Inputs: real news comments (a fixed random sample of ``--pool`` distinct texts from UCC validation
and Civil Comments in toxic_spans, cycled with distinct ids to reach ``--comments``), grouped into threads of 50
on pages with a title and authors, as ``moderation score`` writes page comments. Their scores
come from the model itself (each distinct text scored once; a repeated text gets the same
scores, as it would from ``moderation score``), written as the score file and the comment table.

Measured: (1) ``moderation report SCORES --comments TABLE --output report.html`` in a subprocess,
wall clock and CPU time (user + system, all threads: on a shared machine the wall clock mostly
measures the other jobs) from start to exit (interpreter start, reading, model load, scoring the sentences of
up to ``--why-limit`` flagged comments, writing) with the command's own summary line; (2) the
file size; (3) in the system Chromium (headless, Playwright): from navigation to the page's
script having parsed the data and indexed every comment (``data-ready``), and to the first
screen of the queue (sorted by score) being drawn; then one filter change (label + slider) and
one text search, as a moderator would do next. Best of ``--repeat`` runs, interleaved.
Writes benchmarks/out/report/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import browser  # noqa: E402
from training.data import default_data_dir  # noqa: E402

THREAD = 50


def real_comments(data_dir: Path) -> list[str]:
    ucc = pd.read_csv(data_dir / "ucc" / "val.csv")["comment"]
    spans = pd.read_csv(data_dir / "toxic_spans" / "data" / "comments.csv")["comment_text"]
    return pd.concat([ucc, spans]).dropna().astype(str).map(str.strip).loc[lambda s: s != ""].drop_duplicates().tolist()


def build_inputs(out: Path, n: int, pool_size: int, model: str | None, data_dir: Path) -> tuple[Path, Path]:
    """The comment table and its score file (cached in ``out``: scoring is not what is measured)."""
    table, scores = out / f"comments-{n}-{pool_size}.jsonl", out / f"scores-{n}-{pool_size}.jsonl"
    if table.exists() and scores.exists():
        return table, scores
    import random

    from moderation.model import Moderator

    pool = real_comments(data_dir)
    pool = random.Random(0).sample(pool, min(pool_size, len(pool)))
    moderator = Moderator.load(model)
    started = time.perf_counter()
    probs = moderator.predict_proba(pool)
    print(f"scored {len(pool):,} distinct comments in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    scored = moderator._to_scores(probs, [None] * len(pool), pool)
    with open(table, "w", encoding="utf-8") as t, open(scores, "w", encoding="utf-8") as s:
        for i in range(n):
            k = i % len(pool)
            page = i // THREAD
            fields = {"source": f"https://news.example/story-{page}", "title": f"Story {page}: a headline of ordinary length",
                      "author": f"reader{(i * 7919) % 5000}", "position": i % THREAD + 1}
            t.write(json.dumps({"id": f"c{i}", "text": pool[k]}, ensure_ascii=False) + "\n")
            s.write(json.dumps({**scored[k].to_dict(), "id": f"c{i}", **fields}, ensure_ascii=False) + "\n")
    return table, scores


def build(scores: Path, table: Path, report: Path, model: str | None, why_limit: int) -> tuple[float, float, str]:
    """Wall clock and CPU time (user + system, all threads) of the command, and its summary line."""
    cmd = [sys.executable, "-m", "moderation.cli", "report", str(scores), "--comments", str(table),
           "--output", str(report), "--why-limit", str(why_limit)] + (["--model", model] if model else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "CI": "1"})
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(done.stderr)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu, done.stderr.strip().splitlines()[-1]


def open_in_chromium(report: Path) -> dict[str, float]:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        chromium = browser.launch(p)
        page = chromium.new_page()
        started = time.perf_counter()
        page.goto(report.as_uri(), timeout=120_000)
        expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=120_000)
        ready = time.perf_counter() - started
        page.click("nav button[data-tab=queue]")
        expect(page.locator("#q-list .row").first).to_be_visible(timeout=120_000)
        queue = time.perf_counter() - started
        t = time.perf_counter()
        page.select_option("#f-label", "0")
        page.fill("#f-min", "0.5")  # the queue is redrawn inside the input event, before fill returns
        filtered = time.perf_counter() - t
        t = time.perf_counter()
        page.fill("#f-q", "the government")
        # The search waits 150 ms for typing to stop; count from the keystroke, as a user would.
        expect(page.locator("#q-list .row").first).to_contain_text("the government", ignore_case=True, timeout=120_000)
        search = time.perf_counter() - t
        chromium.close()
    return {"ready_s": ready, "queue_s": queue, "filter_s": filtered, "search_s": search}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--pool", type=int, default=5000, help="distinct texts, scored once each")
    parser.add_argument("--model", default=None, help="default: the shipped models/default")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--why-limit", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "report")
    args = parser.parse_args()
    if reason := browser.missing():
        raise SystemExit(f"error: {reason}")
    args.out.mkdir(parents=True, exist_ok=True)
    load = open("/proc/loadavg").read().split()[:3]
    table, scores = build_inputs(args.out, args.comments, args.pool, args.model, args.data_dir or Path(default_data_dir()))
    report = args.out / f"report-{args.comments}.html"
    builds, opens = [], []
    for _ in range(args.repeat):  # interleaved: each build is followed by opening what it wrote
        builds.append(build(scores, table, report, args.model, args.why_limit))
        opens.append(open_in_chromium(report))
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                if line.startswith("Model name")), platform.processor())
    result = {
        "comments": args.comments, "distinct_texts": args.pool, "why_limit": args.why_limit,
        "build_s": [round(b[0], 2) for b in builds], "build_cpu_s": [round(b[1], 2) for b in builds], "build_summary": builds[-1][2],
        "size_mb": round(report.stat().st_size / 1e6, 1),
        "open": [{k: round(v, 2) for k, v in o.items()} for o in opens],
        "cpu": cpu, "cores": os.cpu_count(), "load_at_start": load, "load_at_end": open("/proc/loadavg").read().split()[:3],
        "chromium": subprocess.run([browser.CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip(),
    }
    (args.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
