"""Typed records that flow between the pipeline's stages.

Each stage is a pure function from one of these to the next; tasks and flows only move them
around. Keeping them plain (pydantic models that serialise to dicts) means a batch can become
a DataFrame for Great Expectations or an Arrow table for DuckDB without per-row glue.
"""

from __future__ import annotations

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


class ExtractedArticle(BaseModel):
    """A page after extraction and cleaning: the fields analysts query, or an ``error``."""

    url: str
    canonical_url: str | None = None
    title: str | None = None
    text: str = ""  # body only: no title, no captions, no chrome; paragraphs joined by "\n"
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    captions: list[Caption] = Field(default_factory=list)
    description: str | None = None
    sitename: str | None = None
    # Hashes of the body's normalised lines *before* per-source chrome was stripped: the loader
    # counts them per source so that lines recurring across a site's articles can be learnt.
    line_hashes: list[str] = Field(default_factory=list)
    error: str | None = None
