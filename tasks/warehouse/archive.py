"""The raw page archive (``raw_pages``): what a run keeps of each fetched page.

Two later jobs depend on it. ``newsflow reprocess`` reruns extract → clean → validate → load
from the archive with no network, so the archive must hold every input extraction saw: the
HTML, the URL after redirects, the header's charset label and the feed entry's own headline and
date (the page's metadata wins, the feed's fills the gaps). And the next ingest re-checks recent
pages with a conditional GET, so it keeps the page's ETag and Last-Modified.

One more input is not in the page: the per-source boilerplate (site chrome learnt from the
articles stored so far, ``tasks/extract/boilerplate.py``) that the run applied. It grows as articles
arrive, so re-extracting an old page with what is learnt *now* would strip lines the original
run kept, and reprocessing would not reproduce ``articles``. So each ingest run records the set
it applied per source (``run_boilerplate``, each distinct set stored once in
``boilerplate_sets``), and reprocessing applies to every page the set of the run that fetched
it. Reprocessing therefore isolates changes in *code*; learnt chrome reaches pages as they are
fetched. (Pages fetched before schema 2 have no recorded set and get what is learnt now.)

The page functions are pure, between the ``Page`` records the pipeline passes around
(schemas/records.py; made from a fetch by ``tasks/fetch/pages.py``) and archive rows;
``Warehouse.save_pages`` and ``Warehouse.raw_pages`` (page_store.py) do their SQL, and
``Warehouse.save_run_boilerplate`` (:class:`RunBoilerplateStore`) records the sets.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from newsflow.schemas.records import FeedEntry, Page
from newsflow.tasks.warehouse.bulk import BulkStore


def archive_fields(page: Page) -> dict[str, Any]:
    """The ``raw_pages`` columns of schema 2 for one fetched page."""
    entry = page.entry
    return {
        "etag": page.etag,
        "last_modified": page.last_modified,
        "checked_at": page.fetched_at,
        "charset": page.charset,
        "entry_title": entry.title if entry is not None else None,
        "entry_published_at": entry.published_at if entry is not None else None,
    }


def page_from_archive(
    *,
    url: str,
    final_url: str | None,
    source: str,
    html: bytes,
    fetched_at: datetime,
    charset: str | None = None,
    entry_title: str | None = None,
    entry_published_at: datetime | None = None,
    entry_id: str | None = None,
    run_id: str | None = None,
    boilerplate_set: str | None = None,
    boilerplate: list[str] | None = None,
) -> Page:
    """The one place an archived page is made: the same ``Page`` extraction took when it was
    fetched, with the boilerplate set its fetching run applied (``boilerplate_set`` None: not
    recorded)."""
    return Page(
        source=source,
        entry_id=entry_id or url,
        url=url,
        final_url=final_url or url,
        fetched_at=fetched_at,
        status=200,
        charset=charset,
        content=gzip.decompress(html),
        entry=FeedEntry(
            source=source,
            entry_id=entry_id or url,
            url=url,
            title=entry_title,
            published_at=entry_published_at,
        ),
        run_id=run_id,
        boilerplate_set=boilerplate_set,
        boilerplate=frozenset(boilerplate or ()),
    )


def since_datetime(since: str | date | datetime | None) -> datetime | None:
    """``--since`` as a UTC datetime: a date means its midnight UTC; naive times are UTC."""
    if since is None or since == "":
        return None
    if isinstance(since, str):
        since = datetime.fromisoformat(since)
    if not isinstance(since, datetime):
        since = datetime(since.year, since.month, since.day)
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def boilerplate_set_id(line_hashes: frozenset[str]) -> str:
    """A stable id for a set of line hashes (empty set included)."""
    return hashlib.sha256("\n".join(sorted(line_hashes)).encode()).hexdigest()[:16]


class RunBoilerplateStore(BulkStore):
    """The ``Warehouse`` mixin that records which boilerplate set each run applied."""

    def line_doc_frequencies(
        self, sources: Sequence[str], *, min_docs: int, limit_articles: int = 500
    ) -> dict[str, tuple[int, dict[str, int]]]:
        """Per source: how many of its ``limit_articles`` most recently seen articles have
        stored lines, and in how many of them each line hash recurs (hashes in fewer than
        ``min_docs`` left out). One query for every source, so a thousand sources cost one
        scan, not a thousand."""
        if not sources:
            return {}
        rows = self.con.execute(
            """
            WITH recent AS (
                SELECT source, article_id FROM articles
                WHERE source IN (SELECT unnest(?))
                QUALIFY row_number() OVER (
                    PARTITION BY source ORDER BY last_seen_at DESC, article_id) <= ?
            ),
            lines AS (
                SELECT l.source, l.article_id, l.line_hash
                FROM source_lines l JOIN recent r USING (source, article_id)
            ),
            docs AS (SELECT source, count(DISTINCT article_id) AS n FROM lines GROUP BY source),
            freq AS (
                SELECT source, line_hash, count(*) AS df FROM lines
                GROUP BY source, line_hash HAVING count(*) >= ?
            )
            SELECT d.source, d.n, coalesce(list(f.line_hash) FILTER (f.line_hash IS NOT NULL), []),
                   coalesce(list(f.df) FILTER (f.line_hash IS NOT NULL), [])
            FROM docs d LEFT JOIN freq f USING (source)
            GROUP BY d.source, d.n
            """,
            [list(sources), limit_articles, min_docs],
        ).fetchall()
        return {
            source: (int(n), dict(zip(hashes, counts, strict=True)))
            for source, n, hashes, counts in rows
        }

    def unchanged_boilerplate(self, sources: Sequence[str]) -> dict[str, frozenset[str]]:
        """The set each source's latest run applied, for the sources with no article seen or
        changed since that run started: learning again would give the same set."""
        if not sources:
            return {}
        rows = self.con.execute(
            """
            WITH latest AS (
                SELECT b.source, b.set_id, p.started_at
                FROM run_boilerplate b JOIN pipeline_runs p USING (run_id)
                WHERE b.source IN (SELECT unnest(?))
                QUALIFY row_number() OVER (PARTITION BY b.source ORDER BY p.started_at DESC) = 1
            ),
            seen AS (
                SELECT source, max(last_seen_at) AS last_seen FROM articles
                WHERE source IN (SELECT unnest(?)) GROUP BY source
            )
            SELECT l.source, s.line_hashes
            FROM latest l JOIN boilerplate_sets s USING (source, set_id)
            LEFT JOIN seen USING (source)
            WHERE seen.last_seen IS NULL OR seen.last_seen < l.started_at
            """,
            [list(sources), list(sources)],
        ).fetchall()
        return {source: frozenset(hashes) for source, hashes in rows}

    def save_run_boilerplate(self, run_id: str, boilerplate: Mapping[str, frozenset[str]]) -> None:
        """Record the boilerplate set ``run_id`` applies to each source (each set stored once)."""
        if not boilerplate:
            return
        rows = [
            {"source": source, "set_id": boilerplate_set_id(hashes), "line_hashes": sorted(hashes)}
            for source, hashes in boilerplate.items()
        ]
        table = pa.Table.from_pylist(rows, schema=_SETS)
        with self._registered("_sets", table), self._transaction():
            self.con.execute(
                "INSERT INTO boilerplate_sets (source, set_id, line_hashes) "
                "SELECT source, set_id, line_hashes FROM _sets ON CONFLICT DO NOTHING"
            )
            self.con.execute(
                "INSERT OR REPLACE INTO run_boilerplate (run_id, source, set_id) "
                "SELECT ?, source, set_id FROM _sets",
                [run_id],
            )


_SETS = pa.schema(
    [("source", pa.string()), ("set_id", pa.string()), ("line_hashes", pa.list_(pa.string()))]
)


def split_by_boilerplate(
    pages: list[Page], current: Mapping[str, frozenset[str]]
) -> list[tuple[list[Page], dict[str, frozenset[str]]]]:
    """Cut a batch of archived pages into as few groups as possible in which every source has
    one boilerplate set, each group with its source → set mapping for extraction. A page whose
    run recorded no set gets ``current`` (what is learnt now) for its source."""
    groups: list[tuple[list[Page], dict[str, str], dict[str, frozenset[str]]]] = []
    for page in pages:
        source = page.source
        if page.boilerplate_set is None:
            key, hashes = "current", current.get(source, frozenset())
        else:
            key, hashes = page.boilerplate_set, page.boilerplate
        for members, keys, sets in groups:
            if keys.setdefault(source, key) == key:
                sets[source] = hashes
                members.append(page)
                break
        else:
            groups.append(([page], {source: key}, {source: hashes}))
    return [(members, sets) for members, _, sets in groups]
