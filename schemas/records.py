"""Typed records that flow between the pipeline's stages.

Each stage is a pure function from one of these to the next; tasks and flows only move them
around. Keeping them plain (pydantic models that serialise to dicts) means a batch can become
a DataFrame for Great Expectations or an Arrow table for DuckDB without per-row glue. ``Page``
is a slotted dataclass instead: thousands are made per run on the fetch path, from values that
are already typed, so pydantic's validation would cost time and check nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field


class Caption(BaseModel):
    """A photo caption kept apart from the body: what the picture shows, who took it, where."""

    text: str
    credit: str | None = None
    image_url: str | None = None


class FetchResult(BaseModel):
    """What the one HTTP client returns. It never raises for a network problem: ``error`` says
    what went wrong in words an on-call person can act on, and ``status`` is None when no
    response was received at all."""

    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)  # lower-cased names
    content: bytes = b""
    error: str | None = None
    elapsed_ms: int = 0
    redirects: list[tuple[int, str]] = Field(default_factory=list)  # (status, location) per hop

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class FeedEntry(BaseModel):
    """One item of a feed, before its page is fetched."""

    source: str
    entry_id: str  # GUID, else link, else a hash of title + date
    url: str
    title: str | None = None
    published_at: datetime | None = None
    # Where ``published_at`` comes from when the page declares no date: ``feed``, or
    # ``sitemap`` for a backfill's URL (``articles.published_at_source``).
    date_source: str = "feed"
    # A sitemap's <lastmod> (backfill): when the page last changed, never taken as its date;
    # an article whose page and sitemap give no publication date but this is flagged.
    lastmod: datetime | None = None


#: How extraction's error begins for an HTML page that gave no article text (only a title,
#: captions or page chrome, or nothing at all). Such a page is still a record for the row suite:
#: it fails ``body_present`` and is kept in ``rejected_articles`` with what extraction found.
NO_TEXT_ERROR = "no article text"


class ExtractedArticle(BaseModel):
    """A page after extraction and cleaning: the fields analysts query, or an ``error``."""

    url: str
    canonical_url: str | None = None
    title: str | None = None
    text: str = ""  # body only: no title, no captions, no chrome; paragraphs joined by "\n"
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    # Where ``published_at`` came from (``articles.published_at_source``): json-ld, meta,
    # visible-text or guessed from the page; the loader says feed when the feed's date is used.
    published_at_source: str | None = None
    language: str | None = None
    captions: list[Caption] = Field(default_factory=list)
    description: str | None = None
    sitename: str | None = None
    # Hashes of the body's normalised lines *before* per-source chrome was stripped: the loader
    # counts them per source so that lines recurring across a site's articles can be learnt.
    line_hashes: list[str] = Field(default_factory=list)
    error: str | None = None

    @property
    def no_text(self) -> bool:
        """An HTML page that extraction read but that has no body (see :data:`NO_TEXT_ERROR`)."""
        return self.error is not None and self.error.startswith(NO_TEXT_ERROR)


@dataclass(frozen=True)
class RetrySchedule:
    """When a page that failed for a reason that may pass is requested again: ``first_s``
    after the first failure, doubling with each later one up to ``max_s``, and no more than
    ``max_attempts`` requests in all (``[fetch] page_retry_*`` in the config)."""

    first_s: float = 15 * 60.0
    max_s: float = 6 * 3600.0
    max_attempts: int = 6


@dataclass(slots=True)
class Page:
    """One article page between fetch and load: fetched in this run (``tasks/fetch/pages.py``
    makes it) or read back from the ``raw_pages`` archive (``tasks/warehouse/archive.py``).

    Either it carries ``content`` (HTML to extract) or an ``error`` saying why there is none.
    The archive stores it as one ``raw_pages`` row and one ``seen_entries`` row.
    """

    source: str
    entry_id: str
    url: str  # the feed entry's link: the page's key in the archive
    final_url: str  # after redirects: what extraction resolves links and canonical URLs against
    fetched_at: datetime
    status: int | None = None  # HTTP status; None when no answer came (or none was asked for)
    content_type: str | None = None  # the answer's media type, without parameters
    charset: str | None = None  # the Content-Type header's charset label (headers lie: see charset)
    content: bytes | None = None  # the HTML; None when there is an error
    error: str | None = None  # why the page gives no article, in words on-call can act on
    transient: bool = False  # a later run may succeed: the entry is retried
    entry: FeedEntry | None = None  # the feed's headline and date fill what the page leaves out
    # The answer's validators, kept so a later re-check can be a conditional GET:
    etag: str | None = None
    last_modified: str | None = None
    # Archived pages only: the run that fetched the page and the boilerplate set it applied
    # (``boilerplate_set`` None: not recorded, so what is learnt now applies).
    run_id: str | None = None
    boilerplate_set: str | None = None
    boilerplate: frozenset[str] = frozenset()

    @property
    def has_html(self) -> bool:
        """Whether there is a body to extract (an error, or an empty body, leaves none)."""
        return self.error is None and bool(self.content)


@dataclass(frozen=True, slots=True)
class SitemapItem:
    """One article URL a sitemap lists, with what the sitemap says about it
    (``tasks/fetch/sitemaps.py``). ``published_at`` is ``news:publication_date`` (Google News
    sitemaps); ``lastmod`` is when the page last changed, which is not when it was published,
    so it is kept apart and never used as the article's date."""

    url: str
    sitemap_url: str
    published_at: datetime | None = None
    lastmod: datetime | None = None
    title: str | None = None  # news:title

    @property
    def window_date(self) -> datetime | None:
        """The date the backfill window is judged on: the publication date, else lastmod."""
        return self.published_at or self.lastmod
