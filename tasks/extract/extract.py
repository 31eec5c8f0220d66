"""Page HTML → ``ExtractedArticle``: trafilatura for the body and metadata, newsflow's rules for the
rest.

The one function the pipeline calls is ``extract_article``. It is pure and deterministic (same bytes
and URL, same record), never raises, and keeps no state between calls that could change an output:
trafilatura's ``deduplicate=True`` is off because its cache is process-global and order-dependent
(docs/fetching.md). It is a module-level function so a ``ProcessPoolExecutor`` can run it.

Steps: sniff out non-HTML → parse once with lxml → read what trafilatura does not give (``<html
lang>``, the declared canonical URL and publication time, headline candidates, captions incl. hidden
lightbox copies, the JSON-LD body) → prune hidden and caption elements → trafilatura body + metadata
(settings chosen by measurement, see benchmarks/README.md) → generic cleaning rules
(tasks/extract/clean.py) → line hashes → per-source boilerplate.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

from lxml.html import HtmlElement

from newsflow.schemas.records import ExtractedArticle
from newsflow.tasks.extract.boilerplate import line_hash, strip_boilerplate
from newsflow.tasks.extract.clean import CLEAN_RULES, clean_lines, is_title_echo, title_keys
from newsflow.tasks.extract.clean_captions import (
    PageCaptions,
    candidate_elements,
    collect_captions,
    page_prose,
)
from newsflow.tasks.extract.clean_dom import TailEvidence
from newsflow.tasks.extract.clean_jsonld import jsonld_articles, jsonld_body_lines
from newsflow.tasks.extract.clean_lang import guess_language, normalise_language_tag
from newsflow.tasks.extract.clean_meta import (
    canonical_url,
    declared_sections,
    jsonld_authors,
    meta_content,
    published_fields,
    split_authors,
)
from newsflow.tasks.extract.clean_normalise import normalise_line
from newsflow.tasks.fetch.charset import decode_html, sniff_binary

# Settings measured on both dev sets (benchmarks/extraction_quality.py): comments off (reader
# comments are not the article), and trafilatura's balanced mode rather than ``favor_precision``.
# Precision mode won on the 80-page set but, on the 990-page set, lost four fifths of newsflow's
# recall gap to trafilatura's default (whole paragraphs and short articles it judged too thin); the
# precision it bought is what newsflow's own rules earn on both sets.
TRAFILATURA_OPTIONS: dict[str, object] = {
    "include_comments": False,
    "include_tables": True,
}
# htmldate is only the date fallback (clean_meta.published_at reads declared timestamps first); ask
# it for full timestamps with the offset rather than its day-granular default.
DATE_PARAMS: dict[str, object] = {
    "original_date": True,
    # Extensive search guesses from free text and copyright lines ("© 2024" → 1 January): a made-up
    # timestamp is worse than none.
    "extensive_search": False,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}

# Hidden copies (lightbox/gallery duplicates, screen-reader labels) and caption furniture are pruned
# before the extractor sees the tree. trafilatura itself only drops ``display:none``/``aria-hidden``
# and " hidden" classes with a leading space (docs/fetching.md). The candidates come from
# clean_captions.candidate_elements (one scan shared with the caption collector); the regexes below
# decide. Screen-reader labels always go (they are never shown); an element hidden by the
# ``hidden`` attribute or class goes only when it is a copy of text the page shows: tab panels and
# collapsed sections ("read the full story", FAQ answers) hide article text until clicked.
_SCREEN_READER_CLASS = re.compile(
    r"(?:^|\s)(?:sr-only|visually-?hidden|visuallyhidden|screen-reader-text)(?:\s|$)", re.I
)
_HIDDEN_CLASS = re.compile(r"(?:^|\s)hidden(?:\s|$)", re.I)
_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "head"})
_CAPTION_LIKE = re.compile(r"caption|bildtext|bildtekst|legende|photo-?credit|image-?credit", re.I)
_CONTAINER_TAGS = {"html", "body", "article", "main"}
_MAX_PRUNE_TEXT = 800  # caption-classed elements larger than this are containers, not captions

_MAX_HTML_BYTES = 20_000_000
# JSON-LD articleBody replaces the DOM text only when it is clearly the fuller body: at least this
# many words and this many times the DOM's word count (articleBody is often a truncated paywall
# teaser).
_JSONLD_MIN_WORDS = 150
_JSONLD_FACTOR = 2.0
_RESET_EVERY = 500

# Every rule ``extract_article(disabled=...)`` can turn off, for the benchmark's ablation table:
# the tree-level steps here, then the line rules of clean.py.
TREE_RULES = ("prune_hidden", "prune_captions", "jsonld_body")
RULES = TREE_RULES + CLEAN_RULES
_calls = 0


def _parse(html: bytes | str) -> HtmlElement | None:
    from trafilatura.utils import load_html

    try:
        tree = load_html(html)
    except Exception:  # lxml raises a zoo of errors on junk; any of them means "not parseable"
        return None
    return tree if isinstance(tree, HtmlElement) else None


def _is_screen_reader(el: HtmlElement) -> bool:
    return bool(_SCREEN_READER_CLASS.search(el.get("class", "")))


def _is_hidden(el: HtmlElement) -> bool:
    return el.get("hidden") is not None or bool(_HIDDEN_CLASS.search(el.get("class", "")))


def _visible_text(tree: HtmlElement, hidden: list[HtmlElement]) -> str:
    """The page's shown text, normalised and space-padded for whole-word containment tests:
    everything outside ``hidden`` subtrees, scripts and styles."""
    skip = set(hidden)
    parts: list[str] = []
    stack: list[HtmlElement] = [tree]
    while stack:
        el = stack.pop()
        if el.tail and el is not tree:
            parts.append(el.tail)  # a tail is shown even when its element is not
        tag = el.tag
        if not isinstance(tag, str) or tag in _INVISIBLE_TAGS or el in skip:
            continue
        if el.text:
            parts.append(el.text)
        stack.extend(reversed(el))
    return f" {normalise_line(' '.join(parts))} "


def _hidden_copies(tree: HtmlElement, hidden: list[HtmlElement]) -> list[HtmlElement]:
    """The hidden elements whose text the page also shows (lightbox and gallery duplicates of a
    caption, a sticky copy of the headline); empty ones go too, nothing to lose.

    Hidden text shown nowhere else is content waiting for a click (a tab panel, a collapsed FAQ
    answer) and stays; its ``hidden`` class token is removed so that trafilatura, which drops
    elements classed " hidden", judges it like any other block."""
    if not hidden:
        return []
    shown = _visible_text(tree, hidden)
    out = []
    for el in hidden:
        key = normalise_line(el.text_content())
        if not key or f" {key} " in shown:
            out.append(el)
        elif "class" in el.attrib:
            el.set("class", " ".join(_HIDDEN_CLASS.sub(" ", el.get("class", "")).split()))
    return out


def _is_caption(el: HtmlElement) -> bool:
    tag = el.tag
    if tag == "figure":
        # A figure is picture furniture only when it holds a picture: sites also wrap tables
        # (fee comparisons, results) in <figure>, and those are article content.
        return next(el.iter("table"), None) is None
    if tag == "figcaption" or el.get("itemprop") == "caption":
        return True
    if tag in _CONTAINER_TAGS:
        return False
    if _CAPTION_LIKE.search(f"{el.get('class', '')} {el.get('id', '')}"):
        return len(el.text_content()) <= _MAX_PRUNE_TEXT
    return False


def _prune(
    tree: HtmlElement, candidates: list[HtmlElement], disabled: frozenset[str] = frozenset()
) -> None:
    """Remove screen-reader labels, hidden copies and caption elements in place (the tree is ours,
    parsed for this call).

    Caption-classed elements with more than ``_MAX_PRUNE_TEXT`` characters are containers
    ("has-caption" wrappers around a whole article), so they stay.
    """
    doomed: list[HtmlElement] = []
    if "prune_hidden" not in disabled:
        doomed += [el for el in candidates if _is_screen_reader(el)]
        doomed += _hidden_copies(
            tree, [el for el in candidates if _is_hidden(el) and not _is_screen_reader(el)]
        )
    if "prune_captions" not in disabled:
        doomed += [el for el in candidates if _is_caption(el)]
    for el in dict.fromkeys(doomed):
        parent = el.getparent()
        if parent is None:
            continue
        tail = el.tail  # the tail text belongs to the parent: keep it
        if tail and tail.strip():
            prev = el.getprevious()
            if prev is not None:
                prev.tail = (prev.tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail
        parent.remove(el)


def _metadata(tree: HtmlElement, url: str) -> Any:
    """trafilatura's ``extract_metadata`` without the parts newsflow never reads: categories, tags
    and licence (their scans cost about a tenth of a page's extraction, measured) and the htmldate
    search, which ``_published`` runs only when the page declares no timestamp. Same steps, same
    order, same trimming as trafilatura 2.3 for the fields kept (title, author, url, sitename,
    description); read-only on ``tree``."""
    from trafilatura.metadata import (
        META_URL,
        examine_meta,
        extract_author,
        extract_meta_json,
        extract_sitename,
        extract_title,
        extract_url,
    )

    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None
    with suppress(Exception):  # trafilatura's own guard: bugs in its JSON-LD reader
        metadata = extract_meta_json(tree, metadata)
    if not metadata.title:
        metadata.title = extract_title(tree)
    if not metadata.author:
        metadata.author = extract_author(tree)
    if not metadata.url:
        metadata.url = extract_url(tree, url)
    if not metadata.sitename:
        metadata.sitename = extract_sitename(tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")
        if (
            metadata.sitename
            and "." not in metadata.sitename
            and not metadata.sitename[0].isupper()
        ):
            metadata.sitename = metadata.sitename.title()
    elif metadata.url:
        match = META_URL.match(metadata.url)
        if match:
            metadata.sitename = match[1]
    metadata.clean_and_trim()
    return metadata


def _published(
    tree: HtmlElement, declared_articles: list[dict[str, Any]], page_url: str | None
) -> dict[str, Any]:
    """``clean_meta.published_fields``: the declared timestamps first; htmldate's search (the
    costliest metadata step, the ``guessed`` source) only for a page that declares none."""
    from htmldate import find_date

    declared = published_fields(tree, declared_articles, None)
    if declared["published_at"] is not None:
        return declared
    found = find_date(tree, **{**DATE_PARAMS, "url": page_url})
    return published_fields(tree, declared_articles, found)


def _texts(tree: HtmlElement, xpath: str, limit: int) -> list[str]:
    return [" ".join(" ".join(el.itertext()).split()) for el in tree.xpath(xpath)[:limit]]


def _page_title(tree: HtmlElement, extracted: str | None) -> str | None:
    """The headline: trafilatura's title when the page shows it (og:title, an ``<h1>`` or
    ``<title>``), else og:title, the first ``<h1>``, or ``<title>`` without its " | Site" suffix.

    trafilatura prefers JSON-LD ``headline``, which on live blogs and pages with nested items can be
    the headline of an update or a related item rather than the page's own.
    """
    og = meta_content(tree, "og:title", "twitter:title")
    h1s = _texts(tree, "//h1", 2)
    head = _texts(tree, "//head/title", 1)
    shown = [t for t in (og, *h1s, *head) if t]
    if not shown:
        return extracted
    if extracted and is_title_echo(extracted, title_keys(shown)):
        return extracted
    if og or h1s:
        return shown[0]
    parts = [p for p in re.split(r"\s+[|–—-]\s+", head[0]) if p.strip()]
    return max(parts, key=len) if parts else head[0]


def _title_candidates(tree: HtmlElement, title: str | None) -> list[str]:
    """Every form the headline takes on the page: metadata title, og/twitter titles, ``<title>``,
    ``<h1>``s."""
    out = [title or "", meta_content(tree, "og:title", "twitter:title", "headline") or ""]
    for el in tree.xpath("//title | //h1")[:4]:
        out.append(" ".join(" ".join(el.itertext()).split()))
    return [t for t in out if t]


def _language(tree: HtmlElement, text: str) -> str | None:
    """``<html lang>``, then og:locale / Content-Language metadata, then a stop-word vote on the
    text."""
    lang = normalise_language_tag(
        tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    )
    if lang:
        return lang
    value = meta_content(
        tree, "og:locale", "language", "content-language", "dc.language", "DC.language"
    )
    if not value:
        for el in tree.xpath("//meta[@http-equiv]"):
            if (el.get("http-equiv") or "").lower() == "content-language":
                value = el.get("content")
                break
    return normalise_language_tag(value) or guess_language(text)


def _words(lines: list[str]) -> int:
    return sum(len(line.split()) for line in lines)


def _maybe_reset_caches() -> None:
    """trafilatura/htmldate/courlan LRU caches grow ~1 MB per page (trafilatura#216); they only
    memoise, so clearing them never changes an output."""
    global _calls
    _calls += 1
    if _calls % _RESET_EVERY == 0:
        release_caches()


def release_caches() -> None:
    """Drop trafilatura's, htmldate's and jusText's memo caches now (``reset_caches``).

    For a process that extracted a few pages and goes on to other work: a page trafilatura
    finds no text in sends it to its jusText fallback, which caches a lower-cased stop-word
    set of every jusText language (about 16 MB) for the life of the process.

    htmldate's part logs ``ERROR | htmldate.meta - impossible to clear cache for function``
    when the installed charset_normalizer has no such cache (it has not, in current
    releases): nothing is wrong and nothing is left uncleared that exists, so that one logger
    is silenced for the length of the call rather than printing an ERROR in a healthy run."""
    from trafilatura.meta import reset_caches

    logger = logging.getLogger("htmldate.meta")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        reset_caches()
    finally:
        logger.setLevel(level)


def extract_article(
    html: bytes | str,
    url: str,
    *,
    boilerplate: frozenset[str] = frozenset(),
    charset: str | None = None,
    disabled: frozenset[str] = frozenset(),
) -> ExtractedArticle:
    """Extract and clean one article page. Never raises: failures come back as ``error``.

    ``boilerplate`` holds the line hashes learnt for the page's source
    (``boilerplate.learn_boilerplate``); body lines with those hashes are removed. ``line_hashes``
    in the result are taken before that removal, so the caller can keep learning from every article.
    ``charset`` is the HTTP header's label, if any: bytes are decoded by ``charset.decode_html``,
    which knows when headers and ``<meta>`` lie. ``disabled`` names rules of ``RULES`` to skip:
    only the benchmark's ablation table sets it.
    """
    try:
        return _extract(html, url, boilerplate, charset, disabled)
    except (
        Exception
    ) as exc:  # the contract: a bad page is a record with a reason, never a crashed batch
        return ExtractedArticle(
            url=url, error=f"extraction failed: {type(exc).__name__}: {exc}"[:500]
        )


def extract_variants(
    html: bytes | str, url: str, variants: Sequence[frozenset[str]]
) -> list[ExtractedArticle]:
    """``extract_article(html, url, disabled=v).text``-equivalent records for each ``v`` in
    ``variants``, sharing the tree-level work between variants that keep the same tree rules: the
    benchmark's ablation table turns each rule off in turn and would otherwise extract every page
    once per rule."""
    out: list[ExtractedArticle] = []
    prepared: dict[frozenset[str], _Prepared | ExtractedArticle] = {}
    for disabled in variants:
        tree_off = disabled & frozenset(TREE_RULES)
        try:
            if tree_off not in prepared:
                prepared[tree_off] = _prepare(html, url, None, tree_off)
            ready = prepared[tree_off]
            if isinstance(ready, ExtractedArticle):
                out.append(ready)
            else:
                out.append(_finish(ready, frozenset(), disabled))
        except Exception as exc:  # as extract_article: a record with a reason
            out.append(ExtractedArticle(url=url, error=f"extraction failed: {exc}"[:500]))
    return out


@dataclass
class _Prepared:
    """What the tree-level steps leave for the line rules: the pruned tree, trafilatura's
    document and what was read from the page before pruning."""

    url: str
    tree: HtmlElement
    doc: Any
    canonical: str | None
    page_captions: PageCaptions
    declared_articles: list[dict[str, Any]]
    jsonld_lines: list[str]


def _extract(
    html: bytes | str,
    url: str,
    boilerplate: frozenset[str],
    charset: str | None = None,
    disabled: frozenset[str] = frozenset(),
) -> ExtractedArticle:
    ready = _prepare(html, url, charset, disabled)
    if isinstance(ready, ExtractedArticle):
        return ready
    return _finish(ready, boilerplate, disabled)


def _runs_blocks_together(text: str, pieces: Sequence[str]) -> bool:
    """Whether a line of ``text`` holds the page's title or one of its captions together with
    other text: the sign of an extraction that ran the page's blocks into one line, after which
    no line rule can take the title or the caption out again."""
    keys = [k for k in (normalise_line(p) for p in pieces if p) if len(k) >= 20]
    if not keys:
        return False
    for line in text.split("\n"):
        key = normalise_line(line)
        if any(k in key and len(key) > len(k) + 20 for k in keys):
            return True
    return False


#: Where a page's own links sit (menus, mastheads, footers) and its date stamps.
_CHROME_CONTAINERS = ("nav", "header", "footer")


def _only_chrome(tree: HtmlElement, lines: Sequence[str]) -> bool:
    """Whether every line is the text of a link in the page's menus, masthead or footer, or of a
    ``<time>`` element: what a fallback extractor returns for a page with no article text (a
    photo page: logo, section links and the date). Only the whole text is judged, never single
    lines, so an article whose text merely includes a menu word is left as it is."""
    chrome: set[str] = set()
    for container in tree.iter(*_CHROME_CONTAINERS):
        for link in container.iter("a"):
            chrome.add(normalise_line(link.text_content()))
    for stamp in tree.iter("time"):
        chrome.add(normalise_line(stamp.text_content()))
    chrome.discard("")
    return bool(chrome) and all(normalise_line(line) in chrome for line in lines)


def _prepare(
    html: bytes | str, url: str, charset: str | None, disabled: frozenset[str]
) -> _Prepared | ExtractedArticle:
    """Decode, parse once, read captions/JSON-LD/canonical, prune, run trafilatura; an
    ``ExtractedArticle`` with ``error`` when the page is not HTML."""
    import trafilatura

    _maybe_reset_caches()
    if html is None or len(html) == 0:
        return ExtractedArticle(url=url, error="empty page: no content")
    if len(html) > _MAX_HTML_BYTES:
        return ExtractedArticle(url=url, error=f"page too large: {len(html)} bytes")
    if isinstance(html, bytes):
        reason = sniff_binary(html)  # the same test the fetcher applies to bodies
        if reason:
            return ExtractedArticle(url=url, error=f"not HTML: {reason}")
        html = decode_html(html, charset).text
    elif "\x00" in html[:4096]:
        return ExtractedArticle(url=url, error="not HTML: binary content (NUL characters)")

    tree = _parse(html)
    if tree is None:
        return ExtractedArticle(url=url, error="not HTML: could not be parsed as an HTML document")

    canonical = canonical_url(tree, url)
    candidates = candidate_elements(tree)
    page_captions = collect_captions(tree, url, candidates)
    declared_articles = jsonld_articles(tree)  # parsed once, read for body, date, authors, sections
    jsonld_lines = jsonld_body_lines(declared_articles)
    _prune(tree, candidates, disabled)

    doc = _metadata(tree, url)
    body = trafilatura.bare_extraction(
        tree, url=url, deduplicate=False, date_extraction_params=DATE_PARAMS, **TRAFILATURA_OPTIONS
    )
    pieces = [doc.title or "", *(c.text for c in page_captions.captions)]
    if body is not None and _runs_blocks_together(body.text or "", pieces):
        # Balanced mode fell back to a whole-page reader that ran the page into one line (title,
        # byline, date or caption with the text): precision mode keeps the blocks apart.
        body = trafilatura.bare_extraction(
            tree,
            url=url,
            deduplicate=False,
            date_extraction_params=DATE_PARAMS,
            **{**TRAFILATURA_OPTIONS, "favor_precision": True},
        )
    # No body block found: the metadata is still worth having if JSON-LD declares the body.
    doc.text = body.text if body is not None else ""
    return _Prepared(url, tree, doc, canonical, page_captions, declared_articles, jsonld_lines)


def _finish(
    ready: _Prepared, boilerplate: frozenset[str], disabled: frozenset[str]
) -> ExtractedArticle:
    """Metadata, the line rules, the JSON-LD body choice and per-source boilerplate."""
    tree, doc, declared_articles = ready.tree, ready.doc, ready.declared_articles
    page_captions, url = ready.page_captions, ready.url
    title = _page_title(tree, " ".join((doc.title or "").split()) or None)
    sitename = " ".join((doc.sitename or "").split()) or None
    publishers = (sitename, meta_content(tree, "og:site_name"))
    authors = split_authors(doc.author, publisher_names=publishers) or split_authors(
        jsonld_authors(declared_articles), publisher_names=publishers
    )
    clean = partial(
        clean_lines,
        titles=_title_candidates(tree, title),
        captions=page_captions.match_strings,
        page_prose=lambda: page_prose(tree),
        authors=authors,
        sections=declared_sections(tree, declared_articles),
        dom=TailEvidence(tree),
        disabled=disabled,
    )
    lines = clean((doc.text or "").split("\n"))
    if lines and _only_chrome(tree, lines):
        lines = []  # a picture page: what the extractor found is the site's menu and a date
    if ready.jsonld_lines and "jsonld_body" not in disabled:
        declared = clean(ready.jsonld_lines)
        if _words(declared) >= max(_JSONLD_MIN_WORDS, _JSONLD_FACTOR * _words(lines)):
            lines = declared
    hashes = [line_hash(ln) for ln in lines]
    lines = strip_boilerplate(lines, boilerplate)
    # NFC, as trafilatura's own ``extract`` returns text: bare_extraction does not normalise, and
    # the same word in two Unicode forms (a Bengali nukta letter precomposed or not) would not match
    # a search or a comparison.
    text = unicodedata.normalize("NFC", "\n".join(lines))
    fields = {
        "url": url,
        "canonical_url": ready.canonical,
        "title": title,
        "authors": authors,
        "captions": page_captions.captions,
        "description": " ".join((doc.description or "").split()) or None,
        "sitename": sitename,
        "line_hashes": hashes,
    }
    # Last: htmldate's search may run on the tree. With published_at_source.
    fields.update(_published(tree, declared_articles, doc.url))
    if not text.strip():
        reason = (
            "no article text left after cleaning (only title, captions or page chrome)"
            if hashes or (doc.text or "").strip()
            else "no article text found (extractor returned nothing)"
        )
        return ExtractedArticle(**fields, error=reason)
    return ExtractedArticle(**fields, text=text, language=_language(tree, text))
