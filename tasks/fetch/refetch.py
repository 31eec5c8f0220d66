"""Re-checking recent articles, so an edit made on the site after the first fetch is caught.

A feed lists an article once; when the newsroom corrects it an hour later the feed often does
not change at all (and answers ``304``), so newsflow would never see version 2. So each run also
re-requests the pages it first saw recently, politely and cheaply:

* only pages first seen within ``fetch.refetch_window_h`` hours (default 24: most corrections
  come the same day), at most once per ``fetch.refetch_interval_min`` minutes each (default
  120), and at most ``fetch.refetch_max_pages`` per run, least recently checked first;
* as a conditional GET: the page's stored ``ETag`` goes back as ``If-None-Match`` and its
  ``Last-Modified`` as ``If-Modified-Since``, so an unchanged page costs a ``304`` with no body;
* a changed page (``200``) goes through the same archive → extract → validate → load path as a
  new one, where a different ``content_hash`` makes version 2 (``article_versions`` keeps both);
* a ``304`` or a failure only records the check (``raw_pages.checked_at``): a failed re-check
  never overwrites the archived HTML of a page that was fine.

With the defaults each article is re-checked at most 12 times. ``refetch_window_h = 0`` turns
re-checking off. Re-checks ride in the normal page batches: one Prefect task per batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from newsflow.schemas.config import FetchConfig
from newsflow.schemas.records import FeedEntry, FetchResult
from newsflow.tasks.warehouse.warehouse import Warehouse

log = logging.getLogger(__name__)

Getter = Callable[[str, dict[str, str]], FetchResult]


@dataclass
class Rechecks:
    """Pages due for a re-check: their entries, and the conditional headers for each URL."""

    entries: list[FeedEntry] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The validators of the last answer, sent back so an unchanged page answers 304."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def due_for_recheck(
    warehouse: Warehouse, fetch: FetchConfig, sources: Sequence[str], now: datetime
) -> Rechecks:
    """Archived article pages of ``sources`` that the re-check policy says to ask for again."""
    if fetch.refetch_window_h <= 0 or fetch.refetch_max_pages <= 0 or not sources:
        return Rechecks()
    rows = warehouse.con.execute(
        """
        SELECT r.source, s.entry_id, r.url, r.etag, r.last_modified,
               r.entry_title, r.entry_published_at
        FROM raw_pages r
        JOIN (SELECT source, url, min(entry_id) AS entry_id, min(first_seen_at) AS first_seen_at
              FROM seen_entries GROUP BY ALL) s USING (source, url)
        WHERE r.html IS NOT NULL AND r.error IS NULL
          AND r.source IN (SELECT unnest(?))
          AND s.first_seen_at >= ?
          AND coalesce(r.checked_at, r.fetched_at) <= ?
        ORDER BY coalesce(r.checked_at, r.fetched_at), r.url
        LIMIT ?
        """,
        [
            list(sources),
            now - timedelta(hours=fetch.refetch_window_h),
            now - timedelta(minutes=fetch.refetch_interval_min),
            fetch.refetch_max_pages,
        ],
    ).fetchall()
    due = Rechecks()
    for source, entry_id, url, etag, last_modified, title, published in rows:
        due.entries.append(
            FeedEntry(
                source=source, entry_id=entry_id, url=url, title=title, published_at=published
            )
        )
        due.headers[url] = conditional_headers(etag, last_modified)
    return due


class ValidatorRecorder:
    """Wraps the page getter: adds each URL's conditional headers to the request and notes the
    ETag and Last-Modified of each answer, which ``annotate`` then puts on the page dicts (the
    archive stores them for the next re-check)."""

    def __init__(
        self, get: Getter, base_headers: Mapping[str, str], extra: Mapping[str, Mapping[str, str]]
    ) -> None:
        self._get = get
        self._base = dict(base_headers)
        self._extra = extra
        self._seen: dict[str, tuple[str | None, str | None]] = {}

    def __call__(self, url: str) -> FetchResult:
        result = self._get(url, {**self._base, **self._extra.get(url, {})})
        self._seen[url] = (result.headers.get("etag"), result.headers.get("last-modified"))
        return result

    def annotate(self, pages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for page in pages:
            etag, last_modified = self._seen.get(page["url"], (None, None))
            out.append({**page, "etag": etag, "last_modified": last_modified})
        return out


def keep_changed(warehouse: Warehouse, pages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Split re-checked pages: return those that came back with a body (to archive and load),
    and record the check of the rest (304 Not Modified, or a failure) without touching their
    archived HTML."""
    changed = [p for p in pages if p["error"] is None and p.get("content")]
    rest = [p for p in pages if not (p["error"] is None and p.get("content"))]
    not_modified = sum(1 for p in rest if p["status"] == 304)
    if rest:
        warehouse.con.executemany(
            """
            UPDATE raw_pages SET checked_at = ?,
                etag = CASE WHEN ? = 304 THEN coalesce(?, etag) ELSE etag END,
                last_modified = CASE WHEN ? = 304 THEN coalesce(?, last_modified)
                                     ELSE last_modified END
            WHERE url = ?
            """,
            [
                [
                    p["fetched_at"],
                    p["status"],
                    p.get("etag"),
                    p["status"],
                    p.get("last_modified"),
                    p["url"],
                ]
                for p in rest
            ],
        )
    if pages:
        log.info(
            "re-checked %d pages: %d not modified, %d answered with a body, %d failed",
            len(pages),
            not_modified,
            len(changed),
            len(rest) - not_modified,
        )
    return changed
