"""Synthetic page dumps with known truth, built from real article bodies (CoAID) and
real reader comments (UCC, Kaggle insults, toxic spans).  Shared by the segmenter
training (training/segmenter.py) and the benchmarks (benchmarks/extraction.py).

Articles and comments are split into disjoint train / held-out pools by a stable
hash, so a benchmark never sees the texts the segmenter was fitted on.

    python -m training.synth_pages --sample tests/fixtures/extract_sample.jsonl
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import random
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
HELD_OUT_BUCKETS = frozenset({7, 8, 9})  # of 10 hash buckets; the rest is for training

FIRST_NAMES = "James Mary Robert Linda Ahmed Wei Olga Pierre Ana Kofi Priya Sven Maria John Fatima Diego Yuki Chen Liam Emma".split()
LAST_NAMES = "Smith Nguyen Garcia Müller Okafor Rossi Kowalski Cohen Tanaka Silva Brown Patel O'Neil Dubois Lee Vogler".split()
HANDLE_WORDS = "truth patriot eagle wolf maple coffee skeptic voter reader north river tiger ghost jazz".split()
PHRASE_NAMES = ["Iron Man", "Satan Wins!", "Just Saying", "Common Sense", "Old Timer", "Concerned Citizen", "Free Thinker", "Night Owl", "Average Joe", "The Realist"]
HEADERS = ["Comments", "{n} Comments", "Join the conversation", "READER COMMENTS", "Comments ({n})", "{n} comments",
           "What readers are saying", "Leave a comment", "Discussion", "Reader comments", "COMMENTS", "{n} Responses"]
TIMESTAMPS = ["{h} hours ago", "{m} minutes ago", "{d} days ago", "Nov {d}, 2023 4:{m:02d} pm", "Yesterday at 9:{m:02d} AM",
              "2023-11-0{dd} 16:{m:02d}", "a day ago", "{d} Mar 2024", "Oct {d}, 2023"]
ACTIONS = ["Reply · {n} Likes", "Reply", "Report abuse", "Like · Reply", "Reply | Report", "{n} likes", "Share · Report",
           "↑ {n} ↓ {m}", "Reply · {n} Likes · Report"]
SECTION_ACTIONS = ["Load more comments", "Sort by Newest", "Sort by: Best", "Show more comments", "View all comments"]
NEWSLETTER = [
    "Sign up for our daily newsletter to get the latest headlines sent to your inbox. Please enter a valid email address. SIGN UP",
    "Get our free Morning Briefing email. Sign up for the newsletter and receive updates every weekday.",
    "Subscribe to our newsletter for weekly updates",
]
OTHER_BOILERPLATE = ["Advertisement", "Share this article", "Follow us on Twitter", "Story continues below advertisement",
                     "{a} and {b} contributed to this report.", "The Associated Press contributed to this report.",
                     "Read more: {t}", "© 2023 The Daily Record. All rights reserved."]
FOREIGN_ALPHABETS = {"zh": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴",
                    "ru": "абвгдежзийклмнопрстуфхцчшщыэюя"}


@dataclass
class Page:
    """One synthetic page: its text and the truth the extractor should recover."""

    text: str
    kind: str  # "text", "markdown" or "html"
    style: str
    truth: dict[str, Any]
    # role of each non-blank line (plain text only): title/article/boilerplate/translation/comment/author/meta
    roles: list[str] = field(default_factory=list)
    lang: str = "en"
    source: str = ""  # article id (real pages)
    longform: str | None = None  # long-form structure of the article body (real pages)


def data_dir(cli_value: str | None = None) -> Path:
    """--data-dir, else $MODERATION_DATA_DIR, else ../shared/data next to the repo."""
    return Path(cli_value or os.environ.get("MODERATION_DATA_DIR") or DEFAULT_DATA_DIR)


def _bucket(text: str) -> int:
    return zlib.crc32(text.encode("utf-8")) % 10


def _split(items: list[str], held_out: bool) -> list[str]:
    return [t for t in items if (_bucket(t) in HELD_OUT_BUCKETS) == held_out]


def _read_csv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return list(csv.DictReader(fh))


# --- articles -------------------------------------------------------------------
_DETOKENISE = ((re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m)\b"), r"\1"), (re.compile(r" ([,.;:!?%)])"), r"\1"), (re.compile(r"([($]) "), r"\1"))
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")


def _case_map(titles: list[str]) -> dict[str, str]:
    """Truecasing from headlines: words mostly capitalised mid-headline keep that case."""
    forms: dict[str, Counter[str]] = {}
    for title in titles:
        words = title.split()[1:]
        if not words or sum(w[:1].isupper() for w in words) / len(words) > 0.4:
            continue  # Title Case Headlines say nothing about a word's own case
        for w in re.findall(r"[A-Za-z][\w\-]*", title)[1:]:
            forms.setdefault(w.lower(), Counter())[w] += 1
    out = {}
    for low, counter in forms.items():
        form, n = counter.most_common(1)[0]
        if form != low and n >= 2 and n / sum(counter.values()) >= 0.6 and not title_is_shouting(form):
            out[low] = form
    return out


def title_is_shouting(word: str) -> bool:
    return len(word) > 4 and word.isupper() and not any(ch.isdigit() for ch in word)


def _truecase(sentence: str, case: dict[str, str]) -> str:
    for pattern, repl in _DETOKENISE:
        sentence = pattern.sub(repl, sentence)
    words = [case.get(w.lower(), w) if w.islower() else w for w in sentence.split(" ")]
    words = ["I" if w == "i" else w for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def load_articles(root: Path, held_out: bool) -> list[dict[str, Any]]:
    """CoAID news bodies as lists of truecased sentences, with their headline."""
    rows = [r for f in sorted(root.glob("coaid/*/News*.csv")) for r in _read_csv(f)]
    case = _case_map([r.get("title") or "" for r in rows] + [r.get("newstitle") or "" for r in rows])
    seen, out = set(), []
    for r in rows:
        content = (r.get("content") or "").strip()
        if len(content) < 150 or content in seen:
            continue
        seen.add(content)
        sentences = [s for s in _SENTENCE_RE.split(content) if len(s.split()) >= 4]
        if len(content) >= 450 and len(sentences) > 1:
            sentences = sentences[:-1]  # CoAID truncates bodies mid-sentence
        sentences = [_truecase(s.strip(), case) for s in sentences]
        title = (r.get("newstitle") or r.get("title") or "").strip().strip('"').strip()
        if sentences:
            out.append({"title": title, "sentences": sentences, "key": content})
    return [a for a in out if (_bucket(a["key"]) in HELD_OUT_BUCKETS) == held_out]


# --- comments ---------------------------------------------------------------------
_WS_RE = re.compile(r"\s+")
_ESCAPED_WS_RE = re.compile(r"\\[nrt]")


def _unescape_kaggle(s: str) -> str:
    """Kaggle insults are quoted and backslash-escaped UTF-8 (e.g. \\xc2\\xa0, \\n)."""
    s = s.strip()
    if s.startswith('"') and s.endswith('"'):
        s = s[1:-1]
    for _ in range(2):  # some rows are escaped twice ("\\xc2\\xa0")
        if "\\" not in s:
            break
        try:
            s = s.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1").decode("utf-8")
        except (UnicodeDecodeError, UnicodeEncodeError):
            return ""
    return s


def clean_comment(text: str) -> str:
    """One-line comment text, the form in which dumps carry it."""
    return _WS_RE.sub(" ", _ESCAPED_WS_RE.sub(" ", text.replace("\xa0", " "))).strip()


def load_comments(root: Path, held_out: bool) -> list[str]:
    """Real reader comments, one line each, deduplicated."""
    raw = [r["comment"] for r in _read_csv(root / "ucc" / "val.csv")]
    raw += [_unescape_kaggle(r["Comment"]) for r in _read_csv(root / "kaggle_insults" / "train.csv")]
    raw += [r["comment_text"] for r in _read_csv(root / "toxic_spans" / "data" / "comments.csv")]
    out, seen = [], set()
    for t in map(clean_comment, raw):
        if 2 <= len(t) <= 600 and t not in seen and "\ufffd" not in t and "http" not in t:
            seen.add(t)
            out.append(t)
    return _split(out, held_out)


# --- page assembly -------------------------------------------------------------------
class PageFactory:
    """Draws pages in every supported style from the article and comment pools."""

    # comment-section furniture and rates; training/real_pages.py localises them per page
    headers, timestamps, actions = HEADERS, TIMESTAMPS, ACTIONS
    translate_rate, boilerplate_rate = 0.12, 0.3

    def __init__(self, root: Path, held_out: bool, seed: int):
        self.rng = random.Random(seed)
        self.articles = load_articles(root, held_out)
        self.comments = load_comments(root, held_out)
        self.rng.shuffle(self.articles)
        self.rng.shuffle(self.comments)
        self._ai = self._ci = 0

    # pools ---------------------------------------------------------------------------
    def _article(self) -> tuple[str, list[str]]:
        """A headline and paragraphs: 1-3 CoAID bodies cut into 1-3 sentence paragraphs."""
        sentences: list[str] = []
        title = ""
        for _ in range(self.rng.randint(1, 3)):
            a = self.articles[self._ai % len(self.articles)]
            self._ai += 1
            title = title or a["title"]
            sentences += a["sentences"]
        paras, i = [], 0
        while i < len(sentences):
            k = self.rng.randint(1, 3)
            paras.append(" ".join(sentences[i : i + k]))
            i += k
        return title or "News update", paras

    def _comment(self) -> str:
        c = self.comments[self._ci % len(self.comments)]
        self._ci += 1
        return c

    def _author(self) -> str:
        r, rng = self.rng.random(), self.rng
        if r < 0.4:
            return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if r < 0.65:
            return f"{rng.choice(HANDLE_WORDS)}{rng.choice(['_', '', '.'])}{rng.choice(HANDLE_WORDS)}{rng.randint(1, 999)}"
        if r < 0.8:
            return rng.choice(PHRASE_NAMES)
        if r < 0.9:
            return f"{rng.choice(FIRST_NAMES)}{rng.randint(10, 99)}"
        return f"{rng.randint(100, 9999)} people" if rng.random() < 0.3 else rng.choice(FIRST_NAMES)

    def _fmt(self, template: str) -> str:
        rng = self.rng
        return template.format(n=rng.randint(2, 300), m=rng.randint(1, 59), h=rng.randint(1, 23), d=rng.randint(1, 28),
                               dd=rng.randint(1, 9), a=rng.choice(FIRST_NAMES) + " " + rng.choice(LAST_NAMES),
                               b=rng.choice(["Reuters", "AFP", "CNN's " + rng.choice(LAST_NAMES)]),
                               t=self.articles[rng.randrange(len(self.articles))]["title"] or "More news")

    def _foreign(self, text: str) -> tuple[str, str]:
        """A pseudo-translation: same length, letters mapped into another script."""
        lang = self.rng.choice(sorted(FOREIGN_ALPHABETS))
        alphabet = FOREIGN_ALPHABETS[lang]
        if lang == "zh":
            out = "".join(alphabet[(ord(ch) * 7 + i) % len(alphabet)] if ch.isalpha() else ("，" if ch == "," else ch)
                          for i, ch in enumerate(text) if not (ch == " " and i % 3))
        else:
            out = "".join(alphabet[ord(ch.lower()) % len(alphabet)] if ch.isalpha() else ch for ch in text)
        return lang, out

    # plain text -------------------------------------------------------------------------
    def text_page(self, shape: str | None = None, comment_style: str | None = None, title: bool = True) -> Page:
        """A plain-text (or Markdown) dump in a randomly drawn style (or the ``shape`` /
        ``comment_style`` given); ``title=False``: the article has no headline."""
        rng = self.rng
        out: list[tuple[str, str]] = []  # (line, role); "" line = blank
        truth: dict[str, Any] = {"title": None, "metadata": {}, "article": [], "translations": [], "boilerplate": [], "comments": []}
        drawn = rng.choices(["full", "no_comments", "only_comments"], [0.75, 0.13, 0.12])[0]
        shape = shape or drawn
        markdown = shape != "only_comments" and rng.random() < 0.12
        if shape != "only_comments":
            self._article_lines(out, truth, markdown, title)
        if shape != "no_comments":
            self._comment_lines(out, truth, shape, comment_style)
        text, roles = _render(out)
        if markdown:
            meta = {"tags": rng.sample(["covid", "health", "vaccines", "usa", "science"], 2), "source": "coaid"}
            truth["metadata"].update(meta)
            text = "---\n" + f"tags: {json.dumps(meta['tags'])}\nsource: coaid\n" + "---\n\n" + text
        return Page(text=text, kind="markdown" if markdown else "text", style=shape, truth=truth, roles=roles)

    def _article_lines(self, out: list[tuple[str, str]], truth: dict[str, Any], markdown: bool, with_title: bool = True) -> None:
        rng = self.rng
        title, paras = self._article()
        if (markdown or rng.random() < 0.45) and with_title and title:
            truth["title"] = title
            out += [("# " + title if markdown else title, "title"), ("", "")] if rng.random() < 0.6 or markdown else [(title, "title")]
        layout = rng.choice(["compact", "blank", "blocks"])
        if rng.random() < 0.12:
            date = f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            truth["metadata"]["date"] = date
            block = rng.choice(NEWSLETTER)
            truth["boilerplate"].append(block)
            out[:0] = [(f" date {date} {block}", "boilerplate"), ("", "")]  # a dump's first line
        translate = rng.random() < self.translate_rate
        for i, para in enumerate(paras):
            if i and rng.random() < 0.08 * (self.boilerplate_rate > 0):
                self._boilerplate(out, truth, caps=True)
            truth["article"].append(para)
            out.append((para, "article"))
            end_of_block = layout == "blank" or (layout == "blocks" and rng.random() < 0.4) or i == len(paras) - 1
            if translate and end_of_block and rng.random() < 0.6:
                lang, foreign = self._foreign(para)
                truth["translations"].append({"lang": lang, "text": foreign})
                out += [("", ""), (foreign, "translation")]
            if end_of_block and layout != "compact":
                out += [("", "")] * rng.choice([1, 1, 1, 2])
        if rng.random() < self.boilerplate_rate:
            self._boilerplate(out, truth, caps=False)

    def _boilerplate(self, out: list[tuple[str, str]], truth: dict[str, Any], caps: bool) -> None:
        rng = self.rng
        if caps and rng.random() < 0.5:
            line = (self.articles[rng.randrange(len(self.articles))]["title"] or "BREAKING NEWS TODAY").upper()
            if len(line.split()) < 3:
                line += " AS OFFICIALS RESPOND"
        else:
            line = self._fmt(rng.choice(OTHER_BOILERPLATE + NEWSLETTER[:1]))
        truth["boilerplate"].append(line)
        out.append((line, "boilerplate"))

    def _comment_lines(self, out: list[tuple[str, str]], truth: dict[str, Any], shape: str, style: str | None = None) -> None:
        rng = self.rng
        drawn = rng.choice(["blank", "authors", "wrote", "numbered", "colon", "timestamps", "name_time", "compact"])
        style = style or drawn
        n = rng.randint(3, 30)
        if out:
            out += [("", "")] * rng.choice([1, 2])
        if rng.random() < (0.6 if shape == "full" else 0.3):
            out += [(self._fmt(rng.choice(self.headers)), "meta"), ("", "")]
            if rng.random() < 0.25:
                out += [(rng.choice(SECTION_ACTIONS), "meta"), ("", "")]
        author_rate = {"blank": 0.2, "compact": 0.0}.get(style, 1.0)
        for i in range(n):
            text = self._comment()
            author = self._author() if rng.random() < author_rate else None
            truth["comments"].append({"author": author, "text": text})
            if author:
                if style == "wrote":
                    out.append((f"{author} wrote on {self._fmt('Nov {d}, 2023')}:", "meta"))
                elif style == "numbered":
                    out.append((f"#{i + 1} {author}", "meta"))
                elif style == "colon":
                    out.append((f"{author}:", "meta"))
                elif style == "name_time":
                    out.append((f"{author} · {self._fmt(rng.choice(self.timestamps))}", "meta"))
                else:
                    out.append((author, "author"))
                    if style == "timestamps":
                        out.append((self._fmt(rng.choice(self.timestamps)), "meta"))
            out.append((text, "comment"))
            if style in ("timestamps", "name_time") and rng.random() < 0.7:
                out.append((self._fmt(rng.choice(self.actions)), "meta"))
            if i < n - 1:
                if style == "compact" and rng.random() < 0.8:
                    continue
                out += [("", "")] * rng.choice([1, 1, 2])
        if rng.random() < 0.2:
            out += [("", ""), (rng.choice(SECTION_ACTIONS), "meta")]

    # HTML ----------------------------------------------------------------------------------
    def html_page(self, style: str) -> Page:
        """An HTML page with the article, site chrome and a comment section in ``style`` markup."""
        rng = self.rng
        title, paras = self._article()
        comments = [{"author": self._author(), "text": self._comment()} for _ in range(rng.randint(2, 15))]
        e = html.escape
        body = "".join(f"<p>{e(p)}</p>\n" for p in paras)
        section = render_comments_html(style, comments, rng)
        page = (
            f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{e(title)} | Daily Record</title></head>\n"
            f"<body><header><nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/health'>Health</a></nav></header>\n"
            f"<main><article><h1>{e(title)}</h1>\n<p class='byline'>By {e(self._author())}</p>\n{body}</article>\n"
            f"{section}</main>\n<footer><p>© 2023 Daily Record. All rights reserved.</p><a href='/privacy'>Privacy</a></footer></body></html>\n"
        )
        truth = {"title": title, "article": paras, "comments": comments}
        return Page(text=page, kind="html", style=style, truth=truth)


HTML_STYLES = ("wordpress", "disqus", "schema", "generic", "coral")


def render_comments_html(style: str, comments: list[dict[str, Any]], rng: random.Random) -> str:
    """Comment-section markup as common platforms emit it."""
    e = html.escape
    items = []
    for i, c in enumerate(comments, 1):
        a, t, when = e(c["author"]), e(c["text"]), f"{rng.randint(1, 23)} hours ago"
        if style == "wordpress":
            items.append(f"<li class='comment even thread-even depth-1' id='comment-{i}'><article class='comment-body'>"
                         f"<footer class='comment-meta'><div class='comment-author vcard'><b class='fn'>{a}</b> <span class='says'>says:</span></div>"
                         f"<div class='comment-metadata'><a href='#comment-{i}'><time>{when}</time></a></div></footer>"
                         f"<div class='comment-content'><p>{t}</p></div><div class='reply'><a class='comment-reply-link'>Reply</a></div></article></li>")
        elif style == "disqus":
            items.append(f"<li class='post'><div class='post-content'><div class='post-byline'><span class='author'>{a}</span>"
                         f" <a class='time-ago'>{when}</a></div><div class='post-body'><div class='post-message'><p>{t}</p></div></div>"
                         f"<footer><a class='vote-up'>{rng.randint(0, 40)}</a> <a class='reply'>Reply</a></footer></div></li>")
        elif style == "schema":
            items.append(f"<div itemprop='comment' itemscope itemtype='https://schema.org/Comment'>"
                         f"<span itemprop='author' itemscope itemtype='https://schema.org/Person'><span itemprop='name'>{a}</span></span>"
                         f" <time itemprop='dateCreated'>{when}</time><div itemprop='text'><p>{t}</p></div></div>")
        elif style == "generic":
            items.append(f"<div class='comment'><div class='comment-header'><span class='comment-author'>{a}</span>"
                         f" <span class='comment-date'>{when}</span></div><div class='comment-body'><p>{t}</p></div>"
                         f"<div class='comment-actions'>Reply · {rng.randint(0, 50)} Likes</div></div>")
        else:  # Coral / Talk
            items.append(f"<div class='coral-comment' data-testid='comment'><div class='coral-comment-username'><span>{a}</span></div>"
                         f"<div class='coral-comment-timestamp'>{when}</div><div class='coral-comment-content'>{t}</div>"
                         f"<button class='coral-comment-replyButton'>Reply</button></div>")
    joined = "\n".join(items)
    n = len(comments)
    if style == "wordpress":
        return f"<div id='comments' class='comments-area'><h2 class='comments-title'>{n} thoughts</h2><ol class='commentlist'>{joined}</ol></div>\n"
    if style == "disqus":
        return f"<div id='disqus_thread'><div id='posts'><ul id='post-list' class='post-list'>{joined}</ul></div></div>\n"
    if style == "schema":
        return f"<section class='user-feedback'><h3>{n} Comments</h3>{joined}</section>\n"
    if style == "generic":
        return f"<section class='comments'><h3>Comments ({n})</h3>{joined}<a class='load-more'>Load more comments</a></section>\n"
    return f"<div id='coral_thread' class='coral'><div class='coral-stream'>{joined}</div></div>\n"


def _render(out: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """Join (line, role) pairs; roles are kept for non-blank lines only."""
    while out and not out[-1][0]:
        out.pop()
    return "\n".join(line for line, _ in out) + "\n", [role for line, role in out if line.strip()]


def write_sample(path: Path, root: Path, n_text: int, n_html: int, seed: int) -> None:
    """A small held-out sample for the evaluation gate test (tests never read ../shared)."""
    factory = PageFactory(root, held_out=True, seed=seed)
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(n_text):
            p = factory.text_page()
            fh.write(json.dumps({"kind": p.kind, "style": p.style, "text": p.text, "truth": p.truth}, ensure_ascii=False) + "\n")
        for i in range(n_html):
            p = factory.html_page(HTML_STYLES[i % len(HTML_STYLES)])
            fh.write(json.dumps({"kind": p.kind, "style": p.style, "text": p.text, "truth": p.truth}, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="default: $MODERATION_DATA_DIR or ../shared/data")
    ap.add_argument("--sample", type=Path, required=True, help="write a held-out JSONL sample here")
    ap.add_argument("--n-text", type=int, default=30)
    ap.add_argument("--n-html", type=int, default=12)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()
    write_sample(args.sample, data_dir(args.data_dir), args.n_text, args.n_html, args.seed)


if __name__ == "__main__":
    main()
