"""Story clusters in DuckDB: keep ``story_clusters`` in step with ``articles``.

The warehouse's clustering door, beside ``tasks/load.py`` (which keeps the core tables) and
using the ``Warehouse``'s own connection. After each run's loads, ``refresh_story_clusters``:

1. computes the MinHash signature of every article that is new or whose content changed since
   its signature was stored (``article_fingerprints``), so a run hashes only what it loaded;
2. finds candidate pairs among *all* articles from the signatures (banded LSH, linear in the
   number of articles) and reads the text of just those candidates for the exact check;
3. rewrites ``story_clusters`` in one transaction.

Rebuilding the clusters from all signatures each run keeps them a pure function of the current
``articles`` (an edited article can leave a story as well as join one), and the names stable:
a story is named after its earliest-seen article, which a later article cannot change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from newsflow.tasks.stories.clusters import (
    THRESHOLD,
    build_clusters,
    candidate_pairs,
    signature,
    signature_bytes,
    signature_from_bytes,
)
from newsflow.tasks.warehouse.transaction import transaction
from newsflow.tasks.warehouse.warehouse import Warehouse

_HASH_BATCH = 500  # articles whose text is read and hashed at a time


@dataclass(frozen=True)
class ClusterStats:
    fingerprinted: int  # signatures computed in this refresh
    clusters: int  # stories carried by two or more articles
    clustered_articles: int


def refresh_story_clusters(
    warehouse: Warehouse, run_id: str, *, threshold: float = THRESHOLD
) -> ClusterStats:
    """Bring fingerprints and ``story_clusters`` up to date with ``articles``."""
    con = warehouse.con
    fingerprinted = _update_fingerprints(warehouse)
    rows = con.execute(
        """
        SELECT f.article_id, f.minhash, a.source, a.first_seen_at
        FROM article_fingerprints f JOIN articles a USING (article_id)
        """
    ).fetchall()
    signatures = {aid: signature_from_bytes(sig) for aid, sig, _, _ in rows}
    sources = {aid: source for aid, _, source, _ in rows}
    order = {aid: seen for aid, _, _, seen in rows}
    pairs = candidate_pairs(signatures)
    wanted = sorted({aid for pair in pairs for aid in pair})
    texts = (
        dict(
            con.execute(
                "SELECT article_id, text FROM articles WHERE article_id IN (SELECT unnest(?))",
                [wanted],
            ).fetchall()
        )
        if wanted
        else {}
    )
    members = build_clusters(pairs, texts, sources, order, threshold=threshold)
    now = datetime.now(UTC)
    table = pa.table(
        {
            "cluster_id": pa.array([m.cluster_id for m in members], pa.string()),
            "article_id": pa.array([m.article_id for m in members], pa.string()),
            "source": pa.array([m.source for m in members], pa.string()),
            "similarity": pa.array([m.similarity for m in members], pa.float64()),
            "cluster_size": pa.array([m.cluster_size for m in members], pa.int32()),
            "cluster_sources": pa.array([m.cluster_sources for m in members], pa.int32()),
            "clustered_at": pa.array([now] * len(members), pa.timestamp("us", tz="UTC")),
            "run_id": pa.array([run_id] * len(members), pa.string()),
        }
    )
    try:
        with transaction(con):
            con.execute("DELETE FROM story_clusters")
            con.register("_members", table)
            con.execute("INSERT INTO story_clusters BY NAME SELECT * FROM _members")
    finally:
        con.unregister("_members")
    return ClusterStats(
        fingerprinted=fingerprinted,
        clusters=len({m.cluster_id for m in members}),
        clustered_articles=len(members),
    )


def _update_fingerprints(warehouse: Warehouse) -> int:
    """Signatures for articles without one, or whose content changed since; returns how many."""
    con = warehouse.con
    stale = con.execute(
        """
        SELECT a.article_id FROM articles a LEFT JOIN article_fingerprints f USING (article_id)
        WHERE f.content_hash IS DISTINCT FROM a.content_hash
        ORDER BY a.article_id
        """
    ).fetchall()
    ids = [aid for (aid,) in stale]
    for start in range(0, len(ids), _HASH_BATCH):
        batch = con.execute(
            "SELECT article_id, content_hash, text FROM articles "
            "WHERE article_id IN (SELECT unnest(?))",
            [ids[start : start + _HASH_BATCH]],
        ).fetchall()
        table = pa.table(
            {
                "article_id": pa.array([r[0] for r in batch], pa.string()),
                "content_hash": pa.array([r[1] for r in batch], pa.string()),
                "minhash": pa.array([signature_bytes(signature(r[2])) for r in batch], pa.binary()),
            }
        )
        con.register("_fingerprints", table)
        try:
            con.execute(
                "INSERT OR REPLACE INTO article_fingerprints BY NAME SELECT * FROM _fingerprints"
            )
        finally:
            con.unregister("_fingerprints")
    return len(ids)
