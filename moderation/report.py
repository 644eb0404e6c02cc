"""The moderators' review report: one self-contained HTML file over a scored dump.

``moderation report`` and ``POST /v1/review`` both call :func:`render` with the score records
(as ``moderation score`` writes them), the comment texts and the per-sentence scores of the
flagged comments. The page itself (``report.html``, inline CSS and JS, no network) draws the
queue, the filters, the page threads and the CSV export in the browser; the data travels as one
JSON block, so comment text is only ever put on the page as text, never parsed as HTML.

Nothing here imports torch: the callers score the sentences that :func:`why_plan` picks.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from moderation.errors import InputError
from moderation.spans import with_sentences

#: Comments whose sentences are scored for the "Why" highlight, highest first (bounds the work).
WHY_LIMIT = 1000
#: Sentences per explained comment; the rest of a longer comment folds into the last one.
WHY_SENTENCES = 24
#: Scores travel as integers in 1/10,000 (the precision ``moderation score`` writes), which keeps the file small.
SCALE = 10_000
HISTOGRAM_BINS = 20
Key = tuple[Any, str]


@dataclass
class Report:
    """What the page shows: records in input order, their texts, and the model's thresholds."""

    records: list[dict[str, Any]]
    labels: list[str]
    thresholds: dict[str, float]
    model: str
    inputs: list[str]
    texts: list[str | None] = field(default_factory=list)
    #: comment index -> [(begin, end, scores per label)] in character offsets of its text.
    why: dict[int, list[tuple[int, int, list[float]]]] = field(default_factory=dict)

    def matrix(self) -> list[list[float]]:
        return [[float(r["scores"].get(label, 0.0)) for label in self.labels] for r in self.records]


# --- reading -------------------------------------------------------------------------------


def read_scores(path: str | Path) -> list[dict[str, Any]]:
    """Score records from a ``moderation score`` output: JSONL, CSV (flat ``scores.LABEL``) or Parquet."""
    from moderation.io import output_format

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    fmt = output_format(str(path), None)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            records = pq.read_table(path).to_pylist()
        elif fmt == "csv":
            with open(path, encoding="utf-8-sig", newline="") as fh:
                records = [_from_flat(row) for row in csv.DictReader(fh)]
        else:
            with open(path, encoding="utf-8") as fh:
                records = [json.loads(line) for line in fh if line.strip()]
    except (ValueError, OSError) as exc:  # JSONDecodeError, UnicodeDecodeError, pyarrow's errors
        raise InputError(f"{path}: cannot read as {fmt} scores ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict) or not isinstance(record.get("scores"), dict) or "id" not in record:
            raise InputError(f"{path}: record {number} is not a `moderation score` record (it needs id and scores)")
    return records


def _from_flat(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row of ``moderation score`` (``scores.LABEL`` columns, ``labels`` joined by ;) as a record."""
    record: dict[str, Any] = {"scores": {}}
    for key, value in row.items():
        if key.startswith("scores."):
            record["scores"][key[len("scores."):]] = float(value)
        elif key == "labels":
            record["labels"] = [label for label in value.split(";") if label]
        elif key == "position":
            record[key] = int(value) if value else None
        else:
            record[key] = value if value != "" else None
    return record


def texts_from_pages(path: str | Path) -> dict[Key, str]:
    """Comment texts by (page source, comment id) from ``moderation extract`` output (JSONL)."""
    texts: dict[Key, str] = {}
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                page = json.loads(line)
                if not isinstance(page, dict) or not isinstance(page.get("comments"), list):
                    raise InputError(f"{path}: line {number} is not a `moderation extract` record (no comments list)")
                for comment in page["comments"]:
                    texts[(page.get("source"), str(comment["id"]))] = comment["text"]
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: cannot read as `moderation extract` JSONL ({exc})") from None
    return texts


def texts_from_inputs(paths: Sequence[str], text_field: str = "text", id_field: str | None = None) -> dict[Key, str]:
    """Comment texts by (page source or None, id) from the inputs that ``moderation score`` read."""
    from moderation.io import Fields, check_inputs, expand_inputs, read_inputs

    fields = Fields(text_field, id_field)
    paths = expand_inputs(paths)
    check_inputs(paths, fields)
    return {(row.fields.get("source"), str(row.id)): row.text for row in read_inputs(paths, fields) if row.text is not None}


def attach_texts(records: Sequence[dict[str, Any]], lookup: dict[Key, str]) -> list[str | None]:
    """Each record's text: its own ``text`` field (``--keep-fields text``), else from ``lookup``."""
    texts = []
    for record in records:
        text = record.get("text")
        if not isinstance(text, str):
            key = str(record["id"])
            text = lookup.get((record.get("source"), key), lookup.get((None, key)))
        texts.append(text)
    return texts


# --- the "Why" highlight ---------------------------------------------------------------------


def why_plan(report: Report, limit: int = WHY_LIMIT) -> list[tuple[int, list[tuple[int, int]], list[str]]]:
    """Which comments to explain and the sentences to score for each: comments flagged at a stored
    threshold, highest score first, at most ``limit``; comments of one sentence need no extra scoring."""
    cutoffs = [report.thresholds[label] for label in report.labels]
    flagged = [
        (max(row), i) for i, row in enumerate(report.matrix())
        if report.texts[i] and any(p >= c for p, c in zip(row, cutoffs))
    ]
    plan = []
    for _, i in sorted(flagged, key=lambda pair: (-pair[0], pair[1]))[:limit]:
        spans, texts = with_sentences(report.texts[i], WHY_SENTENCES)
        if len(spans) > 1:
            plan.append((i, spans, texts[1:]))  # the whole comment already has its scores
    return plan


def attach_why(report: Report, plan: Sequence[tuple[int, list[tuple[int, int]], list[str]]], probs: Sequence[Sequence[float]]) -> None:
    """Store the sentence scores (``probs``: one row per planned sentence, in plan order)."""
    rows = iter(probs)
    for i, spans, _ in plan:
        report.why[i] = [(b, e, [float(p) for p in next(rows)]) for b, e in spans]


def explain(report: Report, predict: Callable[[list[str]], Any], limit: int = WHY_LIMIT) -> int:
    """Plan, score (``predict``: texts -> probabilities) and attach; returns the sentences scored."""
    plan = why_plan(report, limit)
    sentences = [s for _, _, texts in plan for s in texts]
    if sentences:
        attach_why(report, plan, predict(sentences))
    return len(sentences)


# --- rendering -------------------------------------------------------------------------------


def _utf16(text: str, index: int) -> int:
    """A code-point offset as JavaScript's (UTF-16) string index."""
    return len(text[:index].encode("utf-16-le")) // 2


def _pages(records: Sequence[dict[str, Any]]) -> tuple[list[list[Any]], list[int]]:
    """Distinct pages ``[source, title]`` and each record's page index (-1 for table rows)."""
    index: dict[Any, int] = {}
    pages: list[list[Any]] = []
    of = []
    for record in records:
        source = record.get("source")
        if source is None:
            of.append(-1)
            continue
        if source not in index:
            index[source] = len(pages)
            pages.append([source, record.get("title")])
        of.append(index[source])
    return pages, of


def payload(report: Report) -> dict[str, Any]:
    """The page's data, column-wise (one list per field) to keep 100k comments small."""
    records = report.records
    pages, page_of = _pages(records)
    why = {}
    for i, spans in report.why.items():
        text = report.texts[i] or ""
        why[str(i)] = [[_utf16(text, b), _utf16(text, e), *(round(p * SCALE) for p in scores)] for b, e, scores in spans]
    ids = [str(r["id"]) for r in records]
    key = hashlib.sha256(json.dumps([report.model, ids]).encode()).hexdigest()[:16]
    return {
        "key": key,
        "model": report.model,
        "labels": report.labels,
        "thresholds": [report.thresholds[label] for label in report.labels],
        "pages": pages,
        "id": ids,
        "text": report.texts,
        "author": [r.get("author") for r in records],
        "page": page_of,
        "position": [r.get("position") for r in records],
        "scores": [[round(p * SCALE) for p in row] for row in report.matrix()],
        "why": why,
    }


def _script_json(data: Any) -> str:
    """JSON that cannot end its ``<script>`` element early, whatever the comments hold."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def histogram_svg(values: Iterable[float], threshold: float, bins: int = HISTOGRAM_BINS) -> str:
    """Counts of ``values`` in ``bins`` equal bins over [0, 1] as a small bar chart; a line at the threshold."""
    counts = [0] * bins
    for v in values:
        counts[min(int(v * bins), bins - 1)] += 1
    width, height, top = 200, 48, max(counts) or 1
    bar = width / bins
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}"><title>{i / bins:.2f}–{(i + 1) / bins:.2f}: {c:,}</title></rect>'
        for i, c in enumerate(counts) if c for h in [max(1.0, height * c / top)]
    )
    x = threshold * width
    return (f'<svg class="hist" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
            f'{rects}<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}"/></svg>')


def overview_html(report: Report) -> str:
    """Counts per label at the stored thresholds and the score distribution per label."""
    columns = list(zip(*report.matrix())) if report.records else [() for _ in report.labels]
    rows = []
    for label, values in zip(report.labels, columns):
        cutoff = report.thresholds[label]
        flagged = sum(v >= cutoff for v in values)
        rows.append(
            f"<tr><th>{html.escape(label)}</th><td>{flagged:,}</td><td>{cutoff:.3f}</td>"
            f"<td>{histogram_svg(values, cutoff)}</td></tr>"
        )
    inputs = "".join(f"<li>{html.escape(str(name))}</li>" for name in report.inputs)
    missing = sum(t is None for t in report.texts)
    note = f"<p class=\"warn\">{missing:,} comments have no text in the inputs (shown by id only).</p>" if missing else ""
    return (
        f"<p><b>{len(report.records):,}</b> comments, model <b>{html.escape(report.model)}</b>, "
        f"{len(report.why):,} explained sentence by sentence.</p>{note}"
        "<table class=\"counts\"><tr><th>label</th><th>flagged</th><th>threshold</th><th>scores 0 → 1</th></tr>"
        + "".join(rows) + f"</table><h3>Inputs</h3><ul>{inputs}</ul>"
    )


def render(report: Report, title: str = "Moderation review") -> str:
    """The self-contained HTML page."""
    template = resources.files("moderation").joinpath("report.html").read_text(encoding="utf-8")
    parts = {
        "@TITLE@": html.escape(title),
        "@OVERVIEW@": overview_html(report),
        "@DATA@": _script_json(payload(report)),
    }
    # One pass: a marker inside a value (a title, a file name) is never replaced again.
    return re.sub("|".join(parts), lambda m: parts[m.group(0)], template)


def model_of(records: Sequence[dict[str, Any]]) -> str | None:
    """The model named in the records (the first one; ``moderation score`` writes one per run)."""
    return next((r.get("model") for r in records if r.get("model")), None)
