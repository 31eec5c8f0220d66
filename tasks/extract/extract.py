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
from copy import copy
from functools import partial

from lxml.html import HtmlElement

from newsflow.schemas.records import ExtractedArticle
from newsflow.tasks.extract.boilerplate import line_hash, strip_boilerplate
from newsflow.tasks.extract.clean import clean_lines, is_title_echo, title_keys
from newsflow.tasks.extract.clean_captions import candidate_elements, collect_captions, page_prose
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
from newsflow.tasks.fetch.charset import decode_html, sniff_binary

# Settings measured on the dev set (benchmarks/extraction_quality.py): comments off, precision
# favoured.
TRAFILATURA_OPTIONS: dict[str, object] = {
    "include_comments": False,
    "favor_precision": True,
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
# clean_captions.candidate_elements (one XPath shared with the caption collector); the regexes below
# decide.
_HIDDEN_CLASS = re.compile(
    r"(?:^|\s)(?:hidden|sr-only|visually-?hidden|visuallyhidden|screen-reader-text)(?:\s|$)", re.I
)
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
_calls = 0


def _parse(html: bytes | str) -> HtmlElement | None:
    from trafilatura.utils import load_html

    try:
        tree = load_html(html)
    except Exception:  # lxml raises a zoo of errors on junk; any of them means "not parseable"
        return None
    return tree if isinstance(tree, HtmlElement) else None


def _doomed(el: HtmlElement) -> bool:
    tag = el.tag
    if tag in ("figure", "figcaption") or el.get("hidden") is not None:
        return True
    if el.get("itemprop") == "caption":
        return True
    cls = el.get("class", "")
    if _HIDDEN_CLASS.search(cls):
        return True
    if tag in _CONTAINER_TAGS:
        return False
    if _CAPTION_LIKE.search(f"{cls} {el.get('id', '')}"):
        return len(el.text_content()) <= _MAX_PRUNE_TEXT
    return False


def _prune(candidates: list[HtmlElement]) -> None:
    """Remove hidden copies and caption elements in place (the tree is ours, parsed for this call).

    Caption-classed elements with more than ``_MAX_PRUNE_TEXT`` characters are containers
    ("has-caption" wrappers around a whole article), so they stay.
    """
    for el in [el for el in candidates if _doomed(el)]:
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
) -> ExtractedArticle:
    """Extract and clean one article page. Never raises: failures come back as ``error``.

    ``boilerplate`` holds the line hashes learnt for the page's source
    (``boilerplate.learn_boilerplate``); body lines with those hashes are removed. ``line_hashes``
    in the result are taken before that removal, so the caller can keep learning from every article.
    ``charset`` is the HTTP header's label, if any: bytes are decoded by ``charset.decode_html``,
    which knows when headers and ``<meta>`` lie.
    """
    try:
        return _extract(html, url, boilerplate, charset)
    except (
        Exception
    ) as exc:  # the contract: a bad page is a record with a reason, never a crashed batch
        return ExtractedArticle(
            url=url, error=f"extraction failed: {type(exc).__name__}: {exc}"[:500]
        )


def _extract(
    html: bytes | str, url: str, boilerplate: frozenset[str], charset: str | None = None
) -> ExtractedArticle:
    import trafilatura
    from trafilatura.metadata import extract_metadata

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
    _prune(candidates)

    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        deduplicate=False,
        date_extraction_params=DATE_PARAMS,
        **TRAFILATURA_OPTIONS,
    )
    if doc is None:
        # No body block found; the metadata is still worth having if JSON-LD declares the body.
        doc = extract_metadata(copy(tree), url, DATE_PARAMS)
        doc.text = ""
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
    )
    lines = clean((doc.text or "").split("\n"))
    if jsonld_lines:
        declared = clean(jsonld_lines)
        if _words(declared) >= max(_JSONLD_MIN_WORDS, _JSONLD_FACTOR * _words(lines)):
            lines = declared
    hashes = [line_hash(ln) for ln in lines]
    lines = strip_boilerplate(lines, boilerplate)
    text = "\n".join(lines)
    fields = {
        "url": url,
        "canonical_url": canonical,
        "title": title,
        "authors": authors,
        **published_fields(tree, declared_articles, doc.date),  # and published_at_source
        "captions": page_captions.captions,
        "description": " ".join((doc.description or "").split()) or None,
        "sitename": sitename,
        "line_hashes": hashes,
    }
    if not text.strip():
        reason = (
            "no article text left after cleaning (only title, captions or page chrome)"
            if hashes or (doc.text or "").strip()
            else "no article text found (extractor returned nothing)"
        )
        return ExtractedArticle(**fields, error=reason)
    return ExtractedArticle(**fields, text=text, language=_language(tree, text))
