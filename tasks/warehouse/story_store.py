"""Story clusters in DuckDB: the reads and writes behind ``story_clusters``.

A mixin of ``Warehouse``. The clustering itself is pure (``tasks/stories/clusters.py``) and its
orchestration is the stories stage's (``tasks/stories/tasks.py``); this module only moves rows,
so the warehouse never imports the stories stage: MinHash signatures arrive as the bytes the
stage made of them, cluster members as plain rows.

``article_fingerprints`` caches each article's signature with the ``content_hash`` it was
computed from, so a run hashes only the articles it loaded or changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from newsflow.tasks.warehouse.bulk import BulkStore

_FINGERPRINTS = pa.schema(
    [("article_id", pa.string()), ("content_hash", pa.string()), ("minhash", pa.binary())]
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


class StoryStore(BulkStore):
    def stale_fingerprint_ids(self) -> list[str]:
        """Articles without a signature, or whose content changed since it was computed."""
        rows = self.con.execute(
            """
            SELECT a.article_id FROM articles a LEFT JOIN article_fingerprints f USING (article_id)
            WHERE f.content_hash IS DISTINCT FROM a.content_hash
            ORDER BY a.article_id
            """
        ).fetchall()
        return [aid for (aid,) in rows]

    def article_hashes_and_texts(self, article_ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(article_id, content_hash, text) of the articles asked for."""
        return self.con.execute(
            "SELECT article_id, content_hash, text FROM articles "
            "WHERE article_id IN (SELECT unnest(?))",
            [list(article_ids)],
        ).fetchall()

    def save_fingerprints(self, rows: Sequence[tuple[str, str, bytes]]) -> None:
        """Store (article_id, content_hash, signature bytes) rows, replacing older ones."""
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
        """(article_id, signature bytes, source, first_seen_at) of every fingerprinted article."""
        return self.con.execute(
            """
            SELECT f.article_id, f.minhash, a.source, a.first_seen_at
            FROM article_fingerprints f JOIN articles a USING (article_id)
            """
        ).fetchall()

    def article_texts(self, article_ids: Sequence[str]) -> dict[str, str]:
        """article_id → text of the articles asked for."""
        if not article_ids:
            return {}
        return dict(
            self.con.execute(
                "SELECT article_id, text FROM articles WHERE article_id IN (SELECT unnest(?))",
                [list(article_ids)],
            ).fetchall()
        )

    def replace_story_clusters(
        self, run_id: str, members: Sequence[Mapping[str, Any]], now: datetime
    ) -> None:
        """Rewrite ``story_clusters`` with ``members`` (cluster_id, article_id, source,
        similarity, cluster_size, cluster_sources), in one transaction."""
        table = pa.Table.from_pylist(
            [{**m, "clustered_at": now, "run_id": run_id} for m in members], schema=_MEMBERS
        )
        with self._registered("_members", table), self._transaction():
            self.con.execute("DELETE FROM story_clusters")
            self.con.execute("INSERT INTO story_clusters BY NAME SELECT * FROM _members")
