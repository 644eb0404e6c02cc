"""``moderation report``: the review page built from seed 000 (and a second page of markup), checked
in the data it carries and in a real headless Chromium: queue order, filters, escaping, the
page threads and the CSV export, which must load as a ``moderation train --data`` label file.

Scores come from the tiny untrained model (tests/conftest.py), so the checks compare the page
with the score file rather than with expected values.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from moderation import extract_page
from moderation.cli import app
from moderation.labels import LABELS, MISSING
from moderation.report import SCALE, Report, histogram_svg, read_scores, why_plan
from tests import browser

SEEDS = Path(__file__).parent / "fixtures" / "seeds"
SEED_000 = SEEDS / "000_81f09624bfe65d55.txt"
TITLE_000 = 'Seed 000 <i>page</i> & "more"'
#: A second page (seeds 001 to 004 hold no comments), its title and comments full of markup.
LETTERS, TITLE_LETTERS = "letters.html", "Letters <script>window.__pwned = 4</script>"
#: Comments that would run code if any part of the page treated text as HTML.
EVIL = [
    "<script>window.__pwned = 1</script>Nice article, pwned",
    '<img src=x onerror="window.__pwned = 2"> pwned look',
    "</script><script>window.__pwned = 3</script> pwned",
    'He said "no, never",\nthen left. pwned, à bientôt 😀 <b>bold</b>',
]
runner = CliRunner()
PER = 20  # rows per screen, so that the fixture spans several


def _invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def _rows() -> list[dict[str, Any]]:
    """Seed 000's comments and the EVIL letters, as a comment table with page fields."""
    doc = extract_page(SEED_000.read_text(encoding="utf-8"))
    pages = [(SEED_000.name, TITLE_000, [(c.id, c.text, c.author) for c in doc.comments]),
             (LETTERS, TITLE_LETTERS, [(f"evil{k}", t, "<u>mallory</u>") for k, t in enumerate(EVIL)])]
    return [{"id": f"{source[:3]}-{cid}", "text": text, "author": author, "source": source, "title": title, "position": position}
            for source, title, comments in pages for position, (cid, text, author) in enumerate(comments, 1)]


def payload_of(html: str) -> dict[str, Any]:
    return json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S).group(1))


@pytest.fixture(scope="module")
def built(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("report")
    table = tmp / "comments.jsonl"
    rows = _rows()
    table.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    scores = tmp / "scores.jsonl"
    _invoke("score", str(table), "--model", str(tiny_model_dir), "--keep-fields", "author,source,title,position",
            "--output", str(scores), "--quiet")
    report = tmp / "report.html"
    _invoke("report", str(scores), "--comments", str(table), "--model", str(tiny_model_dir), "--output", str(report), "--quiet")
    html = report.read_text(encoding="utf-8")
    return {"rows": rows, "records": read_scores(scores), "path": report, "html": html, "data": payload_of(html), "tmp": tmp}


# --- the file ------------------------------------------------------------------------------


def test_report_from_pages_has_every_text(tiny_model_dir: Path, tmp_path: Path) -> None:
    pages, scores, out = tmp_path / "pages.jsonl", tmp_path / "s.csv", tmp_path / "r.html"
    _invoke("extract", str(SEED_000), "--output", str(pages))
    _invoke("score", str(SEED_000), "--model", str(tiny_model_dir), "--output", str(scores), "--quiet")
    result = _invoke("report", str(scores), "--pages", str(pages), "--model", str(tiny_model_dir), "--output", str(out))
    assert "warning" not in result.output
    data = payload_of(out.read_text(encoding="utf-8"))
    doc = extract_page(SEED_000.read_text(encoding="utf-8"))
    assert data["text"] == [c.text for c in doc.comments]
    assert data["pages"] == [[str(SEED_000), None]] and data["position"] == list(range(1, 31))
    assert data["why"], "flagged comments of several sentences get sentence scores"


def test_report_is_self_contained_and_escaped(built: dict[str, Any]) -> None:
    html = built["html"]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no network resource"
    assert html.count("<script") == 2 and html.count("</script>") == 2, "comment text cannot open or close a script"
    assert "<img" not in html and "<u>mallory" not in html
    assert "<i>page" not in html and "<script>window" not in html  # titles too travel as JSON data
    assert built["data"]["text"] == [r["text"] for r in built["rows"]]


def test_scores_read_from_csv_and_parquet_alike(built: dict[str, Any], tiny_model_dir: Path) -> None:
    table = built["tmp"] / "comments.jsonl"
    records = {}
    for ext in ("csv", "parquet"):
        out = built["tmp"] / f"scores.{ext}"
        _invoke("score", str(table), "--model", str(tiny_model_dir), "--keep-fields", "author,source,title,position",
                "--output", str(out), "--quiet")
        records[ext] = read_scores(out)
    for ext, got in records.items():
        assert [(r["id"], r["scores"], r["source"], r["position"]) for r in got] == \
               [(r["id"], r["scores"], r["source"], r["position"]) for r in built["records"]], ext


def test_why_plan_is_bounded_and_flagged_only() -> None:
    texts = ["One. Two. Three.", "Calm one. Calm two.", "Single sentence here", "Bad. Worse."]
    records = [{"id": str(i), "scores": {"hostility": s}} for i, s in enumerate([0.9, 0.1, 0.95, 0.6])]
    report = Report(records, ["hostility"], {"hostility": 0.5}, "m@1", [], texts)
    plan = why_plan(report, limit=3)
    # 2 (0.95) has one sentence, 1 is not flagged, the limit of 3 stops at 3 (0.6).
    assert [(i, batch) for i, _, batch in plan] == [(0, ["One.", "Two.", "Three."]), (3, ["Bad.", "Worse."])]
    assert why_plan(report, limit=1) == []


def test_histogram_counts() -> None:
    svg = histogram_svg([0.0, 0.01, 0.5, 0.99, 1.0], 0.5, bins=4)
    assert re.findall(r"<title>([^<]*)</title>", svg) == ["0.00–0.25: 2", "0.50–0.75: 1", "0.75–1.00: 2"]


def test_report_errors(tiny_model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    result = runner.invoke(app, ["report", str(bad), "--model", str(tiny_model_dir), "--output", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "record 1 is not a `moderation score` record" in result.output
    result = runner.invoke(app, ["report", str(bad), "--output", str(tmp_path / "r.txt")])
    assert result.exit_code == 2 and "name it .html" in result.output
    good = tmp_path / "s.jsonl"
    good.write_text('{"id": "a", "scores": {"hostility": 0.9}, "labels": ["hostility"], "model": "tiny@0.0.1"}\n')
    result = _invoke("report", str(good), "--model", str(tiny_model_dir), "--output", str(tmp_path / "r.html"))
    assert "1 of 1 comments have no text in the inputs (give --pages or --comments)" in result.output


# --- the page in Chromium --------------------------------------------------------------------

needs_browser = pytest.mark.skipif(browser.missing() is not None, reason=f"browser tests: {browser.missing()}")


@pytest.fixture(scope="module")
def chromium() -> Any:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = browser.launch(p)
        yield b
        b.close()


@pytest.fixture
def page(chromium: Any, built: dict[str, Any]) -> Any:
    context = chromium.new_context(accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(built["path"].as_uri() + f"?per={PER}")
    ready(page)
    page.click("nav button[data-tab=queue]")
    yield page
    assert not errors, errors
    assert page.evaluate("window.__pwned") is None, "a comment's markup ran"
    context.close()


def ready(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.locator("body")).to_have_attribute("data-ready", "1")


def until_total(page: Any, n: int) -> None:
    """Wait for the (debounced) search to show ``n`` matches."""
    from playwright.sync_api import expect

    expect(page.locator("#q-pager .range")).to_have_text(re.compile(f" of {n}$"))


def shown(page: Any) -> list[int]:
    return [int(i) for i in page.eval_on_selector_all("#q-list .row", "rows => rows.map(r => r.dataset.i)")]


def total(page: Any) -> int:
    text = page.inner_text("#q-pager .range")
    return 0 if text == "nothing matches" else int(text.split(" of ")[1])


def expected(built: dict[str, Any], keep=lambda i: True, label: int | None = None) -> list[int]:
    scores = built["data"]["scores"]
    key = (lambda i: scores[i][label]) if label is not None else (lambda i: max(scores[i]))
    return sorted((i for i in range(len(scores)) if keep(i)), key=lambda i: (-key(i), i))


@needs_browser
def test_queue_order_and_paging(page: Any, built: dict[str, Any]) -> None:
    order = expected(built)
    assert total(page) == len(order) == len(built["rows"])
    assert shown(page) == order[:PER]
    page.click("#q-pager button:last-child")
    assert shown(page) == order[PER:2 * PER]
    first = page.locator(f'#q-list .row[data-i="{order[PER]}"] .chip').all_inner_texts()
    assert first == [f"{label} {built['data']['scores'][order[PER]][j] / SCALE:.2f}" for j, label in enumerate(LABELS)]


@needs_browser
def test_label_and_threshold_filters(page: Any, built: dict[str, Any]) -> None:
    scores = built["data"]["scores"]
    j = LABELS.index("identity_attack")
    page.select_option("#f-label", str(j))
    assert shown(page) == expected(built, label=j)[:PER]
    cut = sorted(s[j] for s in scores)[len(scores) // 2] / SCALE  # the median: half the comments stay
    page.fill("#f-min", f"{cut:.2f}")
    want = expected(built, lambda i: scores[i][j] >= round(float(f"{cut:.2f}") * SCALE), label=j)
    assert 0 < total(page) == len(want) < len(scores)
    assert shown(page) == want[:PER]
    page.click("#f-stored")  # the label's stored threshold: the comments flagged for it
    assert page.input_value("#f-min") == "0.5"
    assert total(page) == sum(j in [LABELS.index(l) for l in r["labels"]] for r in built["records"])


@needs_browser
def test_page_filter_and_search(page: Any, built: dict[str, Any]) -> None:
    data = built["data"]
    second = next(k for k, p in enumerate(data["pages"]) if p[0] == LETTERS)
    page.select_option("#f-page", str(second))
    want = expected(built, lambda i: data["page"][i] == second)
    assert total(page) == len(want) == len(EVIL)
    assert shown(page) == want[:PER]
    page.select_option("#f-page", "-2")
    page.fill("#f-q", "HAMAS")
    want = expected(built, lambda i: "hamas" in data["text"][i].lower())
    until_total(page, len(want))
    assert len(want) > 1 and shown(page) == want[:PER]
    page.fill("#f-q", "mallory")  # authors are searched too
    until_total(page, len(EVIL))


@needs_browser
def test_markup_in_comments_renders_as_text(page: Any, built: dict[str, Any]) -> None:
    page.fill("#f-q", "pwned")
    until_total(page, len(EVIL))
    rows = page.locator("#q-list .row")
    texts = sorted(rows.locator(".text").evaluate_all("ps => ps.map(p => p.textContent)"))
    assert texts == sorted(EVIL)
    assert rows.locator(".text img, .text script, .text b, .author u").count() == 0
    assert set(rows.locator(".author").all_inner_texts()) == {"<u>mallory</u>"}
    assert page.locator(".title").first.inner_text() == TITLE_LETTERS
    assert page.evaluate("document.scripts.length") == 2


@needs_browser
def test_why_highlights_the_top_sentence(page: Any, built: dict[str, Any]) -> None:
    data = built["data"]
    i = next(i for i in shown(page) if str(i) in data["why"])
    label = max(range(len(LABELS)), key=lambda j: (data["scores"][i][j], -j))
    spans = data["why"][str(i)]
    best = max(spans, key=lambda s: (s[2 + label], -spans.index(s)))
    text = data["text"][i]
    assert page.locator(f'#q-list .row[data-i="{i}"] mark').inner_text() == text[best[0]:best[1]]
    assert page.locator(f'#q-list .row[data-i="{i}"] .text').text_content() == text


@needs_browser
def test_pages_show_threads_in_order(page: Any, built: dict[str, Any]) -> None:
    data = built["data"]
    page.click("nav button[data-tab=pages]")
    links = page.locator("#p-list a")
    flagged = {k: sum(any(s >= 5000 for s in data["scores"][i]) for i in range(len(data["page"])) if data["page"][i] == k)
               for k in range(len(data["pages"]))}
    assert [int(k) for k in links.evaluate_all("as => as.map(a => a.dataset.page)")] == sorted(flagged, key=lambda k: (-flagged[k], k))
    k = next(k for k, p in enumerate(data["pages"]) if p[0] == SEED_000.name)
    page.click(f'#p-list a[data-page="{k}"]')
    thread = [int(i) for i in page.eval_on_selector_all("#thread .row", "rows => rows.map(r => r.dataset.i)")]
    assert [data["position"][i] for i in thread] == list(range(1, 31))
    assert page.locator("#thread h2").inner_text() == TITLE_000
    assert page.locator("#thread .row.flagged").count() == flagged[k]


@needs_browser
def test_export_round_trips_into_label_file_validation(page: Any, built: dict[str, Any], tmp_path: Path) -> None:
    from training.data import normalise
    from training.labelfiles import load_label_file

    data = built["data"]
    page.fill("#f-q", "pwned")
    until_total(page, len(EVIL))
    a, b, c, d = shown(page)[:4]
    row = lambda i: page.locator(f'#q-list .row[data-i="{i}"]')  # noqa: E731
    row(a).locator('.chip[data-label="hostility"]').click()                       # confirmed
    row(a).locator('.chip[data-label="threat"]').click()
    row(a).locator('.chip[data-label="threat"]').click()                          # rejected
    row(b).get_by_role("button", name="not a problem").click()                    # every label 0
    row(c).get_by_role("button", name="model right").click()                      # 1 where flagged, else 0
    row(d).locator('.chip[data-label="insult"]').click()
    row(d).get_by_role("button", name="unsure").click()                           # undecided: left out
    assert page.inner_text("#decided") == "3"
    with page.expect_download() as info:
        page.click("#export")
    path = tmp_path / "labels.csv"
    info.value.save_as(path)
    frame, problems = load_label_file(path)
    assert problems == []
    got = {t: {l: frame[l][k] for l in LABELS} for k, t in enumerate(frame["text"])}
    flags = lambda i: {l: float(data["scores"][i][j] >= 5000) for j, l in enumerate(LABELS)}  # noqa: E731
    want = {
        normalise(data["text"][a]): {**{l: MISSING for l in LABELS}, "hostility": 1.0, "threat": 0.0},
        normalise(data["text"][b]): {l: 0.0 for l in LABELS},
        normalise(data["text"][c]): flags(c),
    }
    assert got == want
    page.reload()  # decisions survive a reload (localStorage)
    ready(page)
    assert page.inner_text("#decided") == "3"
