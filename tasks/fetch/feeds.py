"""Feeds: poll with a conditional GET through the safe client, parse the bytes with feedparser.

feedparser never fetches anything itself (it has no timeout, no size cap and follows redirects
anywhere); it only ever sees bytes our client already fetched and capped. Feeds that declare
XML entities are refused before parsing, because feedparser's fallback parser expands them
without limit.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from newsflow.schemas.records import FeedEntry, FetchResult
from newsflow.tasks.fetch.urls import url_problem

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)


@dataclass
class ParsedFeed:
    entries: list[FeedEntry] = field(default_factory=list)
    error: str | None = None  # set when the feed gave nothing usable
    warning: str | None = None  # set when it was malformed but still gave entries
    ttl_min: str | None = None  # RSS <ttl>: minutes the feed asks to be cached (adaptive polling)


@dataclass
class FeedPoll:
    """The outcome of polling one feed: a ``feed_fetches`` row plus the entries found."""

    source: str
    feed_url: str
    fetched_at: datetime
    status: int | None
    etag: str | None
    last_modified: str | None
    bytes: int
    elapsed_ms: int
    entries: list[FeedEntry]
    error: str | None  # the poll gave nothing usable
    warning: str | None = None  # it did, but something was off (a malformed feed with entries)
    # What the feed lifecycle (tasks/fetch/feed_policy.py) needs to know about the answer:
    redirects: list[tuple[int, str]] = field(default_factory=list)  # (status, location) per hop
    retry_after: str | None = None  # the Retry-After header, as sent
    skipped: bool = False  # not requested at all this run (gone, paused, Retry-After); see error
    # How long the answer may be cached, as sent (adaptive polling never asks sooner):
    cache_control: str | None = None
    expires: str | None = None
    ttl_min: str | None = None  # RSS <ttl>

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status in (200, 304)

    @property
    def gave_nothing(self) -> bool:
        """Polled and gave nothing usable (an unchanged feed, and a feed with entries but a
        warning or a lifecycle note, both worked): what the dead-run rule counts."""
        return (
            not self.skipped and self.error is not None and not self.entries and self.status != 304
        )


def skipped_poll(source: str, feed_url: str, reason: str, when: datetime) -> FeedPoll:
    """The ``feed_fetches`` record of a poll the lifecycle did not send, with its reason."""
    return FeedPoll(
        source=source,
        feed_url=feed_url,
        fetched_at=when,
        status=None,
        etag=None,
        last_modified=None,
        bytes=0,
        elapsed_ms=0,
        entries=[],
        error=reason,
        skipped=True,
    )


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The validators of the last answer, sent back so an unchanged resource answers 304 and
    costs nothing else: feed polls here, page re-checks (tasks/fetch/refetch.py) alike."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def feed_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The request headers of a feed poll: the feed types we read, and the previous poll's
    validators."""
    return {"Accept": _FEED_ACCEPT, **conditional_headers(etag, last_modified)}


def parse_feed(content: bytes, source: str, *, url: str, content_type: str = "") -> ParsedFeed:
    """Entries of an RSS 2.0, RSS 1.0/RDF or Atom document.

    A malformed feed that still yields entries is used (with a warning); one without entries
    is an error. Entry ids fall back from GUID to link to a hash of title and date, and a feed
    that reuses one GUID for different links gets ids made unique by the link.
    """
    if _ENTITY_DECL.search(_prolog(content)):
        return ParsedFeed(error="entities: the feed declares XML entities; refused for safety")
    if not content.strip():
        return ParsedFeed(error="empty: the feed body is empty")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(content.lstrip(), response_headers=headers, sanitize_html=False)
    raw_entries = parsed.get("entries", [])
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType):
        problem = None  # a label disagreement (charset, media type), not a broken document
    if not raw_entries:
        if not parsed.get("version"):
            said = f" ({_describe(problem)})" if problem is not None else ""
            return ParsedFeed(error=f"not_a_feed: the document is not RSS or Atom{said}")
        if problem is not None:
            return ParsedFeed(error=f"malformed: {_describe(problem)}")
        return ParsedFeed()
    ttl = str(parsed.get("feed", {}).get("ttl") or "").strip() or None
    entries = _entries(raw_entries, source, url)
    if not entries and problem is not None:  # e.g. cut off inside its first <item>
        return ParsedFeed(error=f"malformed: {_describe(problem)} (no entry with a link)")
    warnings = [f"malformed but usable: {_describe(problem)}"] if problem is not None else []
    if len(entries) < len(raw_entries):
        warnings.append(
            f"no_link: {len(raw_entries) - len(entries)} of {len(raw_entries)} entries skipped, "
            "without a usable http(s) link"
        )
    return ParsedFeed(entries=entries, warning="; ".join(warnings) or None, ttl_min=ttl)


def poll_result(
    source: str, feed_url: str, fetched: FetchResult, fetched_at: datetime, *, attempts: int = 1
) -> FeedPoll:
    """Turn the HTTP answer for a feed into a FeedPoll (entries, or a reason why none).

    ``attempts`` > 1 means transient failures were retried; a failure then says so.
    """
    entries: list[FeedEntry] = []
    error = fetched.error
    warning = ttl = None
    if error is None:
        if fetched.status == 304:
            pass
        elif fetched.status is not None and 200 <= fetched.status < 300:
            parsed = parse_feed(
                fetched.content, source, url=fetched.final_url, content_type=fetched.content_type
            )
            entries, error, warning = parsed.entries, parsed.error, parsed.warning
            ttl = parsed.ttl_min
        else:
            error = f"http_{fetched.status}: the feed answered HTTP {fetched.status}"
    if error is not None and attempts > 1:
        error += f" (after {attempts} attempts)"
    return FeedPoll(
        source=source,
        feed_url=feed_url,
        fetched_at=fetched_at,
        status=fetched.status,
        etag=fetched.headers.get("etag"),
        last_modified=fetched.headers.get("last-modified"),
        bytes=len(fetched.content),
        elapsed_ms=fetched.elapsed_ms,
        entries=entries,
        error=error,
        warning=warning,
        redirects=list(fetched.redirects),
        retry_after=fetched.headers.get("retry-after"),
        cache_control=fetched.headers.get("cache-control"),
        expires=fetched.headers.get("expires"),
        ttl_min=ttl,
    )


def _entries(raw_entries: list[Any], source: str, feed_url: str) -> list[FeedEntry]:
    entries: list[FeedEntry] = []
    links_by_id: dict[str, set[str]] = {}
    for raw in raw_entries:
        link = _link(raw)
        if not link:
            continue
        guid = (raw.get("id") or "").strip()
        links_by_id.setdefault(guid, set()).add(link)
        entries.append(
            FeedEntry(
                source=source,
                entry_id=guid,
                url=link,
                title=(raw.get("title") or "").strip() or None,
                published_at=_when(raw),
            )
        )
    reused = {guid for guid, links in links_by_id.items() if len(links) > 1}
    for entry in entries:
        if not entry.entry_id or entry.entry_id in reused:
            entry.entry_id = entry.url if not entry.entry_id else f"{entry.entry_id}|{entry.url}"
        if not entry.entry_id:
            digest = hashlib.sha256(f"{entry.title}|{entry.published_at}".encode()).hexdigest()
            entry.entry_id = digest[:16]
    return entries


def _link(raw: Any) -> str | None:
    """The entry's page: the first of its links (``link``, then the alternates) that can be
    fetched, else the first http(s) link as listed even if malformed (a port out of range).

    A malformed link is kept rather than dropped so nothing is lost: the page stage records it
    with its reason (``invalid_url: ...``, tasks/fetch/pages.py) and the entry is done, once,
    instead of vanishing silently from every run. (feedparser itself blanks links it cannot
    resolve, a broken IPv6 literal; those entries have no link left and are counted by
    ``_entries`` in the feed's warning.)
    """
    candidates = [(raw.get("link") or "").strip()]
    candidates += [
        (c.get("href") or "").strip()
        for c in raw.get("links", []) or []
        if c.get("rel", "alternate") == "alternate"
    ]
    listed = [c for c in candidates if c.startswith(("http://", "https://"))]
    usable = [c for c in listed if url_problem(c) is None]
    return (usable or listed or [None])[0]


def _when(raw: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw.get(key)
        if value:
            # feedparser gives naive UTC struct_time; timegm (not mktime) keeps it UTC.
            return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    return None


def _prolog(content: bytes) -> bytes:
    """Everything before the root element: where a DOCTYPE would declare entities."""
    match = _FIRST_ELEMENT.search(content)
    return content[: match.start()] if match else content


def _describe(problem: BaseException) -> str:
    text = str(problem).strip() or type(problem).__name__
    return text[:300]
