"""A backfill's progress in DuckDB (``backfill_jobs``, ``backfill_items``; migration 011).

A mixin of ``Warehouse``. A backfill is a job per source and window; its queued URLs are
``seen_entries`` rows with ``origin = 'backfill'`` (entry id = URL), so the page archive's own
states carry each URL from ``pending`` through ``archived`` to ``done`` in the transactions that
store its outcome (``page_store``), exactly as for feed entries: a backfill killed at any point
resumes with what is not done, and an ingest run never takes a backfill's entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from newsflow.schemas.records import FeedEntry, SitemapItem
from newsflow.tasks.warehouse.bulk import BulkStore, arrow_table

BACKFILL = "backfill"
#: A backfill entry as ``_entry`` takes it (``s``: seen_entries, ``b``: backfill_items).
_ENTRY_COLUMNS = "s.source, s.entry_id, s.url, s.title, s.published_at, b.lastmod"


def _entry(
    source: str,
    entry_id: str,
    url: str,
    title: str | None,
    published_at: datetime | None,
    lastmod: datetime | None,
) -> FeedEntry:
    """A backfill URL as the pipeline takes an entry: its date, if any, is the sitemap's."""
    return FeedEntry(
        source=source,
        entry_id=entry_id,
        url=url,
        title=title,
        published_at=published_at,
        date_source="sitemap",
        lastmod=lastmod,
    )


@dataclass(frozen=True)
class BackfillJob:
    """One backfill's row: whether its sitemaps were read and whether it is finished."""

    job_id: str
    source: str
    discovered: bool
    finished: bool
    urls_queued: int = 0


class BackfillStore(BulkStore):
    def open_backfill_job(
        self,
        job_id: str,
        source: str,
        since: datetime | None,
        until: datetime | None,
        max_items: int | None,
        now: datetime,
        run_id: str,
    ) -> BackfillJob:
        """The job's row, created (by ``run_id``) when this backfill was never started."""
        self.con.execute(
            "INSERT INTO backfill_jobs (job_id, source, since, until, max_items, started_at, "
            "run_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [job_id, source, since, until, max_items, now, run_id],
        )
        discovered, finished, queued = self.con.execute(
            "SELECT discovered_at, finished_at, coalesce(urls_queued, 0) FROM backfill_jobs "
            "WHERE job_id = ?",
            [job_id],
        ).fetchone()
        return BackfillJob(job_id, source, discovered is not None, finished is not None, queued)

    def known_page_urls(self, urls: Sequence[str]) -> set[str]:
        """Of ``urls``, those newsflow already has an entry or a page for (any source, any
        origin): a backfill does not fetch them again."""
        if not urls:
            return set()
        rows = self.con.execute(
            """
            SELECT url FROM seen_entries WHERE url IN (SELECT unnest(?))
            UNION SELECT url FROM raw_pages WHERE url IN (SELECT unnest(?))
            """,
            [list(urls), list(urls)],
        ).fetchall()
        return {url for (url,) in rows}

    def queue_backfill(
        self,
        job_id: str,
        source: str,
        run_id: str,
        items: Sequence[SitemapItem],
        *,
        documents: int,
        listed: int,
        errors: Sequence[str],
        now: datetime,
    ) -> None:
        """Queue the job's URLs and record what discovery found, in one transaction: a kill
        before it commits leaves the job undiscovered (the next run reads the sitemaps again),
        after it every URL is ``pending`` until its outcome is stored."""
        items = list({i.url: i for i in items}.values())
        with self._transaction():
            if items:
                queued = [
                    {
                        "job_id": job_id,
                        "source": source,
                        "url": i.url,
                        "sitemap_url": i.sitemap_url,
                        "title": i.title,
                        "published_at": i.published_at,
                        "lastmod": i.lastmod,
                        "queued_at": now,
                    }
                    for i in items
                ]
                self._insert("backfill_items", queued)
                entries = [
                    {
                        "source": source,
                        "entry_id": i.url,
                        "url": i.url,
                        "state": "pending",
                        "attempts": 0,
                        "first_seen_at": now,
                        "last_attempt_at": now,
                        "title": i.title,
                        # the publication date only: lastmod is not when it was published
                        "published_at": i.published_at,
                        "origin": BACKFILL,
                    }
                    for i in items
                ]
                table = arrow_table(entries, "seen_entries", self.con)
                with self._registered("_backfill", table):
                    self.con.execute(
                        f"INSERT INTO seen_entries ({', '.join(table.column_names)}) "
                        "SELECT * FROM _backfill ON CONFLICT DO NOTHING"
                    )
            self.con.execute(
                """
                UPDATE backfill_jobs SET discovered_at = ?, sitemaps_read = ?, urls_listed = ?,
                    urls_queued = ?, errors = ?, run_id = ?
                WHERE job_id = ?
                """,
                [now, documents, listed, len(items), list(errors), run_id, job_id],
            )

    def backfill_due(self, job_id: str, now: datetime) -> list[FeedEntry]:
        """The job's URLs to fetch now: ``pending`` (never requested, or a kill came first)
        and ``retry`` ones whose next attempt is due; newest sitemap date first."""
        rows = self.con.execute(
            f"""
            SELECT {_ENTRY_COLUMNS}
            FROM backfill_items b
            JOIN seen_entries s ON s.source = b.source AND s.entry_id = b.url
            WHERE b.job_id = ? AND s.origin = 'backfill'
              AND (s.state = 'pending'
                   OR (s.state = 'retry' AND coalesce(s.next_attempt_at <= ?, true)))
            ORDER BY coalesce(b.published_at, b.lastmod) DESC NULLS LAST, b.url
            """,
            [job_id, now],
        ).fetchall()
        return [_entry(*row) for row in rows]

    def backfill_entries(self, urls: Sequence[str]) -> dict[str, FeedEntry]:
        """The backfill entries of archived pages (by URL), with what their sitemap said: a
        resumed backfill finishing pages from the archive dates them as a fresh fetch would."""
        if not urls:
            return {}
        rows = self.con.execute(
            f"""
            SELECT {_ENTRY_COLUMNS}
            FROM seen_entries s
            JOIN (SELECT source, url, any_value(lastmod) AS lastmod FROM backfill_items
                  WHERE url IN (SELECT unnest(?)) GROUP BY ALL) b
              ON s.source = b.source AND s.entry_id = b.url
            WHERE s.origin = 'backfill'
            """,
            [list(urls)],
        ).fetchall()
        return {entry.url: entry for entry in (_entry(*row) for row in rows)}

    def backfill_states(self, job_id: str) -> dict[str, int]:
        """How many of the job's URLs are in each ``seen_entries`` state."""
        rows = self.con.execute(
            """
            SELECT s.state, count(*) FROM backfill_items b
            JOIN seen_entries s ON s.source = b.source AND s.entry_id = b.url
            WHERE b.job_id = ? GROUP BY ALL
            """,
            [job_id],
        ).fetchall()
        return dict(rows)

    def finish_backfill_job(self, job_id: str, now: datetime) -> None:
        self.con.execute(
            "UPDATE backfill_jobs SET finished_at = ? WHERE job_id = ? AND finished_at IS NULL",
            [now, job_id],
        )
