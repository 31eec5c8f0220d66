"""Re-checking recent articles, so an edit made on the site after the first fetch is caught.

A feed lists an article once; when the newsroom corrects it an hour later the feed often does
not change at all (and answers ``304``), so newsflow would never see version 2. So each run also
re-requests the pages it first saw recently, politely and cheaply:

* only pages first seen within ``fetch.refetch_window_h`` hours (default 24: most corrections
  come the same day), at most once per ``fetch.refetch_interval_min`` minutes each (default
  120), and at most ``fetch.refetch_max_pages`` per run, least recently checked first;
* as a conditional GET: the page's stored ``ETag`` goes back as ``If-None-Match`` and its
  ``Last-Modified`` as ``If-Modified-Since`` (``feeds.conditional_headers``, as for feeds), so
  an unchanged page costs a ``304`` with no body;
* a changed page (``200``) goes through the same archive → extract → validate → load path as a
  new one, where a different ``content_hash`` makes version 2 (``article_versions`` keeps both);
* a ``304`` or a failure only records the check (``raw_pages.checked_at``): a failed re-check
  never overwrites the archived HTML of a page that was fine.

With the defaults each article is re-checked at most 12 times. ``refetch_window_h = 0`` turns
re-checking off. Re-checks ride in the normal page batches: one Prefect task per batch.

This module is the policy; the queries are ``Warehouse`` methods (tasks/warehouse/page_store.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from newsflow.schemas.config import FetchConfig
from newsflow.schemas.records import FeedEntry, Page
from newsflow.tasks.fetch.feeds import conditional_headers

if TYPE_CHECKING:
    from newsflow.tasks.warehouse.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass
class Rechecks:
    """Pages due for a re-check: their entries, and the conditional headers for each URL."""

    entries: list[FeedEntry] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)


def due_for_recheck(
    warehouse: Warehouse, fetch: FetchConfig, sources: Sequence[str], now: datetime
) -> Rechecks:
    """Archived article pages of ``sources`` that the re-check policy says to ask for again."""
    if fetch.refetch_window_h <= 0 or fetch.refetch_max_pages <= 0 or not sources:
        return Rechecks()
    candidates = warehouse.recheck_candidates(
        sources,
        first_seen_since=now - timedelta(hours=fetch.refetch_window_h),
        checked_before=now - timedelta(minutes=fetch.refetch_interval_min),
        limit=fetch.refetch_max_pages,
    )
    due = Rechecks()
    for entry, etag, last_modified in candidates:
        due.entries.append(entry)
        due.headers[entry.url] = conditional_headers(etag, last_modified)
    return due


def keep_changed(warehouse: Warehouse, pages: Sequence[Page]) -> list[Page]:
    """Split re-checked pages: return those that came back with a body (to archive and load),
    and record the check of the rest (304 Not Modified, or a failure) without touching their
    archived HTML."""
    changed = [p for p in pages if p.has_html]
    rest = [p for p in pages if not p.has_html]
    not_modified = sum(1 for p in rest if p.status == 304)
    warehouse.record_rechecks(rest)
    if pages:
        log.info(
            "re-checked %d pages: %d not modified, %d answered with a body, %d failed",
            len(pages),
            not_modified,
            len(changed),
            len(rest) - not_modified,
        )
    return changed
