"""Plain-text (and Markdown body) segmentation into title, article, translations,
boilerplate and comments.

Order of decisions: rules tag unambiguous lines (rules.py), the region model scores
the remaining lines, the cut model picks the one article/comment boundary (the article
is a prefix of the page), and
inside the comment section the author model picks out name lines.
"""

from __future__ import annotations

import bisect
import math
import statistics

import numpy as np

from moderation.extract import constants as C
from moderation.extract import rules as R
from moderation.extract.lines import Line, split_lines
from moderation.extract.script import n_words, page_language, script_language
from moderation.extract.segmenter import REGION_FEATURES, author_features, load_models, region_features
from moderation.types import Comment, Document, Translation

FOREIGN = "foreign"  # a line in another script than the page (translation in the article)
DATELINE = "dateline"  # a lone date, byline or number: article furniture, not a comment's
TITLE = "title_candidate"
# kinds of line that can open a comment section (a comment, an author line, a title-like comment)
CUT_START_KINDS = frozenset({R.TEXT, R.CAPS, R.COLON_NAME, TITLE})


def _take_metadata_prefix(lines: list[Line], doc: Document) -> None:
    """Move a leading "date 2023-11-01 ..." prefix into metadata; keep the rest of the line."""
    if not lines:
        return
    m = C.METADATA_PREFIX_RE.match(lines[0].text)
    if not m:
        return
    doc.metadata[m.group(1).lower()] = m.group(2)
    rest = m.group(3).strip()
    if rest:
        lines[0].text = rest
    else:
        del lines[0]
        for i, line in enumerate(lines):
            line.index = i


def _strip_heading(line: Line) -> int:
    """Remove Markdown heading marks; return the heading level (0 if none)."""
    m = C.MARKDOWN_HEADING_RE.match(line.text)
    if not m or not m.group(2):
        return 0
    line.text = m.group(2)
    return len(m.group(1))


def _looks_like_title(line: Line, following: Line | None) -> bool:
    text = line.text
    words = n_words(text)
    return (
        following is not None
        and words <= C.TITLE_MAX_WORDS
        and len(text) <= C.TITLE_MAX_CHARS
        and text[-1] not in C.TITLE_END_PUNCT
        and text[0].isupper()
        and n_words(following.text) > words
    )


def tag_lines(lines: list[Line], has_title: bool) -> None:
    """Rule tags, foreign-script lines and the title candidate."""
    for line in lines:
        line.level = _strip_heading(line)
        R.tag_line(line)
    page_lang = page_language([ln.text for ln in lines if ln.kind in (R.TEXT, R.CAPS)])
    for line in lines:
        level = line.level
        if line.kind in (R.TEXT, R.CAPS) and script_language(line.text) not in (None, page_lang):
            line.kind = FOREIGN
        elif line.kind == R.TEXT and C.RULE_LINE_RE.match(line.text):
            line.kind = DATELINE  # a drawn rule ("—————") separates article parts; it opens no thread
        elif level == 1 and line.index == 0 and not has_title:
            line.kind = TITLE
    # "NAME:" glued to the text below, repeated down the page, is a comment byline, unless
    # a few names take turns (an interview: "SPIEGEL:" / "Merkel:")
    # and one paragraph below it ("Problem:" above a list is a label)
    colon = [ln for ln in lines[:-1] if ln.kind == R.COLON_NAME and ln.gap_after == 0 and len(ln.author.split()) <= C.COLON_NAME_MAX_WORDS
             and (lines[ln.index + 1].gap_after > 0 or ln.index + 2 == len(lines))]
    names = {ln.author for ln in colon}
    if len(colon) >= C.MIN_COLON_BYLINES and not (len(colon) >= 4 and len(names) <= len(colon) / 2):
        for ln in colon:
            ln.kind = R.BYLINE
    demote_teaser_header(lines)
    confirm_markers(lines)
    first = lines[0] if lines else None
    if first and first.kind == R.TEXT and not has_title and _looks_like_title(first, lines[1] if len(lines) > 1 else None):
        first.kind = TITLE


def demote_teaser_header(lines: list[Line]) -> None:
    """A comment header above the article's first paragraph ("- 5 Kommentare" next to the
    headline, a link to the thread) is article furniture when another header follows with
    article paragraphs and no comment furniture in between: the thread opens at that one."""
    headers = [ln.index for ln in lines if ln.kind == R.HEADER]
    if len(headers) < 2:
        return
    first, second = headers[0], headers[1]
    if any(_is_paragraph(ln) for ln in lines[:first]):
        return
    between = lines[first + 1 : second]
    if sum(_is_paragraph(ln) for ln in between) >= C.TEASER_MIN_PARAGRAPHS and not any(ln.kind in R.COMMENT_MARKERS for ln in between):
        lines[first].kind = DATELINE


def _is_paragraph(line: Line) -> bool:
    return line.kind == R.TEXT and n_words(line.text) >= C.MIN_SCORED_WORDS


def prose_after(lines: list[Line], marker: int) -> tuple[int, float]:
    """The paragraphs after ``marker`` up to the next comment furniture: how many, and their mean
    region log-odds (0.0 when there are fewer than TEASER_MIN_PARAGRAPHS, which no rule accepts)."""
    below = lines[marker + 1 :]
    end = marker + 1 + next((i for i, ln in enumerate(below) if ln.kind in R.COMMENT_MARKERS), len(below))
    paras = [ln for ln in lines[marker + 1 : end] if _is_paragraph(ln)]
    if len(paras) < C.TEASER_MIN_PARAGRAPHS:
        return len(paras), 0.0
    dense, word_sets = region_matrix(lines, paras)
    return len(paras), float(np.mean(load_models()["region"].logits(dense, word_sets)))


def _clear_prose(n_paragraphs: int, mean_logit: float) -> bool:
    """TEASER_MIN_PARAGRAPHS or more paragraphs read clearly as article prose."""
    return n_paragraphs >= C.TEASER_MIN_PARAGRAPHS and mean_logit <= -C.MIN_COMMENT_SHIFT


def header_heads_article(lines: list[Line], header: int) -> bool:
    """The header sits above the article's first paragraph, and article prose follows it: the
    header is a link to a thread the dump does not hold at that place."""
    return not any(_is_paragraph(ln) for ln in lines[:header]) and _clear_prose(*prose_after(lines, header))


def demote_post_dates(lines: list[Line]) -> int:
    """A timestamp followed by article prose dates a post of a blog or live page, not a comment:
    from the top, each such first marker becomes a dateline. Returns the new marker limit."""
    limit = comment_marker_limit(lines)
    while limit < len(lines) and lines[limit].kind == R.TIMESTAMP:
        n, mean = prose_after(lines, limit)
        if not (_clear_prose(n, mean) or (n >= C.POST_MIN_PARAGRAPHS and mean <= C.POST_MAX_LOGIT)):
            break
        lines[limit].kind = DATELINE
        limit = comment_marker_limit(lines)
    return limit


def confirm_markers(lines: list[Line]) -> None:
    """Comment furniture repeats with every comment: a timestamp, byline or action line
    counts only when another line of the same form (not a bare number) lies within
    MARKER_SPAN lines, with text between them, and the page has MIN_MARKERS of that form (below a comment header, every one counts).  Alone, it is a dateline ("July 24, 2012",
    "Posted by NAME on DATE" above the article) or a number in the article; a lone
    "NAME:" stays a colon line."""
    kinds = (R.TIMESTAMP, R.BYLINE, R.ACTION)
    header = next((ln.index for ln in lines if ln.kind == R.HEADER), len(lines))  # below it, no doubt
    marks = [ln for ln in lines if ln.kind in kinds]
    by_form: dict[str, list[int]] = {}
    for ln in marks:
        if not C.BARE_NUMBER_LINE_RE.match(ln.text):
            by_form.setdefault(ln.form, []).append(ln.index)
    for ln in marks:
        same = by_form.get(ln.form, [])
        lo, hi = bisect.bisect_left(same, ln.index - C.MARKER_SPAN), bisect.bisect_right(same, ln.index + C.MARKER_SPAN)
        if ln.index < header and (len(same) < C.MIN_MARKERS or not any(abs(k - ln.index) >= 2 for k in same[lo:hi])):
            ln.kind = R.COLON_NAME if ln.form == R.COLON_NAME else DATELINE


def comment_marker_limit(lines: list[Line]) -> int:
    """Index of the first line that only occurs in comment sections (len(lines) if none)."""
    return next((ln.index for ln in lines if ln.kind in R.COMMENT_MARKERS), len(lines))


def scored_lines(lines: list[Line], limit: int) -> list[Line]:
    """Lines the region model scores: plain text with enough words, before any comment marker."""
    return [ln for ln in lines[:limit] if ln.kind == R.TEXT and n_words(ln.text) >= C.MIN_SCORED_WORDS]


def region_matrix(lines: list[Line], scored: list[Line]) -> tuple[list[list[float]], list[set[str]]]:
    """Region-model inputs (dense rows, word sets) for the scored lines of one page."""
    median = statistics.median(n_words(ln.text) for ln in scored)
    dense, word_sets = [], []
    for ln in scored:
        d, ws = region_features(ln, lines[ln.index - 1] if ln.index else None, len(lines), median)
        dense.append(d)
        word_sets.append(ws)
    # each line also sees the mean of the lines before and after it: a comment
    # section is judged as a whole, and the boundary is where the two sides differ
    arr = np.asarray(dense)
    w, m = C.CONTEXT_WINDOW, len(arr)
    cum = np.vstack([np.zeros(arr.shape[1]), np.cumsum(arr, axis=0)])
    idx = np.arange(m)
    lo, hi = np.maximum(idx - w, 0), np.minimum(idx + w + 1, m)
    before = (cum[idx] - cum[lo]) / np.maximum(idx - lo, 1)[:, None]
    after = (cum[hi] - cum[idx + 1]) / np.maximum(hi - idx - 1, 1)[:, None]
    return np.hstack([arr, before, after]).tolist(), word_sets


def boundary_candidates(lines: list[Line], limit: int, first_scored: int) -> list[int]:
    """Cut points ``c`` (``lines[:c]`` article, ``lines[c:]`` comments) the cut model chooses
    from: the page start, each line that can open a comment section, and the first marker.
    An article needs a paragraph: short text lines alone above the cut are comments, so no
    cut lies above the first scored line unless only non-text lines (a title) precede it."""
    lead = next((ln.index for ln in lines[:first_scored] if ln.kind == R.TEXT), first_scored)
    inner = [ln.index for ln in lines[1:limit] if ln.kind in CUT_START_KINDS and not lead < ln.index <= first_scored]
    return [0, *inner, limit] if limit else [0]


def cut_matrix(lines: list[Line], limit: int, scored: list[Line], dense: list[list[float]], z: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Cut-model inputs, one row per candidate cut (see segmenter.CUT_FEATURES)."""
    n, m = len(lines), len(scored)
    cands = boundary_candidates(lines, limit, scored[0].index)
    positions = [ln.index for ln in scored]
    z = np.clip(np.asarray(z, dtype=float), -C.CUT_LOGIT_CLIP, C.CUT_LOGIT_CLIP)
    # summed article log-odds of scored[:j]: the 1-D changepoint score of cutting after j lines
    prefix = np.concatenate([[0.0], np.cumsum(-z)])
    best = prefix.max()
    # share of comment-like lines (z > 0) in scored[:j]
    positive = np.concatenate([[0.0], np.cumsum(z > 0)])
    own = np.asarray(dense, dtype=float)[:, : len(REGION_FEATURES)]
    gaps = [ln.gap_before for ln in lines]
    w = C.CUT_WINDOW
    js = np.arange(1, m)
    shifts = (-prefix[m] + prefix[js] * m / js) / (m - js) * np.sqrt(js * (m - js) / m) if m > 1 else np.zeros(1)
    best_shift = float(np.max(shifts, initial=0.0)) / 8  # the clearest comment section anywhere on the page
    rows = []
    for c in cands:
        j = bisect.bisect_left(positions, c)
        g = gaps[c] if c < n else -1
        art_gaps, com_gaps = gaps[1:c], gaps[c + 1 :]
        prev, cur = (lines[c - 1] if c else None), (lines[c] if c < n else None)
        nxt = lines[c + 1] if c + 1 < n else None
        art_mean = sum(min(x, 2) for x in art_gaps) / (2 * len(art_gaps)) if art_gaps else 0.0
        com_mean = sum(min(x, 2) for x in com_gaps) / (2 * len(com_gaps)) if com_gaps else 0.0
        after = own[j : j + w].mean(axis=0) if j < m else np.zeros(own.shape[1])
        before = own[max(0, j - w) : j].mean(axis=0) if j else np.zeros(own.shape[1])
        # mean log-odds on each side (their difference, weighted like a two-sample t statistic,
        # is ``shifts``: a mean shift shows the cut even where per-line scores are poorly calibrated)
        mean_art = -prefix[j] / j if j else 0.0
        mean_com = (prefix[j] - prefix[m]) / (m - j) if j < m else 0.0
        # a good cut leaves two homogeneous sides: the lines next to it look like the
        # rest of their own side (layout and style), not like the other side
        head_gaps, rest_gaps = com_gaps[:w], com_gaps[w:]
        tail_gaps, early_gaps = art_gaps[-w:], art_gaps[:-w]
        homogeneity = [
            _mean_diff(z[j : j + w], z[j + w :]),
            _mean_diff(z[max(0, j - w) : j], z[: max(0, j - w)]),
            abs(_mean_diff([min(x, 2) for x in head_gaps], [min(x, 2) for x in rest_gaps])),
            abs(_mean_diff([min(x, 2) for x in tail_gaps], [min(x, 2) for x in early_gaps])),
        ]
        row = [
            max(prefix[j] - best, -C.CUT_MARGIN_CLIP) / 10,
            mean_art / 4,
            mean_com / 4,
            shifts[j - 1] / 8 if 0 < j < m else 0.0,
            positive[j] / j if j else 0.0,
            (positive[m] - positive[j]) / (m - j) if j < m else 0.0,
            best_shift if j == m else 0.0,
            float(j == 1),
            z[j] / 4 if j < m else 0.0,
            z[j - 1] / 4 if j else 0.0,
            float(j == 0),
            float(j == m),
            float(c >= n),
            float(c == limit < n),
            math.log1p(j) / 3,
            math.log1p(m - j) / 3,
            float(g == 0),
            float(g == 1),
            float(g == 2),
            float(g >= 3),
            float(bool(art_gaps) and g > max(art_gaps)),
            sum(x < g for x in art_gaps) / len(art_gaps) if art_gaps else 0.0,
            art_mean,
            com_mean,
            abs(art_mean - com_mean),
            float(prev is not None and prev.kind == R.BOILERPLATE),
            float(prev is not None and prev.kind == FOREIGN),
            float(prev is not None and prev.kind in (TITLE, R.CAPS)),
            float(cur is not None and cur.kind == R.TEXT and n_words(cur.text) < C.MIN_SCORED_WORDS),
            float(cur is not None and cur.kind in (R.COLON_NAME, R.CAPS, TITLE)),
            float(cur is not None and author_candidate(cur, nxt)),
        ]
        rows.append(row + homogeneity + list(after - before))
    return cands, np.asarray(rows)


def _mean_diff(a, b) -> float:
    """mean(a) - mean(b) scaled to about [-1, 1]; 0 when either side is empty."""
    return (float(np.mean(a)) - float(np.mean(b))) / 4 if len(a) and len(b) else 0.0


def find_boundary(lines: list[Line]) -> int:
    """Index of the first line of the comment section (len(lines) when there is none).

    The article is a prefix of the page, so this is one decision per page: the cut
    model ranks every candidate cut on the changepoint score of the region model's
    per-line log-odds plus the layout and style change at the cut."""
    limit = comment_marker_limit(lines)
    if limit < len(lines) and lines[limit].kind == R.HEADER:
        if not header_heads_article(lines, limit):
            return limit
        lines[limit].kind = DATELINE
        confirm_markers(lines)  # what the header vouched for is judged again
        limit = comment_marker_limit(lines)
    limit = demote_post_dates(lines)
    scored = scored_lines(lines, limit)
    if not scored:
        return limit
    models = load_models()
    dense, word_sets = region_matrix(lines, scored)
    z = models["region"].logits(dense, word_sets)
    cands, rows = cut_matrix(lines, limit, scored, dense, z)
    # The cut model gives a posterior over the candidate cuts; the cut is the Bayes decision
    # under an asymmetric linear loss (LEAK_COST per comment line put in the article, 1 per
    # article line lost): the 1/(1 + LEAK_COST) quantile of the posterior.
    scores = models["cut"].logits(rows)
    weights = np.exp(scores - scores.max())
    cdf = np.cumsum(weights)
    k = int(np.searchsorted(cdf, cdf[-1] / (1 + C.LEAK_COST)))
    best = int(np.argmax(scores))
    if k < best and _reads_as_article(lines[cands[k] : cands[best]], z, scored):
        k = best  # the lines the asymmetric loss would add to the comments are clearly article prose
    cut = cands[k]
    thread = 1.0 - float(weights[-1] / cdf[-1]) if cands[-1] == limit else 1.0  # P(the page has a thread)
    if cut < limit and not comment_side_is_clear(lines, cut, scored, z, thread):
        return limit  # no rule evidence and no clear reader talk below the cut: keep the article whole
    return cut


def _reads_as_article(span: list[Line], z: np.ndarray, scored: list[Line]) -> bool:
    """The region model reads the scored lines of ``span`` clearly as article prose (mean
    log-odds at most -MIN_COMMENT_SHIFT); without scored lines, the span is a run of more
    than MAX_UNMARKED_LINES short lines (a list), which nothing marks as comments."""
    at = {ln.index: i for i, ln in enumerate(scored)}
    chosen = [z[at[ln.index]] for ln in span if ln.index in at]
    if not chosen:
        return sum(ln.kind == R.TEXT for ln in span) > C.MAX_UNMARKED_LINES
    return float(np.mean(chosen)) <= -C.MIN_COMMENT_SHIFT


def comment_side_is_clear(lines: list[Line], cut: int, scored: list[Line], z: np.ndarray, thread: float = 0.0) -> bool:
    """Whether a learned cut (no header or repeated comment furniture at it) holds. An
    uncertain cut keeps the text in the article: a missed comment costs less than an article
    paragraph taken for a comment, which would be scored and flagged. The lines below the cut
    must read as comments, clearly more so than those above (a shift of MIN_COMMENT_SHIFT in the
    region model's mean log-odds), and the page must likely have a thread: a positive mean below
    and ``thread`` (the cut model's posterior mass on cuts above the limit) of at least
    LIKELY_THREAD_POSTERIOR, or ``thread`` of CONFIDENT_CUT_POSTERIOR, or a thread footer closing
    the page ("Load more comments"); at SURE_CUT_POSTERIOR, with a positive mean below, a shift
    of SURE_MIN_SHIFT does. The region model is fitted mostly on English and under-calls
    reader talk in other languages, so a shift of STRONG_COMMENT_SHIFT suffices on its own. With
    no article above the cut, the text must clear the margin on its own: an article that
    vanishes into the comment list is the worst error."""
    below = np.asarray([ln.index >= cut for ln in scored])
    limit = comment_marker_limit(lines)
    furniture = limit < len(lines)
    if not below.any():
        # only short lines below: the cut model's layout evidence decides, but one short
        # line after the article with no comment furniture is a credit or tag line, and
        # above the first byline or timestamp there is a name or so, not a list of short
        # lines without the furniture that every comment below carries
        n_text = sum(ln.kind == R.TEXT for ln in lines[cut:limit])
        return n_text <= C.MAX_UNMARKED_LINES if furniture else n_text >= C.MIN_SHORT_COMMENT_LINES
    side, above = z[below], z[~below]
    if not len(above):
        # no article at all: with nothing to compare it with, it must clear the margin on its own
        return float(np.mean(side)) >= C.MIN_COMMENT_LOGIT + C.MIN_COMMENT_SHIFT
    talk = float(np.mean(side)) >= C.MIN_COMMENT_LOGIT  # the lines below read as reader talk on average
    shift = float(np.mean(side) - np.mean(above))
    footer = bool(C.THREAD_FOOTER_RE.match(lines[-1].text)) and lines[-1].index > cut
    confident = thread >= C.CONFIDENT_CUT_POSTERIOR or footer
    likely = confident or (talk and thread >= C.LIKELY_THREAD_POSTERIOR)
    # the cut model all but certain, with reader talk below: a small shift does (an essay whose
    # author argues with an imagined reader reads almost like the thread under it)
    sure = thread >= C.SURE_CUT_POSTERIOR and talk and shift >= C.SURE_MIN_SHIFT
    return (likely and shift >= C.MIN_COMMENT_SHIFT) or shift >= C.STRONG_COMMENT_SHIFT or sure


def author_candidate(line: Line, nxt: Line | None) -> bool:
    """A short text line glued to a comment (or its timestamp) below: maybe a name."""
    if line.kind not in (R.TEXT, R.CAPS, FOREIGN, TITLE) or nxt is None or line.gap_after != 0:
        return False
    if nxt.kind not in (R.TEXT, R.CAPS, FOREIGN, R.TIMESTAMP, R.ACTION):
        return False
    return n_words(line.text) <= C.AUTHOR_CANDIDATE_MAX_WORDS and len(line.text) <= C.AUTHOR_CANDIDATE_MAX_CHARS


def _is_author_line(line: Line, nxt: Line | None) -> bool:
    """An author candidate that the author model calls a name and that could be one: a short
    comment glued to the next ("Stupid, fat Mericans.") ends like a sentence, a name does not."""
    return (author_candidate(line, nxt) and R.plausible_name(line.text)
            and bool(load_models()["author"].proba([author_features(line, nxt)])[0] > 0.5))


def _article_part(lines: list[Line], doc: Document) -> None:
    for line in lines:
        if line.kind == TITLE and doc.title is None:
            doc.title = line.text
        elif line.kind in (R.BOILERPLATE, R.CAPS):
            doc.boilerplate.append(line.text)
        elif line.kind == FOREIGN:
            doc.translations.append(Translation(lang=script_language(line.text) or "und", text=line.text))
        elif line.kind not in R.STRUCTURAL:  # text, colon lines, datelines
            doc.article.append(line.text)


def _comment_part(lines: list[Line], doc: Document) -> None:
    author: str | None = None
    opening = True  # no comment or name yet: a bare "Discussion" label heads the section
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        if line.kind in R.STRUCTURAL or line.kind == DATELINE:
            continue
        if opening and C.WEAK_HEADER_RE.match(line.text):
            continue
        opening = False
        if line.kind == R.BOILERPLATE:
            doc.boilerplate.append(line.text)
        elif line.kind in (R.BYLINE, R.COLON_NAME):
            author = line.author
        elif _is_author_line(line, nxt):
            author = line.text
        else:
            doc.comments.append(Comment(id=f"c{len(doc.comments) + 1}", text=line.text, author=author))
            author = None


def extract_text(text: str, doc: Document) -> Document:
    """Fill ``doc`` from a plain-text or Markdown body."""
    lines = split_lines(text)
    _take_metadata_prefix(lines, doc)
    tag_lines(lines, has_title=doc.title is not None)
    boundary = find_boundary(lines)
    article, comments = lines[:boundary], lines[boundary:]
    if not any(ln.kind in (R.TEXT, FOREIGN) for ln in article):
        # a lone title-like first line above comments is a comment, not a title
        comments = [ln for ln in article if ln.kind == TITLE] + comments
        article = [ln for ln in article if ln.kind != TITLE]
        for ln in comments:
            if ln.kind == TITLE:
                ln.kind = R.TEXT
    _article_part(article, doc)
    _comment_part(comments, doc)
    return doc
