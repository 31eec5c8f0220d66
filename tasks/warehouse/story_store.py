"""Story clusters in DuckDB: the reads and writes behind ``story_clusters``.

A mixin of ``Warehouse``. The clustering itself is pure (``tasks/stories/clusters.py``) and its
orchestration is the stories stage's (``tasks/stories/tasks.py``); this module only moves rows,
so the warehouse never imports the stories stage: MinHash signatures arrive as the bytes the
stage made of them, cluster members as plain rows.

``article_fingerprints`` caches each article's signature with the ``content_hash`` it was
computed from, so a run hashes only the articles it loaded or changed, and with the article's
``first_seen_at``, so the signatures of a time window are read from that table alone: its rows
arrive in first-seen order, and DuckDB's zone maps skip the rest of the table. Reads by id take
such a window too (``within``) for the same reason: a lookup by id alone scans a column of the
whole table. ``story_state`` records up to when the clusters are current.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from newsflow.tasks.warehouse.bulk import BulkStore

_FINGERPRINTS = pa.schema(
    [
        ("article_id", pa.string()),
        ("content_hash", pa.string()),
        ("minhash", pa.binary()),
        ("first_seen_at", pa.timestamp("us", tz="UTC")),
    ]
)
_MEMBERS = pa.schema(
    [
        ("cluster_id", pa.string()),
        ("article_id", pa.string()),
        ("source", pa.string()),
        ("similarity", pa.float64()),
        ("cluster_size", pa.int32()),
        ("cluster_sources", pa.int32()),
        ("clustered_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
    ]
)
_MEMBER_COLUMNS = _MEMBERS.names[:6]

#: An optional (first, last) first_seen_at bound on a read by id (see the module docstring).
Within = tuple[datetime, datetime] | None


@dataclass(frozen=True)
class StoryState:
    """Up to when ``story_clusters`` reflects ``articles``, and with which settings."""

    checked_through: datetime
    settings: str


@dataclass(frozen=True)
class ArticleSpan:
    """How many articles a refresh must reconsider, and the first_seen_at range they span."""

    count: int
    first: datetime | None
    last: datetime | None


def _within(column: str, within: Within) -> tuple[str, list[Any]]:
    if within is None:
        return "", []
    return f" AND {column} BETWEEN ? AND ?", [within[0], within[1]]


class StoryStore(BulkStore):
    def stale_fingerprint_ids(
        self, article_ids: Sequence[str] | None = None, within: Within = None
    ) -> list[str]:
        """Articles without a signature, or whose content changed since it was computed (of
        ``article_ids`` first seen ``within`` when given, else of all)."""
        where, params = _within("a.first_seen_at", within)
        if article_ids is not None:
            where += " AND a.article_id IN (SELECT unnest(?))"
            params.append(list(article_ids))
        rows = self.con.execute(
            f"""
            SELECT a.article_id FROM articles a LEFT JOIN article_fingerprints f USING (article_id)
            WHERE f.content_hash IS DISTINCT FROM a.content_hash {where}
            ORDER BY a.article_id
            """,
            params,
        ).fetchall()
        return [aid for (aid,) in rows]

    def article_hashes_and_texts(
        self, article_ids: Sequence[str], within: Within = None
    ) -> list[tuple[str, str, str, datetime]]:
        """(article_id, content_hash, text, first_seen_at) of the articles asked for."""
        where, params = _within("first_seen_at", within)
        return self.con.execute(
            "SELECT article_id, content_hash, text, first_seen_at FROM articles "
            f"WHERE article_id IN (SELECT unnest(?)){where}",
            [list(article_ids), *params],
        ).fetchall()

    def save_fingerprints(self, rows: Sequence[tuple[str, str, bytes, datetime]]) -> None:
        """Store (article_id, content_hash, signature bytes, first_seen_at) rows, replacing
        older ones."""
        if not rows:
            return
        table = pa.Table.from_pylist(
            [dict(zip(_FINGERPRINTS.names, row, strict=True)) for row in rows],
            schema=_FINGERPRINTS,
        )
        with self._registered("_fingerprints", table):
            self.con.execute(
                "INSERT OR REPLACE INTO article_fingerprints BY NAME SELECT * FROM _fingerprints"
            )

    def fingerprints(self) -> list[tuple[str, bytes, str, datetime]]:
        """(article_id, signature bytes, source, first_seen_at) of every fingerprinted article
        (the full rebuild's input: the whole table in memory)."""
        return self.con.execute(
            """
            SELECT f.article_id, f.minhash, a.source, a.first_seen_at
            FROM article_fingerprints f JOIN articles a USING (article_id)
            """
        ).fetchall()

    def fingerprints_of(
        self, article_ids: Sequence[str], within: Within = None
    ) -> list[tuple[str, bytes, int]]:
        """(article_id, signature bytes, first_seen_at in µs since the epoch) of the articles
        asked for."""
        if not article_ids:
            return []
        where, params = _within("first_seen_at", within)
        return self.con.execute(
            "SELECT article_id, minhash, epoch_us(first_seen_at) FROM article_fingerprints "
            f"WHERE article_id IN (SELECT unnest(?)){where}",
            [list(article_ids), *params],
        ).fetchall()

    def window_fingerprints(
        self, first: datetime, last: datetime, batch_rows: int
    ) -> Iterator[list[tuple[str, bytes, int]]]:
        """The signatures of every article first seen from ``first`` to ``last``, in batches
        of at most ``batch_rows`` (article_id, signature bytes, first_seen_at µs). Consume
        each batch before the next statement on this connection."""
        reader = self.con.execute(
            "SELECT article_id, minhash, epoch_us(first_seen_at) FROM article_fingerprints "
            "WHERE first_seen_at BETWEEN ? AND ?",
            [first, last],
        )
        while batch := reader.fetchmany(batch_rows):
            yield batch

    def article_texts_and_sources(
        self, article_ids: Sequence[str], within: Within = None
    ) -> dict[str, tuple[str, str]]:
        """article_id → (text, source) of the articles asked for."""
        if not article_ids:
            return {}
        where, params = _within("first_seen_at", within)
        rows = self.con.execute(
            "SELECT article_id, text, source FROM articles "
            f"WHERE article_id IN (SELECT unnest(?)){where}",
            [list(article_ids), *params],
        ).fetchall()
        return {aid: (text, source) for aid, text, source in rows}

    def article_texts(self, article_ids: Sequence[str]) -> dict[str, str]:
        """article_id → text of the articles asked for."""
        return {k: text for k, (text, _) in self.article_texts_and_sources(article_ids).items()}

    def story_state(self) -> StoryState | None:
        row = self.con.execute("SELECT checked_through, settings FROM story_state").fetchone()
        return StoryState(row[0], row[1]) if row else None

    def latest_sighting(self) -> datetime | None:
        """The latest ``last_seen_at``: every later load, change or sighting moves an article's
        ``last_seen_at`` past it, so it marks what a refresh has seen (the pipeline's clock,
        not this process's)."""
        row = self.con.execute("SELECT max(last_seen_at) FROM articles").fetchone()
        return row[0] if row else None

    def touched_span(self, since: datetime | None) -> ArticleSpan:
        """Articles last seen (loaded, changed or seen again) from ``since`` on; all when None.
        A scan of one timestamp column, cheap at any size."""
        where, params = ("WHERE last_seen_at >= ?", [since]) if since else ("", [])
        count, first, last = self.con.execute(
            f"SELECT count(*), min(first_seen_at), max(first_seen_at) FROM articles {where}",
            params,
        ).fetchone() or (0, None, None)
        return ArticleSpan(count, first, last)

    def touched_ids(self, since: datetime | None, first: datetime, last: datetime) -> list[str]:
        """Ids of the articles last seen from ``since`` on (all when None) and first seen from
        ``first`` to before ``last``, earliest first."""
        where, params = ("AND last_seen_at >= ?", [since]) if since else ("", [])
        rows = self.con.execute(
            "SELECT article_id FROM articles WHERE first_seen_at >= ? AND first_seen_at < ? "
            f"{where} ORDER BY first_seen_at, article_id",
            [first, last, *params],
        ).fetchall()
        return [aid for (aid,) in rows]

    def fingerprint_balance(self) -> int:
        """Fingerprints less articles: above 0, some article was removed (its signature is an
        orphan); below 0, some article was never fingerprinted. Two counts, no join."""
        return int(
            self.con.execute(
                "SELECT (SELECT count(*) FROM article_fingerprints) - "
                "(SELECT count(*) FROM articles)"
            ).fetchone()[0]  # type: ignore[index]
        )

    def orphan_fingerprint_ids(self) -> list[str]:
        """Fingerprints whose article is no longer in ``articles`` (a full anti-join: called
        only when :meth:`fingerprint_balance` says there are some)."""
        rows = self.con.execute(
            "SELECT article_id FROM article_fingerprints ANTI JOIN articles USING (article_id) "
            "ORDER BY article_id"
        ).fetchall()
        return [aid for (aid,) in rows]

    def clusters_around(self, article_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Every ``story_clusters`` row (less the run columns) of the clusters that hold any of
        ``article_ids``: whole clusters, so a recomputation over them is closed."""
        if not article_ids:
            return []
        cols = ", ".join(_MEMBER_COLUMNS)
        rows = self.con.execute(
            f"SELECT {cols} FROM story_clusters WHERE cluster_id IN "
            "(SELECT cluster_id FROM story_clusters WHERE article_id IN (SELECT unnest(?)))",
            [list(article_ids)],
        ).fetchall()
        return [dict(zip(_MEMBER_COLUMNS, row, strict=True)) for row in rows]

    def cluster_counts(self) -> tuple[int, int]:
        """(stories, clustered articles) in ``story_clusters``."""
        row = self.con.execute(
            "SELECT count(DISTINCT cluster_id), count(*) FROM story_clusters"
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def all_cluster_rows(self) -> list[dict[str, Any]]:
        """Every ``story_clusters`` row, less the run columns (the full rebuild's baseline)."""
        cols = ", ".join(_MEMBER_COLUMNS)
        rows = self.con.execute(f"SELECT {cols} FROM story_clusters").fetchall()
        return [dict(zip(_MEMBER_COLUMNS, row, strict=True)) for row in rows]

    def change_story_clusters(
        self,
        run_id: str,
        drop_clusters: Sequence[str],
        members: Sequence[Mapping[str, Any]],
        now: datetime,
        *,
        forget_fingerprints: Sequence[str] = (),
    ) -> None:
        """In one transaction: delete the rows of ``drop_clusters``, insert ``members``
        (cluster_id, article_id, source, similarity, cluster_size, cluster_sources) stamped
        ``now`` and ``run_id``, and delete the fingerprints of removed articles. Rows of other
        clusters are not touched."""
        if not drop_clusters and not members and not forget_fingerprints:
            return
        table = pa.Table.from_pylist(
            [{**m, "clustered_at": now, "run_id": run_id} for m in members], schema=_MEMBERS
        )
        with self._registered("_members", table), self._transaction():
            if drop_clusters:
                self.con.execute(
                    "DELETE FROM story_clusters WHERE cluster_id IN (SELECT unnest(?))",
                    [list(drop_clusters)],
                )
            if members:
                self.con.execute("INSERT INTO story_clusters BY NAME SELECT * FROM _members")
            if forget_fingerprints:
                self.con.execute(
                    "DELETE FROM article_fingerprints WHERE article_id IN (SELECT unnest(?))",
                    [list(forget_fingerprints)],
                )

    def save_story_state(self, checked_through: datetime, settings: str, run_id: str) -> None:
        """Record that ``story_clusters`` reflects every article last seen before
        ``checked_through``, computed with ``settings``."""
        with self._transaction():
            self.con.execute("DELETE FROM story_state")
            self.con.execute(
                "INSERT INTO story_state VALUES (?, ?, ?)", [checked_through, settings, run_id]
            )
