"""Sitemaps: find a site's article URLs and their dates for ``newsflow backfill``.

Where the URLs come from (the order Fundus and news-please use): the ``Sitemap:`` lines of
robots.txt, then ``/sitemap.xml`` and ``/news-sitemap.xml``; sitemap indexes are followed
(at most ``MAX_DEPTH`` levels, ``max_documents`` documents in all), and gzip sitemaps
(``.xml.gz``, sent without ``Content-Encoding``) are inflated here under the same cap as the
body. What a sitemap says about each URL is kept apart: ``<news:publication_date>`` (Google News
sitemaps) is a publication date; ``<lastmod>`` only says when the page last changed, so it
narrows the window but is never taken as the article's date.

Why not a sitemap library: ``ultimate-sitemap-parser`` lets its web client be replaced, but it
probes a fixed list of 14 unpublished paths, inflates ``.gz`` bodies with an unbounded
``gzip.decompress`` (``usp.helpers.gunzip``) and reads the whole tree before any date filter;
trafilatura's ``sitemaps`` module fetches with its own downloader. newsflow's needs are small
(two document types, four elements), so the documents are parsed here, with lxml configured
not to resolve entities, load DTDs or touch the network, after the same entity check as feeds
(``feeds.py``): a sitemap declaring a DTD or entities is refused. Fetching stays in the one
HTTP client (``sitemap_tasks.py``), address guard on every hop.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree

from newsflow.schemas.records import FetchResult, SitemapItem
from newsflow.tasks.fetch.urls import url_problem

#: Sitemap documents read per backfill (indexes included), and index levels followed.
MAX_DOCUMENTS = 500
MAX_DEPTH = 3
#: The sitemaps.org limit per document; more is a broken or hostile file.
MAX_URLS_PER_SITEMAP = 50_000
WELL_KNOWN = ("/sitemap.xml", "/news-sitemap.xml")
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, application/gzip;q=0.8, */*;q=0.1"

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_GZIP_MAGIC = b"\x1f\x8b"
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
)


@dataclass
class ParsedSitemap:
    """One sitemap document: an index (``children``: sitemap URL and its lastmod) or a
    urlset (``items``), or an ``error`` saying why it gave nothing."""

    items: list[SitemapItem] = field(default_factory=list)
    children: list[tuple[str, datetime | None]] = field(default_factory=list)
    error: str | None = None


@dataclass
class Discovery:
    """What a site's sitemaps list: its article URLs (each once), how many documents were
    read, and the documents that could not be read, each with its reason."""

    items: list[SitemapItem] = field(default_factory=list)
    documents: int = 0
    errors: list[str] = field(default_factory=list)


def inflate(content: bytes, max_bytes: int) -> bytes:
    """A gzip body inflated, stopping at ``max_bytes`` decoded bytes (a gzip bomb costs at most
    that much memory). Raises ``ValueError`` with a reason."""
    stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = stream.decompress(content, max_bytes + 1)
    except zlib.error as exc:
        raise ValueError(f"malformed: not a valid gzip stream ({exc})") from None
    if len(out) > max_bytes:
        raise ValueError(f"too_large: the sitemap exceeds {max_bytes} bytes after decompression")
    return out


def parse_sitemap(content: bytes, url: str, *, max_bytes: int) -> ParsedSitemap:
    """A sitemap index or urlset (plain or gzip), namespace prefixes as the site spells them.

    URLs are resolved against ``url``; entries without a usable http(s) ``<loc>`` are left
    out. Refused: documents declaring XML entities, and more than ``MAX_URLS_PER_SITEMAP``
    entries."""
    if content.startswith(_GZIP_MAGIC):
        try:
            content = inflate(content, max_bytes)
        except ValueError as exc:
            return ParsedSitemap(error=str(exc))
    if not content.strip():
        return ParsedSitemap(error="empty: the sitemap body is empty")
    head = content[:65536]  # a sitemap has no business declaring a DTD anywhere near its start
    if _ENTITY_DECL.search(head) or b"<!DOCTYPE" in head.upper():
        return ParsedSitemap(error="entities: the sitemap declares a DTD or entities; refused")
    try:
        root = etree.fromstring(content.lstrip(), parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        return ParsedSitemap(error=f"malformed: {str(exc)[:200]}")
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        return ParsedSitemap(error=f"not_sitemap: the root element is <{kind}>")
    entries = [e for e in root if isinstance(e.tag, str)]
    if len(entries) > MAX_URLS_PER_SITEMAP:
        return ParsedSitemap(
            error=f"too_many: {len(entries)} entries (a sitemap holds at most "
            f"{MAX_URLS_PER_SITEMAP})"
        )
    parsed = ParsedSitemap()
    for entry in entries:
        fields = _fields(entry)
        loc = _absolute(fields.get("loc"), url)
        if loc is None:
            continue
        if kind == "sitemapindex":
            parsed.children.append((loc, parse_w3c_date(fields.get("lastmod"))))
        else:
            parsed.items.append(
                SitemapItem(
                    url=loc,
                    sitemap_url=url,
                    published_at=parse_w3c_date(fields.get("publication_date")),
                    lastmod=parse_w3c_date(fields.get("lastmod")),
                    title=(fields.get("title") or None),
                )
            )
    return parsed


def _fields(entry: etree._Element) -> dict[str, str]:
    """The text of an entry's elements by local name, ``news:news`` children included (the
    news namespace's ``publication_date`` and ``title``), first occurrence wins."""
    out: dict[str, str] = {}
    for element in entry.iter():
        if element is entry or not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        text = (element.text or "").strip()
        if text and name not in out:
            out[name] = text
    return out


def _absolute(loc: str | None, base: str) -> str | None:
    if not loc:
        return None
    absolute = urljoin(base, loc)
    return None if url_problem(absolute) else absolute


def parse_w3c_date(value: str | None) -> datetime | None:
    """A W3C datetime (``2026-11-20``, ``2026-11-20T08:15:00+01:00``, ``…Z``, ``2026-11``) in
    UTC; a date without a zone is read as UTC; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if re.fullmatch(r"\d{4}", text):
        text += "-01-01"
    elif re.fullmatch(r"\d{4}-\d{2}", text):
        text += "-01"
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def site_root(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: the site whose sitemaps are read."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def same_site(url: str, root: str) -> bool:
    """Whether ``url`` is on the site of ``root`` (scheme ignored, a leading ``www.`` too),
    so a sitemap cannot send the backfill to another site."""
    a, b = urlsplit(url), urlsplit(root)

    def host(parts: object) -> tuple[str, int | None]:
        name = (parts.hostname or "").lower().removeprefix("www.")  # type: ignore[attr-defined]
        return name, parts.port  # type: ignore[attr-defined]

    try:
        return host(a) == host(b)
    except ValueError:  # a port out of range
        return False


def discover(
    root: str,
    fetch: Callable[[str], FetchResult],
    robots_sitemaps: Iterable[str],
    *,
    since: datetime | None = None,
    max_documents: int = MAX_DOCUMENTS,
    max_bytes: int,
) -> Discovery:
    """Read the site's sitemaps through ``fetch`` (the guarded client) and collect its article
    URLs. Indexes are followed breadth-first; a child sitemap whose ``lastmod`` is before
    ``since`` is not read (nothing in it changed since). A well-known path that is missing
    (4xx) is not an error; a sitemap robots.txt or an index names that fails is."""
    named = [u for u in robots_sitemaps if same_site(u, root)]
    queue: list[tuple[str, int, bool]] = [(u, 0, True) for u in named]
    queue += [(root + path, 0, False) for path in WELL_KNOWN]
    seen: set[str] = set()
    found: dict[str, SitemapItem] = {}
    out = Discovery()
    while queue and out.documents < max_documents:
        url, depth, required = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        result = fetch(url)
        out.documents += 1
        if not result.ok:
            if required or (result.status or 0) >= 500 or result.status is None:
                out.errors.append(f"{url}: {result.error or f'HTTP {result.status}'}")
            continue
        parsed = parse_sitemap(result.content, result.final_url or url, max_bytes=max_bytes)
        if parsed.error:
            out.errors.append(f"{url}: {parsed.error}")
            continue
        for child, lastmod in parsed.children:
            if depth + 1 > MAX_DEPTH or not same_site(child, root):
                continue
            if since is not None and lastmod is not None and lastmod < since:
                continue
            queue.append((child, depth + 1, True))
        for item in parsed.items:
            if same_site(item.url, root):
                found[item.url] = _richer(found.get(item.url), item)
    if queue:
        out.errors.append(f"stopped after {max_documents} sitemap documents; the rest unread")
    out.items = list(found.values())
    return out


def _richer(old: SitemapItem | None, new: SitemapItem) -> SitemapItem:
    """Of two listings of one URL (a news sitemap and an archive sitemap), the one that says
    more: a publication date first, then a lastmod."""
    if old is None:
        return new
    score = lambda i: (i.published_at is not None, i.lastmod is not None, i.title is not None)  # noqa: E731
    return new if score(new) > score(old) else old


def in_window(
    items: Iterable[SitemapItem],
    since: datetime | None,
    until: datetime | None,
    max_items: int | None = None,
) -> list[SitemapItem]:
    """The items a backfill of ``[since, until)`` fetches, newest first, at most ``max_items``.

    A publication date must lie in the window. An item with only ``lastmod`` is kept when
    ``lastmod >= since`` (a page last changed before the window was published before it too),
    whatever ``until`` says: a page edited later may still have been published inside it; the
    page's own date decides then. An item without any date is kept only when the window is
    open on both sides: nothing says where it falls."""
    kept = []
    for item in items:
        if item.published_at is not None:
            ok = (since is None or item.published_at >= since) and (
                until is None or item.published_at < until
            )
        elif item.lastmod is not None:
            ok = since is None or item.lastmod >= since
        else:
            ok = since is None and until is None
        if ok:
            kept.append(item)
    floor = datetime.min.replace(tzinfo=UTC)
    kept.sort(key=lambda i: (i.window_date or floor, i.url), reverse=True)
    return kept[:max_items] if max_items is not None else kept
