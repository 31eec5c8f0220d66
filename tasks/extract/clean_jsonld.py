"""The article body as the page declares it in schema.org JSON-LD: a fallback for bodies the DOM
hides.

Live blogs and some script-rendered pages ship their text only inside ``<script
type="application/ld+json">`` (``articleBody`` of a ``NewsArticle``/``BlogPosting``, or a
``LiveBlogPosting``'s ``liveBlogUpdate`` entries), while the HTML holds a shell. schema.org is a
standard every news CMS emits, so reading it is a general rule, not a publisher special case. The
extractor uses this text only when it is much longer than what the DOM gave (see ``extract.py``),
because ``articleBody`` is often truncated for paywalls or flattened into one blob.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

from lxml.html import HtmlElement

_ARTICLE_TYPES = {
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


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type")
    values = t if isinstance(t, list) else [t]
    return {v.lower() for v in values if isinstance(v, str)}


def _walk(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 8:
        return
    if isinstance(node, dict):
        yield node
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _walk(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, depth + 1)


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


def jsonld_body_lines(tree: HtmlElement) -> list[str]:
    """The longest article body declared in JSON-LD, as lines (empty when there is none or it is
    unparsable)."""
    best: list[str] = []
    best_len = 0
    for script in tree.xpath("//script[@type='application/ld+json']"):
        raw = script.text or ""
        if "articleBody" not in raw and "liveBlogUpdate" not in raw:
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        for obj in _walk(data):
            if not (_types(obj) & _ARTICLE_TYPES):
                continue
            lines: list[str] = []
            body = obj.get("articleBody")
            if isinstance(body, str):
                lines = _clean_text(body)
            if "liveblogposting" in _types(obj):
                lines = lines + _live_blog_lines(obj)
            size = sum(len(x) for x in lines)
            if size > best_len:
                best, best_len = lines, size
    return best
