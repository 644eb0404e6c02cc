"""Real article bodies (gold text of public page datasets) and real comments in the page's
language, for plain-text dumps the segmenter is scored on (benchmarks/real_pages.py) and
partly fitted on (training/segmenter.py --real-pages).

Article bodies:
* ``pages/dragnet``: hand-copied article text (before the COMMENTS separator), English;
* ``pages/zh_cwced``: hand-copied Chinese bodies (their fixed-width line wraps rejoined);
* ``pages/readability``: Readability's expected article HTML, one paragraph per block;
* ``pages/trafilatura``: ``trafilatura.extract`` of the page, kept only when it holds every
  ``with`` snippet of the maintainers' evaluation data and none of the ``without`` ones.

Comments: the English pools of training/synth_pages.py, GermEval 2018 (de), COLD (zh) and
ToLD-Br (pt).  A page in a language without comment data is an article-only page.

Articles are split by a stable hash of their id into a fitting part and a scored part
(REAL_HELD_OUT_BUCKETS); comments by the buckets of synth_pages, so nothing scored was fitted.
"""

from __future__ import annotations

import json
import random
import re
import statistics
from functools import lru_cache
from pathlib import Path
from typing import Any

from training.synth_pages import Page, PageFactory, _bucket, _read_csv, _split, clean_comment, load_comments

# Of 10 hash buckets of the article id; the scored part is the larger one because real
# bodies are few (about 500), and the segmenter's fitting pages are mostly CoAID anyway.
REAL_HELD_OUT_BUCKETS = frozenset({3, 4, 5, 6, 7, 8, 9})
COMMENT_LANGS = ("en", "de", "zh", "pt")
DRAGNET_SEPARATOR_RE = re.compile(r"^\s*!@.{0,12}COMMENTS\s*$", re.M)  # a few files vary it
_LANG_ATTR_RE = re.compile(r"<html[^>]*?\slang=[\"']?([A-Za-z]{2})", re.I)
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_SENT_END = tuple("。！？!?”」』）)：:；;…")
# long-form structure: dialogue / Q&A lines, list items, live-blog time stamps
_DIALOGUE_RE = re.compile(r"^(?:[-–—―]\s*\S|[„“\"«»]|(?:Q|A|F|Frage|Antwort|问|答|Pergunta|Resposta)\s*[:：]|[^\s:：]{2,25}(?:\s[^\s:：]{1,20}){0,2}\s*[:：]\s+\S)")
_LIST_RE = re.compile(r"^(?:\d{1,2}[.)]\s|[•·*▪►]\s?|[（(]?[一二三四五六七八九十\d]{1,2}[、）)])")
_LIVE_RE = re.compile(r"^\d{1,2}[:.h]\d{2}\b")


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _clean_paras(lines: list[str]) -> list[str]:
    return [p for p in (" ".join(ln.split()) for ln in lines) if p and "\ufffd" not in p]


def longform_kind(paras: list[str], lang: str) -> str | None:
    """'dialogue', 'list', 'live' or 'short' when the body's structure is long-form, else None."""
    if sum(bool(_DIALOGUE_RE.match(p)) for p in paras) >= 3:
        return "dialogue"
    if sum(bool(_LIST_RE.match(p)) for p in paras) >= 3:
        return "list"
    if sum(bool(_LIVE_RE.match(p)) for p in paras) >= 3:
        return "live"
    size = [len(p) / 2.5 if lang in ("zh", "ja") else len(p.split()) for p in paras]
    if len(paras) >= 12 and statistics.median(size) <= 14:
        return "short"
    return None


def _article(source: str, key: str, lang: str, paras: list[str], title: str | None = None) -> dict[str, Any] | None:
    paras = [p for p in paras if p != title]
    if len(paras) < 2 or sum(len(p) for p in paras) < 300:
        return None
    return {"id": f"{source}/{key}", "source": source, "lang": lang, "title": title, "paras": paras,
            "longform": longform_kind(paras, lang)}


def _dragnet(root: Path) -> list[dict]:
    out = []
    for f in sorted((root / "pages" / "dragnet" / "Corrected").glob("*.corrected.txt")):
        body, *native = DRAGNET_SEPARATOR_RE.split(_decode(f))
        paras = _clean_paras(body.splitlines())
        art = _article("dragnet", f.name.split(".")[0], "en", paras[1:], title=paras[0]) if paras else None
        if art:
            art["native_comments"] = " ".join(" ".join(native).split())  # the page's own reader comments
            out.append(art)
    return out


def _rejoin_wrapped(lines: list[str]) -> list[str]:
    """zh_cwced bodies are hard-wrapped at a fixed width: a line that does not end a
    sentence continues on the next one."""
    out, cur = [], ""
    for ln in (x.strip() for x in lines):
        if not ln:
            continue
        cur += ln
        if cur.endswith(_SENT_END) or len(ln) < 25:
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def _zh_cwced(root: Path) -> list[dict]:
    out = []
    for f in sorted((root / "pages" / "zh_cwced" / "cleaned").glob("*.txt")):
        paras = _clean_paras(_rejoin_wrapped(_decode(f).splitlines()))
        out.append(_article("zh_cwced", f.stem, "zh", paras))
    return out


def _html_lang(html: str) -> str | None:
    langs = _LANG_ATTR_RE.findall(html[:20000])
    return langs[-1].lower() if langs else None


def _readability(root: Path) -> list[dict]:
    from lxml import html as lxml_html

    out = []
    for d in sorted((root / "pages" / "readability" / "test-pages").iterdir()):
        expected, source = d / "expected.html", d / "source.html"
        if not expected.exists():
            continue
        tree = lxml_html.fromstring(_decode(expected))
        blocks = tree.xpath("//p[not(ancestor::p) and not(ancestor::li)] | //li[not(.//p)] | //h2 | //h3 | //h4 | //blockquote[not(.//p)] | //pre")
        paras = _clean_paras(["".join(b.itertext()) for b in blocks])
        src = _decode(source)
        lang = _html_lang(src) or ("zh" if len(_CJK_RE.findall("".join(paras))) > 100 else "en")
        if lang == "zh" and re.search(r"[\u3040-\u30ff]", "".join(paras)):
            lang = "ja"
        meta = d / "expected-metadata.json"
        title = json.loads(meta.read_text(encoding="utf-8")).get("title") if meta.exists() else None
        out.append(_article("readability", d.name, lang, paras, title=title))
    return out


def _trafilatura_pages(root: Path) -> list[dict]:
    from moderation.extract.html import _import_trafilatura

    trafilatura = _import_trafilatura()
    base = root / "pages" / "trafilatura"
    entries = json.loads((base / "evaldata.json").read_text(encoding="utf-8"))
    out = []
    for url, e in sorted(entries.items()):
        path = next((p for p in (base / "eval" / e["file"], base / "cache" / e["file"]) if p.exists()), None)
        if path is None or not e.get("with"):
            continue
        html = _decode(path)
        text = trafilatura.extract(html, include_comments=False, include_tables=False) or ""
        if not all(s in text for s in e["with"]) or any(s in text for s in e.get("without", [])):
            continue  # the body trafilatura gives is not verified by the maintainers' snippets
        if any(c in text for c in e.get("comments", [])):
            continue
        lang = _html_lang(html)
        if lang is None:
            continue
        out.append(_article("trafilatura", e["file"].rsplit(".", 1)[0], lang, _clean_paras(text.splitlines())))
    return out


@lru_cache(maxsize=2)
def load_real_articles(root: Path) -> tuple[dict, ...]:
    """Every usable real article body, sorted by id."""
    arts = _dragnet(root) + _zh_cwced(root) + _readability(root) + _trafilatura_pages(root)
    return tuple(sorted((a for a in arts if a), key=lambda a: a["id"]))


def split_articles(root: Path, held_out: bool) -> list[dict]:
    return [a for a in load_real_articles(root) if (_bucket(a["id"]) in REAL_HELD_OUT_BUCKETS) == held_out]


_MENTION_RE = re.compile(r"(?:^|\s)(?:rt\s+)?@\w+:?")


def _tweet_text(t: str) -> str:
    """A tweet as a reader comment: line breaks and @-mentions out."""
    return clean_comment(_MENTION_RE.sub(" ", t.replace("|LBR|", " ")))


def _pool(texts: list[str], held_out: bool) -> list[str]:
    out, seen = [], set()
    for t in texts:
        if 4 <= len(t) <= 600 and t not in seen and "\ufffd" not in t and "http" not in t:
            seen.add(t)
            out.append(t)
    return _split(out, held_out)


@lru_cache(maxsize=4)
def load_comment_pools(root: Path, held_out: bool) -> dict[str, list[str]]:
    """Real comments per language (en, de, zh, pt)."""
    de = [ln.split("\t")[0] for ln in (root / "germeval2018" / "germeval2018.training.txt").read_text(encoding="utf-8").splitlines()]
    zh = [r["TEXT"] for f in ("train.csv", "dev.csv") for r in _read_csv(root / "cold" / f)]
    pt = [r["text"] for f in ("ptbr_train_1annotator.csv", "ptbr_validation_1annotator.csv") for r in _read_csv(root / "told_br" / f)]
    return {
        "en": load_comments(root, held_out),
        "de": _pool([_tweet_text(t) for t in de], held_out),
        "zh": _pool([clean_comment(t) for t in zh], held_out),
        "pt": _pool([_tweet_text(t) for t in pt], held_out),
    }


# Comment-section furniture in the page's language (headers, timestamps, actions).
LOCALE = {
    "de": {"headers": ["Kommentare", "{n} Kommentare", "Kommentare ({n})", "Leserkommentare", "Diskussion"],
           "timestamps": ["vor {h} Stunden", "vor {m} Minuten", "vor {d} Tagen", "{d}.11.2023, 16:{m:02d} Uhr", "gestern, 9:{m:02d} Uhr"],
           "actions": ["Antworten", "Antworten · {n} Likes", "Melden", "Antworten | Melden", "{n} Antworten"]},
    "pt": {"headers": ["Comentários", "{n} comentários", "Comentários ({n})", "Deixe um comentário"],
           "timestamps": ["há {h} horas", "há {m} minutos", "há {d} dias", "{d}/11/2023 16:{m:02d}", "ontem às 9:{m:02d}"],
           "actions": ["Responder", "Responder · {n} curtidas", "Denunciar", "Responder | Denunciar"]},
    "zh": {"headers": ["评论", "网友评论", "{n}条评论", "评论（{n}）", "全部评论", "发表评论"],
           "timestamps": ["{h}小时前", "{m}分钟前", "{d}天前", "2023-11-0{dd} 16:{m:02d}", "2023年11月{d}日 16:{m:02d}"],
           "actions": ["回复", "回复 · {n}赞", "举报", "回复 | 举报", "赞({n})"]},
}
ZH_NAMES = ["网友", "匿名用户", "小明", "北京网友", "上海网友", "王先生", "李华", "风之子", "夜猫子", "老张"]
COMMENT_STYLES = ("blank", "authors", "wrote", "numbered", "colon", "timestamps", "name_time", "compact")


# Material whose licence lets a sample ship in the repository (tests/fixtures): article
# bodies from zh_cwced (MIT), Readability's and trafilatura's test pages (Apache 2.0), English
# comments from Civil Comments via toxic_spans (CC0); not dragnet (AGPLv3) nor UCC (NC).
PERMISSIVE_SOURCES = frozenset({"zh_cwced", "readability", "trafilatura"})


class RealPageFactory(PageFactory):
    """Plain-text dumps: one real article body per page, comments in the page's language.
    ``permissive``: only material that may be committed (PERMISSIVE_SOURCES)."""

    def __init__(self, root: Path, held_out: bool, seed: int, permissive: bool = False):
        self.rng = random.Random(seed)
        self.real = [a for a in split_articles(root, held_out) if not permissive or a["source"] in PERMISSIVE_SOURCES]
        self.rng.shuffle(self.real)
        self.pools = {k: list(v) for k, v in load_comment_pools(root, held_out).items()}
        if permissive:
            toxic = [r["comment_text"] for r in _read_csv(root / "toxic_spans" / "data" / "comments.csv")]
            self.pools["en"] = _pool([clean_comment(t) for t in toxic], held_out)
        for pool in self.pools.values():
            self.rng.shuffle(pool)
        self.articles = [{"title": a["title"] or "", "sentences": []} for a in self.real if a["lang"] == "en"]
        self.comments = self.pools["en"]
        self._ai = self._ci = 0
        self._cur: dict | None = None
        self._pos = {k: 0 for k in self.pools}

    def _article(self) -> tuple[str, list[str]]:
        a = self._cur
        return a["title"] or "", list(a["paras"])

    def _comment(self) -> str:
        lang = self._cur["lang"]
        pool = self.pools[lang]
        self._pos[lang] += 1
        return pool[self._pos[lang] % len(pool)]

    def _author(self) -> str:
        if self._cur["lang"] == "zh" and self.rng.random() < 0.6:
            return self.rng.choice(ZH_NAMES) + str(self.rng.randint(1, 999)) * (self.rng.random() < 0.5)
        return super()._author()

    def page(self, article: dict, with_comments: bool, style: str) -> Page:
        """One dump of ``article``; with a comment section in ``style`` when ``with_comments``."""
        self._cur = article
        lang = article["lang"]
        loc = LOCALE.get(lang, {})
        # English furniture for languages without their own (not the previous page's)
        self.headers = loc.get("headers", PageFactory.headers)
        self.timestamps = loc.get("timestamps", PageFactory.timestamps)
        self.actions = loc.get("actions", PageFactory.actions)
        self.translate_rate = 0.12 if lang == "en" else 0.0
        self.boilerplate_rate = 0.3 if lang == "en" else 0.0
        page = self.text_page(shape="full" if with_comments else "no_comments", comment_style=style,
                              title=article["title"] is not None)
        page.lang, page.source, page.longform = lang, article["id"], article["longform"]
        page.style = style if with_comments else "none"
        return page

    def pages(self, n: int, no_comment_share: float = 0.3) -> list[Page]:
        """``n`` pages, one per article while articles last (then again with other comments);
        languages without comment data give article-only pages."""
        out = []
        for i in range(n):
            a = self.real[i % len(self.real)]
            with_comments = a["lang"] in COMMENT_LANGS and self.rng.random() >= no_comment_share
            out.append(self.page(a, with_comments, COMMENT_STYLES[i % len(COMMENT_STYLES)]))
        return out


def _gold_html_pages(root: Path) -> list[tuple[str, Path, dict]]:
    """(id, raw HTML path, article) for the datasets whose gold is the article body."""
    base = root / "pages"
    out = []
    for a in load_real_articles(root):
        source, key = a["id"].split("/", 1)
        path = {"dragnet": base / "dragnet" / "HTML" / f"{key}.html",
                "zh_cwced": base / "zh_cwced" / "original" / f"{key}.html",
                "readability": base / "readability" / "test-pages" / key / "source.html"}.get(source)
        if path is not None and path.exists():
            out.append((a["id"], path, a))
    return out


def inject_comments(raw: bytes, style: str, comments: list[dict], rng: random.Random) -> str:
    """The page with a comment section in ``style`` markup right after the article's
    paragraphs (after the element holding most ``<p>``), serialised as text."""
    from lxml import html as lxml_html

    from training.synth_pages import render_comments_html

    tree = lxml_html.document_fromstring(raw)
    parents = [p.getparent() for p in tree.iter("p") if p.getparent() is not None]
    body = tree.find(".//body")
    container = max(set(parents), key=parents.count) if parents else body
    section = lxml_html.fragment_fromstring(render_comments_html(style, comments, rng))
    if container is None or container.tag in ("body", "html"):
        (body if body is not None else tree).append(section)
    else:
        container.addnext(section)
    return lxml_html.tostring(tree, encoding="unicode")


def html_cases(root: Path, held_out: bool, rng: random.Random) -> list[dict]:
    """Real HTML pages of the scored (or fitting) buckets with an injected comment section."""
    from training.synth_pages import HTML_STYLES

    pools = load_comment_pools(root, held_out)
    out = []
    factory = PageFactory.__new__(PageFactory)  # only for its author-name generator
    factory.rng = rng
    for i, (aid, path, art) in enumerate(p for p in _gold_html_pages(root) if (_bucket(p[0]) in REAL_HELD_OUT_BUCKETS) == held_out):
        pool = pools.get(art["lang"], pools["en"])
        comments = [{"author": factory._author(), "text": rng.choice(pool)} for _ in range(rng.randint(2, 12))]
        style = HTML_STYLES[i % len(HTML_STYLES)]
        out.append({"id": aid, "style": style, "lang": art["lang"], "article": art["paras"],
                    "comments": comments, "native_comments": art.get("native_comments", ""), "html": inject_comments(path.read_bytes(), style, comments, rng)})
    return out


def page_record(page: Page) -> dict[str, Any]:
    """A page as a JSON record (the gate sample's lines; training.extract_eval.score_pages)."""
    return {"text": page.text, "truth": page.truth, "lang": page.lang, "style": page.style,
            "longform": page.longform, "source": page.source}


def write_gate_sample(path: Path, root: Path, n: int, seed: int, max_chars: int) -> None:
    """A small committed sample of the benchmark (scored buckets, permissive material only,
    pages up to ``max_chars``) for tests/test_extract_real_gate.py, which never reads ../shared."""
    factory = RealPageFactory(root, held_out=True, seed=seed, permissive=True)
    factory.real = [a for a in factory.real if sum(len(p) for p in a["paras"]) <= max_chars * 0.6]
    with open(path, "w", encoding="utf-8") as fh:
        for page in factory.pages(n):
            if len(page.text) <= max_chars:
                fh.write(json.dumps(page_record(page), ensure_ascii=False) + "\n")


def main() -> None:
    import argparse

    from training.synth_pages import data_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="default: $MODERATION_DATA_DIR or ../shared/data")
    ap.add_argument("--gate-sample", type=Path, required=True, help="write the committed gate sample here")
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--max-chars", type=int, default=5000)
    args = ap.parse_args()
    write_gate_sample(args.gate_sample, data_dir(args.data_dir), args.pages, args.seed, args.max_chars)


def random_page(factory: RealPageFactory) -> Page:
    """A page of a random article in a random shape and comment style (for fitting)."""
    rng = factory.rng
    article = rng.choice(factory.real)
    with_comments = article["lang"] in COMMENT_LANGS and rng.random() >= 0.3
    return factory.page(article, with_comments, rng.choice(COMMENT_STYLES))


if __name__ == "__main__":
    main()
