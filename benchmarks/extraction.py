"""Extraction benchmark on held-out synthetic pages (plain text and HTML).

    python benchmarks/extraction.py --data-dir ../shared/data [--pages 300 --html-pages 100]

Pages are built by training/synth_pages.py from the *held-out* article/comment pools
with a seed the segmenter was not fitted with.  Prints comment P/R/F1 (exact text
after whitespace normalisation), author accuracy, article paragraph recall, comments
leaked into the article, single-core speed, and for HTML the article-text token F1
of ours vs bare ``trafilatura.extract`` on the same pages.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moderation.extract import extract_page  # noqa: E402
from training.extract_eval import Tally, token_f1  # noqa: E402
from training.synth_pages import HTML_STYLES, PageFactory, data_dir  # noqa: E402

BENCH_SEED = 777  # the segmenter is fitted with seed 0 on the training pools


def run_text(factory: PageFactory, n: int) -> dict:
    pages = [factory.text_page() for _ in range(n)]
    tally, by_style = Tally(), {}
    start = time.perf_counter()
    docs = [extract_page(p.text) for p in pages]
    elapsed = time.perf_counter() - start
    for i, (page, doc) in enumerate(zip(pages, docs)):
        tally.add(doc, page.truth, f"text#{i}:{page.kind}:{page.style}")
        by_style.setdefault(page.style, Tally()).add(doc, page.truth)
    out = tally.summary()
    out["pages_per_second"] = round(n / elapsed, 1)
    out["styles"] = dict(Counter(p.style for p in pages)) | {"markdown": sum(p.kind == "markdown" for p in pages)}
    out["by_shape_f1"] = {k: v.summary()["comment_f1"] for k, v in by_style.items()}
    out["failed_pages"] = tally.failures[:10]
    return out


def run_html(factory: PageFactory, n: int) -> dict:
    from moderation.extract.html import _import_trafilatura

    trafilatura = _import_trafilatura()
    tally, ours_f1, bare_f1 = Tally(), [], []
    per_style: dict[str, Tally] = {}
    for i in range(n):
        style = HTML_STYLES[i % len(HTML_STYLES)]
        page = factory.html_page(style)
        doc = extract_page(page.text)
        tally.add(doc, page.truth, f"html#{i}:{style}")
        per_style.setdefault(style, Tally()).add(doc, page.truth)
        truth_text = "\n".join(page.truth["article"])
        ours_f1.append(token_f1("\n".join(doc.article), truth_text))
        bare_f1.append(token_f1(trafilatura.extract(page.text) or "", truth_text))
    out = tally.summary()
    out["article_token_f1_ours"] = round(sum(ours_f1) / n, 4)
    out["article_token_f1_bare_trafilatura"] = round(sum(bare_f1) / n, 4)
    out["recall_by_style"] = {k: v.summary()["comment_recall"] for k, v in per_style.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="default: $MODERATION_DATA_DIR or ../shared/data")
    ap.add_argument("--pages", type=int, default=300, help="plain-text pages")
    ap.add_argument("--html-pages", type=int, default=100)
    ap.add_argument("--seed", type=int, default=BENCH_SEED)
    args = ap.parse_args()
    root = data_dir(args.data_dir)
    factory = PageFactory(root, held_out=True, seed=args.seed)
    extract_page("warm up: load the segmenter model once.")
    result = {"plain_text": run_text(factory, args.pages)}
    if args.html_pages:
        result["html"] = run_html(factory, args.html_pages)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
