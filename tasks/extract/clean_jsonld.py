"""The article body as the page declares it in schema.org JSON-LD: a fallback for bodies the DOM
hides.

Live blogs and some script-rendered pages ship their text only inside ``<script
type="application/ld+json">`` (``articleBody`` of a ``NewsArticle``/``BlogPosting``, or a
``LiveBlogPosting``'s ``liveBlogUpdate`` entries), while the HTML holds a shell. schema.org is a
standard every news CMS emits, so reading it is a general rule, not a publisher special case. The
extractor uses this text only when it is much longer than what the DOM gave (see ``extract.py``),
because ``articleBody`` is often truncated for paywalls or flattened into one blob.

The page's JSON-LD is parsed once (``jsonld_articles``) and the article objects are shared with
the metadata readers (``clean_meta``: publication time, authors, sections), which ask the same
objects other questions.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from lxml.html import HtmlElement

ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "reviewnewsarticle",
    "backgroundnewsarticle",
    "blogposting",
    "liveblogposting",
    "socialmediaposting",
    "report",
    "scholarlyarticle",
    "techarticle",
}
_TAG = re.compile(r"<[^>]{0,2000}>")
# Only scripts that mention a property some reader asks for are parsed: a page's breadcrumb,
# organisation and search-box blocks never matter.
_NEEDLES = ("articleBody", "liveBlogUpdate", "datePublished", "author", "articleSection")
_MAX_DEPTH = 8


def schema_types(obj: dict[str, Any]) -> set[str]:
    """The object's schema.org ``@type`` values, lower-cased (``@type`` is a string or a list)."""
    t = obj.get("@type")
    values = t if isinstance(t, list) else [t]
    return {v.lower() for v in values if isinstance(v, str)}


def _walk(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every object in a JSON-LD document (``@graph`` lists, nested items), depth-first."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, dict):
        yield node
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _walk(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, depth + 1)


_OPENERS = ("<![CDATA[", "<!--")
_CLOSERS = ("]]>", "-->")
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_ENTITY = re.compile(r"&(?:quot|#34|#x22|amp|lt|gt|apos|#39);")


def _strip_trailing_commas(raw: str) -> str:
    """``{"a": 1,}`` → ``{"a": 1}``, leaving commas inside strings alone."""
    out: list[str] = []
    for i, part in enumerate(re.split(r'("(?:[^"\\]|\\.)*")', raw)):
        out.append(part if i % 2 else _TRAILING_COMMA.sub(r"\1", part))
    return "".join(out)


def _decode_all(raw: str) -> list[Any]:
    """Every JSON value in ``raw``: one, or several written one after another (a CMS that
    concatenates its blocks into one script). Raw control characters inside strings (a tab or a
    line break pasted into a headline) are accepted, as browsers and search engines accept them."""
    decoder = json.JSONDecoder(strict=False)
    values: list[Any] = []
    index, end = 0, len(raw)
    while index < end:
        while index < end and raw[index] in " \t\r\n;,":
            index += 1
        if index >= end:
            break
        value, index = decoder.raw_decode(raw, index)
        values.append(value)
    return values


def _unwrap(text: str) -> str:
    """Without the ``<!--`` / ``//<![CDATA[`` wrapper some templates put around the JSON (string
    tests, not a regex: a regex anchored at the end scans every character of a large block)."""
    text = text.strip()
    head = text.removeprefix("//").lstrip()
    for opener in _OPENERS:
        if head.startswith(opener):
            text = head[len(opener) :].lstrip()
    for closer in _CLOSERS:
        if text.endswith(closer):
            text = text[: -len(closer)].rstrip().removesuffix("//").rstrip()
    return text


def parse_jsonld(raw: str) -> list[Any]:
    """The JSON values of one ``ld+json`` script, read as tolerantly as search engines read them:
    CDATA or comment wrappers, trailing commas, control characters in strings, several values
    in one script, and a script whose quotes arrive as HTML entities (``&quot;``). Empty when
    the text is not JSON even so."""
    try:
        return _decode_all(raw)  # the common case: valid JSON, read once
    except (ValueError, RecursionError):
        pass
    text = _unwrap(raw)
    attempts = [text, _strip_trailing_commas(text)]
    if _ENTITY.search(text):
        attempts.append(_strip_trailing_commas(html.unescape(text)))
    for attempt in attempts:
        try:
            return _decode_all(attempt)
        except (ValueError, RecursionError):
            continue
    return []


def jsonld_articles(tree: HtmlElement) -> list[dict[str, Any]]:
    """The schema.org article objects of the page's JSON-LD, in document order: every block,
    ``@graph`` and nested items, arrays of objects, each block parsed tolerantly
    (:func:`parse_jsonld`); a block that is not JSON even so is skipped. Parse once per page and
    hand the list to every reader."""
    out: list[dict[str, Any]] = []
    for script in tree.xpath("//script[@type='application/ld+json']"):
        raw = script.text or ""
        if not any(needle in raw for needle in _NEEDLES):
            continue
        for data in parse_jsonld(raw):
            out.extend(obj for obj in _walk(data) if schema_types(obj) & ARTICLE_TYPES)
    return out


def _clean_text(value: str) -> list[str]:
    text = html.unescape(_TAG.sub("\n", value))
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _live_blog_lines(obj: dict[str, Any]) -> list[str]:
    updates = obj.get("liveBlogUpdate")
    if isinstance(updates, dict):
        updates = [updates]
    lines: list[str] = []
    if not isinstance(updates, list):
        return lines
    for update in updates:
        if not isinstance(update, dict):
            continue
        for key in ("headline", "articleBody"):
            value = update.get(key)
            if isinstance(value, str):
                lines.extend(_clean_text(value))
    return lines


def jsonld_body_lines(articles: Sequence[dict[str, Any]]) -> list[str]:
    """The longest article body the page's JSON-LD ``articles`` declare, as lines (empty when
    there is none)."""
    best: list[str] = []
    best_len = 0
    for obj in articles:
        lines: list[str] = []
        body = obj.get("articleBody")
        if isinstance(body, str):
            lines = _clean_text(body)
        if "liveblogposting" in schema_types(obj):
            lines = lines + _live_blog_lines(obj)
        size = sum(len(x) for x in lines)
        if size > best_len:
            best, best_len = lines, size
    return best
