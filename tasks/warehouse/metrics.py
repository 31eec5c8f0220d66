"""The measurements behind the table checks, one query per subject, grouped by source.

``tasks/quality/table_checks.py`` turns these plain rows into the per-source frame the table
suite validates; the SQL lives here so the quality stage never writes a query. Each method
answers for the ``sources`` asked (sources with nothing to count are absent) and caps its
sample URL lists at ``samples``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from newsflow.tasks.warehouse.bulk import BulkStore


class TableMetrics(BulkStore):
    def _by_source(self, sql: str, params: Sequence[Any]) -> dict[str, tuple[Any, ...]]:
        return {row[0]: row[1:] for row in self.con.execute(sql, list(params)).fetchall()}

    def article_totals(self, sources: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """Per source: (articles, newest publication or first-seen time, that article's URL)."""
        return self._by_source(
            """
            SELECT source, count(*), max(coalesce(published_at, first_seen_at)),
                   arg_max(url, coalesce(published_at, first_seen_at))
            FROM articles WHERE source IN (SELECT unnest(?)) GROUP BY source
            """,
            [list(sources)],
        )

    def run_accepted(
        self, run_id: str | None, sources: Sequence[str], samples: int
    ) -> dict[str, tuple[Any, ...]]:
        """Per source, of the articles ``run_id`` loaded: (count, without authors, their
        URLs, without a publication time, their URLs)."""
        return self._by_source(
            """
            SELECT source, count(*),
                   count(*) FILTER (WHERE authors IS NULL OR len(authors) = 0),
                   (list(url ORDER BY url)
                       FILTER (WHERE authors IS NULL OR len(authors) = 0))[1:?],
                   count(*) FILTER (WHERE published_at IS NULL),
                   (list(url ORDER BY url) FILTER (WHERE published_at IS NULL))[1:?]
            FROM articles WHERE run_id = ? AND source IN (SELECT unnest(?)) GROUP BY source
            """,
            [samples, samples, run_id, list(sources)],
        )

    def run_rejected(
        self, run_id: str | None, sources: Sequence[str], samples: int
    ) -> dict[str, tuple[Any, ...]]:
        """Per source, of ``run_id``: (rows the row suite rejected, pages that answered 200 but
        gave no article, their URLs with rejected rows first).

        A page that gave no article (not HTML, no text left after cleaning) counts: a source
        whose layout changed loses its articles here or in the row checks."""
        return self._by_source(
            """
            SELECT source, count(*) FILTER (WHERE why = 'row'),
                   count(*) FILTER (WHERE why = 'page'),
                   (list(url ORDER BY why DESC, url))[1:?]
            FROM (
                SELECT source, url, 'row' AS why FROM rejected_articles WHERE run_id = ?
                UNION ALL
                SELECT source, url, 'page' FROM raw_pages
                WHERE run_id = ? AND status = 200 AND error IS NOT NULL
            ) WHERE source IN (SELECT unnest(?)) GROUP BY source
            """,
            [samples, run_id, run_id, list(sources)],
        )

    def run_page_errors(
        self, run_id: str | None, sources: Sequence[str], samples: int
    ) -> dict[str, tuple[Any, ...]]:
        """Per source, of the pages ``run_id`` fetched: (pages, pages that did not answer 200
        (an HTTP error, a timeout, refused by the address guard or robots.txt), their URLs).

        The complement of :meth:`run_rejected`, which counts only pages that answered 200: a
        source whose every page is a 404 loads nothing and rejects nothing."""
        return self._by_source(
            """
            SELECT source, count(*),
                   count(*) FILTER (WHERE failed),
                   (list(url ORDER BY url) FILTER (WHERE failed))[1:?]
            FROM (
                SELECT source, url, error IS NOT NULL AND coalesce(status, 0) <> 200 AS failed
                FROM raw_pages WHERE run_id = ? AND source IN (SELECT unnest(?))
            ) GROUP BY source
            """,
            [samples, run_id, list(sources)],
        )

    def entries_tried_before(self, entries: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Of ``(source, entry_id)`` pairs, those whose page an earlier run already tried to
        fetch (``seen_entries``): a run's retries, which the dead-run rule leaves out
        (flows/outcome.py)."""
        if not entries:
            return set()
        rows = self.con.execute(
            """
            SELECT s.source, s.entry_id
            FROM seen_entries s
            JOIN (SELECT unnest(?) AS source, unnest(?) AS entry_id) q USING (source, entry_id)
            WHERE s.attempts > 0  -- pending entries were listed, never requested
            """,
            [[source for source, _ in entries], [entry for _, entry in entries]],
        ).fetchall()
        return {(source, entry) for source, entry in rows}

    def duplicate_urls(self, samples: int) -> dict[str, tuple[Any, ...]]:
        """Per source: (its articles whose URL another article has too, those URLs)."""
        return self._by_source(
            """
            WITH dup AS (SELECT url FROM articles GROUP BY url HAVING count(*) > 1)
            SELECT a.source, count(*), array_sort(list_distinct(list(a.url)))[1:?]
            FROM articles a JOIN dup USING (url) GROUP BY a.source
            """,
            [samples],
        )

    def new_articles_by_run(
        self, sources: Sequence[str], runs: Sequence[str]
    ) -> dict[tuple[str, str], int]:
        """(source, run) → articles that run loaded for the first time, for ``runs`` only:
        the volume check's history is a bounded number of runs, and joining every version
        with every article would cost what the whole warehouse holds."""
        if not runs:
            return {}
        rows = self.con.execute(
            """
            SELECT a.source, v.run_id, count(*)
            FROM (SELECT article_id, run_id FROM article_versions
                  WHERE version = 1 AND run_id IN (SELECT unnest(?))) v
            JOIN articles a USING (article_id)
            WHERE a.source IN (SELECT unnest(?))
            GROUP BY ALL
            """,
            [list(dict.fromkeys(runs)), list(sources)],
        ).fetchall()
        return {(source, run): n for source, run, n in rows}

    def sources_with_new_entries(self, run_id: str) -> set[str]:
        """Sources whose feed listed new entries in ``run_id``."""
        rows = self.con.execute(
            "SELECT source FROM feed_fetches WHERE run_id = ? AND new_entries > 0", [run_id]
        ).fetchall()
        return {source for (source,) in rows}

    def earlier_runs_with_new_entries(
        self, run_id: str, sources: Sequence[str], depth: int
    ) -> dict[str, list[str]]:
        """Per source, newest first: up to ``depth`` runs before ``run_id`` in which its feed
        listed new entries."""
        history: dict[str, list[str]] = {}
        for source, run in self.con.execute(
            """
            SELECT source, run_id FROM (
                SELECT f.source, f.run_id,
                       row_number() OVER (PARTITION BY f.source ORDER BY f.fetched_at DESC) AS n
                FROM feed_fetches f
                WHERE f.new_entries > 0 AND f.run_id <> ? AND f.source IN (SELECT unnest(?))
                  AND f.fetched_at < coalesce(
                      (SELECT min(fetched_at) FROM feed_fetches WHERE run_id = ?), now())
            ) WHERE n <= ? ORDER BY source, n
            """,
            [run_id, list(sources), run_id, depth],
        ).fetchall():
            history.setdefault(source, []).append(run)
        return history
