"""Page HTML → ``ExtractedArticle``: trafilatura for the body and metadata, newsflow's rules for the rest.

The one function the pipeline calls is ``extract_article``. It is pure and deterministic (same bytes and URL, same
record), never raises, and keeps no state between calls that could change an output: trafilatura's
``deduplicate=True`` is off because its cache is process-global and order-dependent (reference/fetching.md §12).
It is a module-level function so a ``ProcessPoolExecutor`` can run it.

Steps: sniff out non-HTML → parse once with lxml → read what trafilatura does not give (``<html lang>``, the
declared canonical URL, headline candidates, captions incl. hidden lightbox copies) → prune hidden and caption
elements → trafilatura body + metadata (comments off, precision-leaning settings chosen by measurement, see
benchmarks/README.md) → generic cleaning rules (tasks/clean.py) → line hashes → per-source boilerplate removal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

from newsflow.schemas.records import ExtractedArticle
from newsflow.tasks.boilerplate import line_hash, strip_boilerplate
from newsflow.tasks.clean import clean_lines
from newsflow.tasks.clean_captions import collect_captions, page_prose
from newsflow.tasks.clean_lang import guess_language, normalise_language_tag

# Settings measured on the dev set (benchmarks/extraction_quality.py): comments off, precision favoured.
TRAFILATURA_OPTIONS: dict[str, object] = {
    "include_comments": False,
    "favor_precision": True,
    "include_tables": True,
}
# Full timestamps, not day granularity; the offset when the page gives one.
DATE_PARAMS: dict[str, object] = {
    "original_date": True,
    "extensive_search": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}
# Hidden copies (lightbox/gallery duplicates, screen-reader labels) and caption furniture, pruned before the
# extractor sees the tree. trafilatura itself only drops ``display:none``/``aria-hidden`` and " hidden" classes
# with a leading space (reference/fetching.md §13). One cheap XPath pre-selects candidates; the regexes below
# decide (XPath 1.0 has no case folding short of a slow ``translate``).
_PRUNE_CANDIDATES = (
    "//*[@hidden or self::figure or self::figcaption or @itemprop='caption' or contains(@class, 'idden') "
    "or contains(@class, 'sr-only') or contains(@class, 'screen-reader') or contains(@class, 'aption') "
    "or contains(@id, 'aption') or contains(@class, 'APTION') or contains(@class, 'bildte') "
    "or contains(@class, 'legende') or contains(@class, 'redit')]"
)
_HIDDEN_CLASS = re.compile(r"(?:^|\s)(?:hidden|sr-only|visually-?hidden|visuallyhidden|screen-reader-text)(?:\s|$)", re.I)
_CAPTION_LIKE = re.compile(r"caption|bildtext|bildtekst|legende|photo-?credit|image-?credit", re.I)
_CONTAINER_TAGS = {"html", "body", "article", "main"}
_MAX_PRUNE_TEXT = 800  # caption-classed elements larger than this are containers, not captions


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


_BINARY_MAGIC = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PK\x03\x04": "a ZIP archive (or office document)",
    b"\x1f\x8b": "gzip-compressed data",
    b"RIFF": "a RIFF media file",
    b"OggS": "an Ogg media file",
    b"ID3": "an MP3 audio file",
}
_MAX_HTML_BYTES = 20_000_000
_RESET_EVERY = 500
_calls = 0


def _sniff_binary(data: bytes) -> str | None:
    """A reason string when the bytes are plainly not an HTML page."""
    head = data[:1024].lstrip()
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            return f"not HTML: content is {what}"
    sample = data[:4096]
    if b"\x00" in sample and not (sample.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00<\x00" in sample):
        return "not HTML: binary content (NUL bytes)"
    if sample:
        controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
        if controls / len(sample) > 0.1:
            return "not HTML: binary content (control bytes)"
    return None


def _parse(html: bytes | str) -> HtmlElement | None:
    from trafilatura.utils import load_html

    try:
        return load_html(html)
    except Exception:  # lxml raises a zoo of errors on junk; any of them means "not parseable"
        return None


def _meta(tree: HtmlElement, *names: str) -> str | None:
    for name in names:
        for el in tree.xpath(f"//meta[@property='{name}' or @name='{name}' or @itemprop='{name}']"):
            value = " ".join((el.get("content") or "").split())
            if value:
                return value
    return None


def _canonical(tree: HtmlElement, url: str) -> str | None:
    """rel=canonical, else og:url, as the page declares it, made absolute; http(s) only."""
    candidates = [el.get("href") for el in tree.xpath("//link[@href]") if "canonical" in (el.get("rel") or "").lower().split()]
    og = _meta(tree, "og:url")
    if og:
        candidates.append(og)
    for href in candidates:
        href = (href or "").strip()
        if not href:
            continue
        absolute = urljoin(url, href)
        if urlsplit(absolute).scheme in {"http", "https"}:
            return absolute
    return None


def _title_candidates(tree: HtmlElement, title: str | None) -> list[str]:
    """Every form the headline takes on the page: metadata title, og/twitter titles, ``<title>``, ``<h1>``s."""
    out = [title or ""]
    out.append(_meta(tree, "og:title", "twitter:title", "headline") or "")
    for el in tree.xpath("//title | //h1")[:4]:
        out.append(" ".join(" ".join(el.itertext()).split()))
    return [t for t in out if t]


def _language(tree: HtmlElement, text: str) -> str | None:
    lang = normalise_language_tag(tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang"))
    if lang:
        return lang
    value = _meta(tree, "og:locale", "language", "content-language", "dc.language", "DC.language")
    if not value:
        for el in tree.xpath("//meta[@http-equiv]"):
            if (el.get("http-equiv") or "").lower() == "content-language":
                value = el.get("content")
                break
    lang = normalise_language_tag(value)
    return lang or guess_language(text)


def _parse_date(value: str | None) -> datetime | None:
    """ISO-ish timestamp from htmldate → aware datetime (UTC when the page gave no offset)."""
    if not value:
        return None
    value = value.strip()
    for parser in (datetime.fromisoformat, lambda v: datetime.strptime(v, "%Y-%m-%dT%H:%M:%S%z")):
        try:
            dt = parser(value)
        except ValueError:
            continue
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return None


_BY_PREFIX = re.compile(r"^\s*(?:(?:written|reported|reporting|words|text|story)\s+)?by\s*[:\-]?\s+", re.I)
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\||\band\b|&|\bund\b|\bet\b|\boch\b|\by\b)\s*", re.I)


def split_authors(raw: str | None) -> list[str]:
    """"By Jane Doe and John Roe; Ann Poe" → ["Jane Doe", "John Roe", "Ann Poe"]; comma lists when each part is
    a multi-word name; deduplicated, order kept."""
    if not raw:
        return []
    names: list[str] = []
    for part in _AUTHOR_SPLIT.split(raw):
        pieces = [p.strip() for p in part.split(",")]
        if len(pieces) > 1 and all(len(p.split()) >= 2 for p in pieces if p):
            candidates = pieces
        else:
            candidates = [part]
        for cand in candidates:
            name = _BY_PREFIX.sub("", cand).strip(" ,.;:-–—")
            if name and any(ch.isalpha() for ch in name) and name not in names:
                names.append(name)
    return names


def _prune(tree: HtmlElement) -> None:
    """Remove hidden copies and caption elements in place (the tree is ours, parsed for this call).

    Caption-classed elements with more than ``_MAX_PRUNE_TEXT`` characters are containers ("has-caption"
    wrappers around a whole article), so they stay.
    """
    for el in [el for el in tree.xpath(_PRUNE_CANDIDATES) if _doomed(el)]:
        parent = el.getparent()
        if parent is None:
            continue
        # Keep the tail text (it belongs to the parent), drop the element.
        tail = el.tail
        if tail and tail.strip():
            prev = el.getprevious()
            if prev is not None:
                prev.tail = (prev.tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail
        parent.remove(el)


def _maybe_reset_caches() -> None:
    """trafilatura/htmldate/courlan LRU caches grow ~1 MB per page (trafilatura#216); they only memoise, so
    clearing them never changes an output."""
    global _calls
    _calls += 1
    if _calls % _RESET_EVERY == 0:
        from trafilatura.meta import reset_caches

        reset_caches()


def extract_article(
    html: bytes | str, url: str, *, boilerplate: frozenset[str] = frozenset()
) -> ExtractedArticle:
    """Extract and clean one article page. Never raises: failures come back as ``error``."""
    try:
        return _extract(html, url, boilerplate)
    except Exception as exc:  # the contract: a bad page is a record with a reason, never a crashed batch
        return ExtractedArticle(url=url, error=f"extraction failed: {type(exc).__name__}: {exc}"[:500])


def _extract(html: bytes | str, url: str, boilerplate: frozenset[str]) -> ExtractedArticle:
    import trafilatura

    _maybe_reset_caches()
    if html is None or len(html) == 0:
        return ExtractedArticle(url=url, error="empty page: no content")
    if len(html) > _MAX_HTML_BYTES:
        return ExtractedArticle(url=url, error=f"page too large: {len(html)} bytes")
    if isinstance(html, bytes):
        reason = _sniff_binary(html)
        if reason:
            return ExtractedArticle(url=url, error=reason)
    elif "\x00" in html[:4096]:
        return ExtractedArticle(url=url, error="not HTML: binary content (NUL characters)")

    tree = _parse(html)
    if tree is None or not isinstance(tree, HtmlElement):
        return ExtractedArticle(url=url, error="not HTML: could not be parsed as an HTML document")

    canonical = _canonical(tree, url)
    page_captions = collect_captions(tree, url)
    _prune(tree)

    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        deduplicate=False,
        date_extraction_params=DATE_PARAMS,
        **TRAFILATURA_OPTIONS,
    )
    if doc is None or not (doc.text or "").strip():
        return ExtractedArticle(
            url=url, canonical_url=canonical, error="no article text found (extractor returned nothing)"
        )

    title = " ".join((doc.title or "").split()) or None
    lines = clean_lines(
        (doc.text or "").split("\n"),
        titles=_title_candidates(tree, title),
        captions=page_captions.match_strings,
        page_prose=lambda: page_prose(tree),
    )
    hashes = [line_hash(ln) for ln in lines]
    lines = strip_boilerplate(lines, boilerplate)
    text = "\n".join(lines)
    if not text.strip():
        return ExtractedArticle(
            url=url,
            canonical_url=canonical,
            title=title,
            captions=page_captions.captions,
            line_hashes=hashes,
            error="no article text left after cleaning (only title, captions or page chrome)",
        )
    return ExtractedArticle(
        url=url,
        canonical_url=canonical,
        title=title,
        text=text,
        authors=split_authors(doc.author),
        published_at=_parse_date(doc.date),
        language=_language(tree, text),
        captions=page_captions.captions,
        description=" ".join((doc.description or "").split()) or None,
        sitename=" ".join((doc.sitename or "").split()) or None,
        line_hashes=hashes,
    )


def extract_many(pages: Iterable[tuple[bytes | str, str]]) -> list[ExtractedArticle]:
    """Convenience for callers without per-source boilerplate: ``extract_article`` over (html, url) pairs."""
    return [extract_article(html, url) for html, url in pages]
