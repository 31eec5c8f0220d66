"""The page archive's SQL (``raw_pages``, ``seen_entries``): a mixin of ``Warehouse``.

What a page is and how it maps to archive columns is pure and lives in ``archive.py``; when a
page is due for a re-check is policy and lives in ``tasks/fetch/refetch.py``. This module only
reads and writes the rows, through the ``Warehouse``'s own connection.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from datetime import datetime

import pyarrow as pa

from newsflow.schemas.records import FeedEntry, Page, RetrySchedule
from newsflow.tasks.warehouse.archive import archive_fields, page_from_archive
from newsflow.tasks.warehouse.bulk import BulkStore, arrow_table

#: Columns ``raw_pages()`` reads, in order: the arguments of ``archive.page_from_archive``.
_ARCHIVE_KEYS = (
    "url",
    "final_url",
    "source",
    "html",
    "fetched_at",
    "charset",
    "entry_title",
    "entry_published_at",
    "entry_id",
    "run_id",
    "boilerplate_set",
    "boilerplate",
)


class PageStore(BulkStore):
    """Archiving fetched pages, reading them back for reprocessing, and the re-check queries."""

    #: How the pages this connection archives were found: ``feed`` (ingest) or ``backfill``
    #: (sitemaps; ``flows/backfill.py`` sets it). Written to ``raw_pages``, ``seen_entries``
    #: and new ``articles``; an ingest run finishes and retries only ``feed`` entries.
    origin: str = "feed"

    def save_pages(
        self, run_id: str, pages: Sequence[Page], retry: RetrySchedule | None = None
    ) -> None:
        """Archive fetched pages and record their entries, in one transaction.

        An entry is ``done`` only once its outcome is stored: a page that failed (404, not
        HTML…) has it now, its error; a page with HTML is ``archived`` until the same
        transaction that loads its article or reject, or records its extraction error, marks it
        done (``mark_entries_done``), so a run killed in between leaves it for the next run to
        finish from the archive (``unfinished_urls``). A page with ``transient`` set leaves its
        entry to be retried on a later run, from ``next_attempt_at`` (``retry``: the gap
        doubles with each attempt up to a cap; after the last allowed attempt the entry is
        ``failed``, final). ``raw_pages`` shows the attempts and the next one. Of pages
        repeated in a batch the last one counts (DuckDB's upserts would keep the first).
        """
        retry = retry or RetrySchedule()
        if not pages:
            return
        raw_rows = [
            {
                "url": p.url,
                "final_url": p.final_url,
                "source": p.source,
                "status": p.status,
                "content_type": p.content_type,
                "html": gzip.compress(p.content, 6) if p.content else None,
                "fetched_at": p.fetched_at,
                "run_id": run_id,
                "error": p.error,
                "origin": self.origin,
                **archive_fields(p),  # validators, charset, feed headline/date (schema 2)
            }
            for p in {p.url: p for p in pages}.values()
        ]
        seen_rows = [
            {
                "source": p.source,
                "entry_id": p.entry_id,
                "url": p.url,
                "state": _entry_state(p),
                "attempts": 1,
                "first_seen_at": p.fetched_at,
                "last_attempt_at": p.fetched_at,
                "title": p.entry.title if p.entry else None,
                "published_at": p.entry.published_at if p.entry else None,
                "origin": self.origin,
            }
            for p in {(p.source, p.entry_id): p for p in pages}.values()
        ]
        with self._transaction():
            self._insert("raw_pages", raw_rows, replace=True)
            seen = arrow_table(seen_rows, "seen_entries", self.con)
            with self._registered("_seen", seen):
                self.con.execute(
                    f"""
                    INSERT INTO seen_entries AS s ({", ".join(seen.column_names)})
                    SELECT * FROM _seen
                    ON CONFLICT (source, entry_id) DO UPDATE SET
                        url = excluded.url, state = excluded.state,
                        attempts = s.attempts + 1, last_attempt_at = excluded.last_attempt_at,
                        title = coalesce(s.title, excluded.title),
                        published_at = coalesce(s.published_at, excluded.published_at)
                    """
                )
                # The schedule, one rule for first and later attempts: after the n-th failed
                # attempt the next is due first_s * 2**(n-1) later, at most max_s; the attempt
                # with n = max_attempts was the last (right-hand sides read the old row).
                self.con.execute(
                    """
                    UPDATE seen_entries s SET
                        state = CASE WHEN s.state = 'retry' AND s.attempts >= ?
                                     THEN 'failed' ELSE s.state END,
                        next_attempt_at = CASE WHEN s.state = 'retry' AND s.attempts < ?
                            THEN s.last_attempt_at
                                 + to_seconds(least(? * pow(2, s.attempts - 1), ?)) END
                    FROM _seen n
                    WHERE s.source = n.source AND s.entry_id = n.entry_id
                    """,
                    [retry.max_attempts, retry.max_attempts, retry.first_s, retry.max_s],
                )
            self.con.execute(
                """
                UPDATE raw_pages r SET attempts = s.attempts, next_attempt_at = s.next_attempt_at
                FROM seen_entries s
                WHERE s.url = r.url AND r.url IN (SELECT unnest(?))
                """,
                [[r["url"] for r in raw_rows]],
            )

    def record_pending_entries(self, entries: Sequence[FeedEntry], seen_at: datetime) -> None:
        """Keep entries a feed listed and the run chose to fetch, before any page is requested
        (``pending``): should the run be killed, the next one fetches them even when their
        feed then answers 304 or no longer lists them. Entries already known are left as
        they are. The caller holds the transaction that records the feed's new validators."""
        rows = [
            {
                "source": e.source,
                "entry_id": e.entry_id,
                "url": e.url,
                "state": "pending",
                "attempts": 0,
                "first_seen_at": seen_at,
                "last_attempt_at": seen_at,
                "title": e.title,
                "published_at": e.published_at,
            }
            for e in {(e.source, e.entry_id): e for e in entries}.values()
        ]
        if not rows:
            return
        pending = arrow_table(rows, "seen_entries", self.con)
        with self._registered("_pending", pending):
            self.con.execute(
                f"INSERT INTO seen_entries ({', '.join(pending.column_names)}) "
                "SELECT * FROM _pending ON CONFLICT DO NOTHING"
            )

    def retry_failed_now(self, sources: Sequence[str]) -> int:
        """Make every failed page of ``sources`` due now (``newsflow run --retry-failed``):
        ``retry`` entries whatever their schedule, and ``failed`` ones with a fresh schedule.
        Returns how many."""
        if not sources:
            return 0
        return int(
            self.con.execute(
                """
                UPDATE seen_entries SET next_attempt_at = NULL,
                    attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END,
                    state = 'retry'
                WHERE source IN (SELECT unnest(?)) AND state IN ('retry', 'failed')
                """,
                [list(sources)],
            ).fetchone()[0]
        )

    def due_entries(self, sources: Sequence[str], now: datetime) -> list[FeedEntry]:
        """Entries of ``sources`` to fetch although their feed did not list them this run:
        ``pending`` ones a killed run left, and ``retry`` ones whose next attempt is due.
        Oldest first."""
        if not sources:
            return []
        rows = self.con.execute(
            """
            SELECT source, entry_id, url, title, published_at FROM seen_entries
            WHERE source IN (SELECT unnest(?)) AND coalesce(origin, 'feed') = ?
              AND (state = 'pending'
                   OR (state = 'retry' AND coalesce(next_attempt_at <= ?, true)))
            ORDER BY first_seen_at, source, entry_id
            """,
            [list(sources), self.origin, now],
        ).fetchall()
        return [
            FeedEntry(source=s, entry_id=e, url=u, title=t, published_at=p)
            for s, e, u, t, p in rows
        ]

    def archived_urls(
        self, *, source: str | None = None, since: datetime | None = None
    ) -> list[str]:
        """URLs of archived pages with HTML, per source oldest fetch first, for reprocessing.

        Pages whose extraction failed are included: new code may extract them now."""
        rows = self.con.execute(
            """
            SELECT url FROM raw_pages
            WHERE html IS NOT NULL
              AND (? IS NULL OR source = ?) AND (? IS NULL OR fetched_at >= ?)
            ORDER BY source, fetched_at, url
            """,
            [source, source, since, since],
        ).fetchall()
        return [url for (url,) in rows]

    def raw_pages(self, urls: Sequence[str]) -> list[Page]:
        """Archived pages as extraction takes them (HTML decompressed), in ``urls`` order, each
        with the boilerplate set its fetching run applied (archive.py); asked for a batch at a
        time so a large archive never sits in memory at once.

        The batch's rows are cut out of ``raw_pages`` before any join: joined first, every HTML
        blob of the archive travelled through the joins and ran DuckDB out of memory."""
        rows = self.con.execute(
            """
            WITH r AS MATERIALIZED (
                SELECT url, final_url, source, html, fetched_at, charset, entry_title,
                       entry_published_at, run_id
                FROM raw_pages WHERE html IS NOT NULL AND url IN (SELECT unnest(?)))
            SELECT r.url, r.final_url, r.source, r.html, r.fetched_at, r.charset,
                   r.entry_title, r.entry_published_at, s.entry_id, r.run_id, b.set_id,
                   b.line_hashes
            FROM r
            LEFT JOIN (SELECT url, source, min(entry_id) AS entry_id FROM seen_entries
                       WHERE url IN (SELECT unnest(?)) GROUP BY ALL) s USING (url, source)
            LEFT JOIN (SELECT run_id, source, set_id, line_hashes
                       FROM run_boilerplate JOIN boilerplate_sets USING (source, set_id)) b
                   USING (run_id, source)
            """,
            [list(urls), list(urls)],
        ).fetchall()
        found = {
            row[0]: page_from_archive(**dict(zip(_ARCHIVE_KEYS, row, strict=True))) for row in rows
        }
        return [found[url] for url in urls if url in found]

    def clear_page_errors(self, urls: Iterable[str]) -> None:
        """Forget an old extraction error of pages that now gave an article (reprocess)."""
        urls = list(urls)
        if urls:
            self.con.execute(
                "UPDATE raw_pages SET error = NULL WHERE error IS NOT NULL "
                "AND url IN (SELECT unnest(?))",
                [urls],
            )

    def mark_page_errors(self, errors: dict[str, str]) -> None:
        """Record why fetched pages gave no article (extraction empty, not an article…)."""
        if not errors:
            return
        table = pa.table({"url": list(errors), "reason": list(errors.values())})
        with self._registered("_errors", table), self._transaction():
            self.con.execute(
                "UPDATE raw_pages SET error = e.reason FROM _errors e WHERE raw_pages.url = e.url"
            )

    def mark_entries_done(self, pages: Sequence[Page]) -> None:
        """The archived entries of ``pages`` are done: called inside the transaction that
        stores their outcome (``Warehouse.batch``), never before it."""
        keys = {(p.source, p.entry_id) for p in pages if p.entry_id}
        if not keys:
            return
        sources, entry_ids = zip(*keys, strict=True)
        table = pa.table({"source": list(sources), "entry_id": list(entry_ids)})
        with self._registered("_done", table), self._transaction():
            self.con.execute(
                """
                UPDATE seen_entries SET state = 'done' FROM _done d
                WHERE seen_entries.source = d.source AND seen_entries.entry_id = d.entry_id
                  AND seen_entries.state = 'archived'
                """
            )

    def unfinished_urls(self) -> list[str]:
        """Archived pages whose outcome was never stored (their run was killed between archiving
        and loading them), per source oldest fetch first: the next run finishes them from the
        archive instead of fetching them again."""
        rows = self.con.execute(
            """
            SELECT r.url FROM raw_pages r
            WHERE r.html IS NOT NULL AND coalesce(r.origin, 'feed') = ? AND EXISTS (
                SELECT 1 FROM seen_entries s
                WHERE s.source = r.source AND s.url = r.url AND s.state = 'archived')
            ORDER BY r.source, r.fetched_at, r.url
            """,
            [self.origin],
        ).fetchall()
        return [url for (url,) in rows]

    # -- re-checks (the policy is tasks/fetch/refetch.py) -------------------------------------

    def recheck_candidates(
        self,
        sources: Sequence[str],
        *,
        first_seen_since: datetime,
        checked_before: datetime,
        limit: int,
    ) -> list[tuple[FeedEntry, str | None, str | None]]:
        """Archived pages of ``sources`` that were fine, first seen since ``first_seen_since``
        and last fetched or checked before ``checked_before``, least recently checked first:
        each page's feed entry with its stored ETag and Last-Modified."""
        rows = self.con.execute(
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
            [list(sources), first_seen_since, checked_before, limit],
        ).fetchall()
        return [
            (
                FeedEntry(
                    source=source, entry_id=entry_id, url=url, title=title, published_at=published
                ),
                etag,
                last_modified,
            )
            for source, entry_id, url, etag, last_modified, title, published in rows
        ]

    def record_rechecks(self, pages: Sequence[Page]) -> None:
        """Note the re-check of archived pages that gave no new body, leaving their HTML as it
        is: a ``304`` also refreshes the validators it sent, a failure keeps the old ones."""
        if not pages:
            return
        self.con.executemany(
            """
            UPDATE raw_pages SET checked_at = ?,
                etag = CASE WHEN ? = 304 THEN coalesce(?, etag) ELSE etag END,
                last_modified = CASE WHEN ? = 304 THEN coalesce(?, last_modified)
                                     ELSE last_modified END
            WHERE url = ?
            """,
            [[p.fetched_at, p.status, p.etag, p.status, p.last_modified, p.url] for p in pages],
        )


def _entry_state(page: Page) -> str:
    """``seen_entries.state`` as the page is archived: ``retry`` after a transient failure,
    ``done`` when the failure itself is the outcome, ``archived`` while its HTML awaits one."""
    if page.transient:
        return "retry"
    return "archived" if page.has_html else "done"
