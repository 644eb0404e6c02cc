"""HTML pages: comment sections found in the DOM by us, article body by trafilatura.

Comment nodes are cut out of the tree *before* trafilatura sees it, so a comment can
never leak into ``article`` (bare trafilatura 2.3 misses Disqus and schema.org
threads and puts them into the body).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from moderation.extract.rules import is_boilerplate, is_caps_headline
from moderation.extract.script import page_language, script_language
from moderation.types import Comment, Document, Translation


def _class_has(token: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {token} ')"


def _class_contains(part: str) -> str:
    return f"contains(@class, '{part}')"


_BODY_CLASSES = ("comment-content", "comment-text", "comment-message", "comment-body")
_AUTHOR_CLASSES = ("comment-author", "username", "user-name")
_COMMENT_CLASS = f"{_class_has('comment')} or {_class_has('comment-item')} or {_class_has('c-comment')} or @data-testid='comment'"
_GENERIC_AUTHOR = tuple(f".//*[{_class_contains(c)}]" for c in _AUTHOR_CLASSES) + (f".//*[{_class_has('author')}]",)
# (comment-node xpath, text xpaths, author xpaths); the relative xpaths are tried in
# order (most specific first), the markups too.
COMMENT_MARKUP: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # schema.org microdata
    ("//*[@itemprop='comment']", (".//*[@itemprop='text']",), (".//*[@itemprop='author']",)),
    # Disqus
    (f"//*[@id='disqus_thread']//*[{_class_has('post')}]", (f".//*[{_class_contains('post-message')}]",),
     (f".//*[{_class_has('author')}]", f".//*[{_class_contains('post-byline')}]")),
    # WordPress
    (f"//*[{_class_has('commentlist')} or {_class_has('comment-list')}]//li[{_class_has('comment')}]",
     tuple(f".//*[{_class_contains(c)}]" for c in _BODY_CLASSES),
     (f".//*[{_class_contains('comment-author')}]//*[{_class_has('fn')}]", f".//*[{_class_contains('comment-author')}]")),
    # Coral / Talk
    (f"//*[{_class_has('coral-comment')}]", (f".//*[{_class_contains('coral-comment-content')}]",),
     (f".//*[{_class_contains('coral-comment-username')}]",)),
    # generic "comment" blocks that hold a body element
    (f"//*[({_COMMENT_CLASS}) and .//*[{' or '.join(_class_contains(c) for c in _BODY_CLASSES)}]]",
     tuple(f".//*[{_class_contains(c)}]" for c in _BODY_CLASSES), _GENERIC_AUTHOR),
)
# Containers that hold a comment thread and nothing else; removed whole.
SECTION_XPATH = (
    "//*[@id='comments' or @id='disqus_thread' or @id='coral_thread' or @id='respond'"
    f" or {_class_has('comments-area')} or {_class_has('comments')} or {_class_has('comment-respond')}"
    f" or {_class_has('commentlist')} or {_class_has('comment-list')} or {_class_has('coral')}]"
)
KEEP_TAGS = frozenset({"html", "body", "main", "article"})
# Last resort: bare "comment" blocks inside a comment section, with no body element. Their text is the
# block's own, minus the author line and any replies nested in it (which are comments of their own).
BARE_COMMENT_XPATH = f"{SECTION_XPATH}//*[{_COMMENT_CLASS}]"


def _import_trafilatura() -> Any:
    """trafilatura, even where lxml >= 5.2 lacks the split-out ``lxml_html_clean``.

    jusText imports ``lxml.html.clean.Cleaner`` at module level but trafilatura never
    calls it; a placeholder module lets the import succeed (install
    ``lxml_html_clean`` to get the real one).
    """
    try:
        import trafilatura
    except ImportError as exc:
        if "lxml.html.clean" not in str(exc) and "lxml_html_clean" not in str(exc):
            raise
        stub = types.ModuleType("lxml.html.clean")

        class Cleaner:  # noqa: D401 - placeholder, never used by trafilatura
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                raise ImportError("lxml.html.clean is not installed (pip install lxml_html_clean)")

        stub.Cleaner = Cleaner  # type: ignore[attr-defined]
        sys.modules["lxml.html.clean"] = stub
        for name in [m for m in sys.modules if m.startswith(("trafilatura", "justext"))]:
            del sys.modules[name]
        import trafilatura
    return trafilatura


def _text(node: etree._Element | None) -> str:
    if node is None:
        return ""
    return " ".join(" ".join(node.itertext()).split())


def _first(node: etree._Element, xpaths: tuple[str, ...]) -> etree._Element | None:
    """First hit of the first xpath that matches."""
    for xpath in xpaths:
        hits = node.xpath(xpath)
        if hits:
            return hits[0]
    return None


def _author(node: etree._Element, xpaths: tuple[str, ...]) -> str | None:
    hit = _first(node, xpaths)
    if hit is None:
        return None
    hits = [hit]
    name = hits[0].xpath(".//*[@itemprop='name']")
    text = _text(name[0] if name else hits[0])
    # WordPress prints "NAME says:"
    for suffix in (" says:", " says", " wrote:"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    return text or None


def find_comments(tree: etree._Element) -> list[tuple[etree._Element, Comment]]:
    """Comment nodes in document order with their author and text."""
    seen: set[etree._Element] = set()
    found: list[tuple[etree._Element, Comment]] = []
    for node_xpath, text_xpaths, author_xpaths in COMMENT_MARKUP:
        for node in tree.xpath(node_xpath):
            if node in seen:
                continue
            text = _text(_first(node, text_xpaths))
            if not text:
                continue
            seen.add(node)
            seen.update(node.iterdescendants())  # nested markup of one comment is not another comment
            found.append((node, Comment(id="", text=text, author=_author(node, author_xpaths))))
    for node in tree.xpath(BARE_COMMENT_XPATH):
        if node in seen or any(inner in seen for inner in node.iterdescendants()):
            continue  # part of, or a container of, comments found above
        text = _bare_text(node)
        if text:
            seen.add(node)
            found.append((node, Comment(id="", text=text, author=_author(node, _GENERIC_AUTHOR))))
    order = {el: i for i, el in enumerate(tree.iter())}
    found.sort(key=lambda pair: order.get(pair[0], 0))
    for i, (_, comment) in enumerate(found, 1):
        comment.id = f"c{i}"
    return found


def _bare_text(node: etree._Element) -> str:
    """A bare comment block's own text: without its author line and without nested replies."""
    import copy

    body = copy.deepcopy(node)
    for inner in body.xpath(f".//*[{_COMMENT_CLASS}]") + body.xpath(" | ".join(_GENERIC_AUTHOR)):
        if inner.getparent() is not None:
            inner.drop_tree()  # unlike _drop, keeps the text that follows the element
    return _text(body)


def _drop(node: etree._Element) -> None:
    parent = node.getparent()
    if parent is not None:
        parent.remove(node)  # removes the tail text too, which belongs to the comment area


def remove_comment_sections(tree: etree._Element, nodes: list[etree._Element]) -> None:
    """Cut comment nodes and their thread containers out of the tree."""
    for section in tree.xpath(SECTION_XPATH):
        if section.tag not in KEEP_TAGS and (nodes or section.xpath(".//*[contains(@class, 'comment')]")):
            _drop(section)
    for node in nodes:
        if node.getroottree().getroot() is tree:
            _drop(node)


def extract_html(text: str, doc: Document) -> Document:
    """Fill ``doc`` from an HTML page."""
    try:
        tree = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        doc.warnings.append(f"HTML could not be parsed ({exc}); no content extracted")
        return doc
    found = find_comments(tree)
    doc.comments = [c for _, c in found]
    remove_comment_sections(tree, [node for node, _ in found])
    trafilatura = _import_trafilatura()
    extracted = trafilatura.bare_extraction(tree, include_comments=False, with_metadata=True)
    result = extracted.as_dict() if extracted is not None else None
    if not result:
        doc.warnings.append("no article text found in the HTML")
        return doc
    doc.title = result.get("title") or None
    for key in ("author", "date", "sitename", "url", "description"):
        if result.get(key):
            doc.metadata[key] = result[key]
    paras = [p.strip() for p in (result.get("text") or "").split("\n") if p.strip()]
    page_lang = page_language(paras)  # a Chinese page's paragraphs are its article, not translations
    for para in paras:
        if is_boilerplate(para) or is_caps_headline(para):
            doc.boilerplate.append(para)
        elif (lang := script_language(para)) not in (None, page_lang):
            doc.translations.append(Translation(lang=lang, text=para))
        else:
            doc.article.append(para)
    return doc


__all__ = ["extract_html", "find_comments", "remove_comment_sections"]
