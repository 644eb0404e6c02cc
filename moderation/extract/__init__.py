"""Page-dump extraction: split a scraped page into title, metadata, article,
translations, boilerplate and reader comments.

>>> doc = extract_page("Title here\\nFirst paragraph of the story, said officials.")

The input kind (HTML, Markdown with YAML front matter, plain text) is detected from
the content, never from the file name.
"""

from __future__ import annotations

import os
from pathlib import Path

from moderation.errors import InputError
from moderation.extract import constants as C
from moderation.extract.frontmatter import has_front_matter, split_front_matter
from moderation.extract.text import extract_text
from moderation.types import Document

__all__ = ["detect_kind", "extract_page", "extract_path", "decode_bytes"]


def detect_kind(text: str) -> str:
    """"html", "markdown" (YAML front matter) or "text", from the content alone."""
    head = text[:4096]
    if C.HTML_OPEN_RE.match(head):
        return "html"
    if len(C.HTML_TAG_RE.findall(head)) >= C.MIN_HTML_TAGS:
        # markup throughout, not one pasted comment with tags in a plain-text dump
        lines = [ln for ln in head.splitlines() if ln.strip()]
        if sum(bool(C.HTML_TAG_RE.search(ln)) for ln in lines) >= C.MIN_HTML_LINE_SHARE * len(lines):
            return "html"
    if has_front_matter(text):
        return "markdown"
    return "text"


def extract_page(text_or_html: str, source: str | None = None) -> Document:
    """Extract one page given as a string (plain text, Markdown or HTML)."""
    doc = Document(source=source)
    text = text_or_html
    if len(text) > C.MAX_INPUT_CHARS:
        doc.warnings.append(f"input has {len(text):,} characters; only the first {C.MAX_INPUT_CHARS:,} were read")
        text = text[: C.MAX_INPUT_CHARS]
    kind = detect_kind(text)
    if kind == "html":
        from moderation.extract.html import extract_html  # lxml/trafilatura only for HTML

        return extract_html(text, doc)
    if kind == "markdown":
        metadata, text, warning = split_front_matter(text)
        doc.metadata.update(metadata)
        if warning:
            doc.warnings.append(warning)
    return extract_text(text, doc)


def decode_bytes(data: bytes, name: str) -> tuple[str, list[str]]:
    """Bytes to text: rejects binary data, decodes bad UTF-8 with replacement and a warning."""
    if not data.strip():
        raise InputError(f"{name}: file is empty")
    head = data[: C.SNIFF_BYTES]
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if b"\x00" in head or controls / len(head) > C.MAX_CONTROL_RATIO:
        raise InputError(f"{name}: looks like a binary file, not a text or HTML page")
    warnings: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        if text.count("\ufffd") / max(1, len(text)) > C.MAX_REPLACEMENT_RATIO:
            raise InputError(f"{name}: not UTF-8 text (mostly undecodable bytes)") from None
        warnings.append(f"invalid UTF-8 at byte {exc.start}; undecodable bytes were replaced with U+FFFD")
    return text, warnings


def extract_path(path: str | os.PathLike[str]) -> Document:
    """Read and extract one file; user-caused problems raise InputError with a one-line message."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a file")
    try:
        with open(p, "rb") as fh:
            # read a little past the cap so the truncation warning stays truthful
            data = fh.read(C.MAX_INPUT_CHARS * 4 + 4)
            truncated_bytes = bool(fh.read(1))
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    text, warnings = decode_bytes(data, str(p))
    if truncated_bytes:
        warnings.append(f"file is larger than {len(data):,} bytes; only the first {C.MAX_INPUT_CHARS:,} characters were read")
        text = text[: C.MAX_INPUT_CHARS]
    doc = extract_page(text, source=str(p))
    doc.warnings[:0] = warnings
    return doc
