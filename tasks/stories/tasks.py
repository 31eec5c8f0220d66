"""The stories stage's Prefect task: group the same story across sources after a run's loads.

After each run's loads, :func:`refresh_story_clusters`:

1. computes the MinHash signature of every article that is new or whose content changed since
   its signature was stored (``article_fingerprints``), so a run hashes only what it loaded;
2. finds candidate pairs among *all* articles from the signatures (banded LSH, linear in the
   number of articles) and reads the text of just those candidates for the exact check;
3. rewrites ``story_clusters`` in one transaction.

Rebuilding the clusters from all signatures each run keeps them a pure function of the current
``articles`` (an edited article can leave a story as well as join one), and the names stable:
a story is named after its earliest-seen article, which a later article cannot change. The
clustering is pure (``clusters.py``); every read and write is a ``Warehouse`` method
(``tasks/warehouse/story_store.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.tasks.stories.clusters import (
    THRESHOLD,
    build_clusters,
    candidate_pairs,
    signature,
    signature_bytes,
    signature_from_bytes,
)
from newsflow.tasks.warehouse.warehouse import Warehouse

_HASH_BATCH = 500  # articles whose text is read and hashed at a time


@dataclass(frozen=True)
class ClusterStats:
    fingerprinted: int  # signatures computed in this refresh
    clusters: int  # stories carried by two or more articles
    clustered_articles: int


@task(name="cluster-stories", cache_policy=NO_CACHE)
def cluster_stories(warehouse: Warehouse, run_id: str) -> ClusterStats:
    """Group the same story across sources (``story_clusters``) after the run's loads."""
    return refresh_story_clusters(warehouse, run_id)


def refresh_story_clusters(
    warehouse: Warehouse, run_id: str, *, threshold: float = THRESHOLD
) -> ClusterStats:
    """Bring fingerprints and ``story_clusters`` up to date with ``articles``."""
    fingerprinted = _update_fingerprints(warehouse)
    rows = warehouse.fingerprints()
    signatures = {aid: signature_from_bytes(sig) for aid, sig, _, _ in rows}
    sources = {aid: source for aid, _, source, _ in rows}
    order = {aid: seen for aid, _, _, seen in rows}
    pairs = candidate_pairs(signatures)
    texts = warehouse.article_texts(sorted({aid for pair in pairs for aid in pair}))
    members = build_clusters(pairs, texts, sources, order, threshold=threshold)
    warehouse.replace_story_clusters(run_id, [asdict(m) for m in members], datetime.now(UTC))
    return ClusterStats(
        fingerprinted=fingerprinted,
        clusters=len({m.cluster_id for m in members}),
        clustered_articles=len(members),
    )


def _update_fingerprints(warehouse: Warehouse) -> int:
    """Signatures for articles without one, or whose content changed since; returns how many."""
    ids = warehouse.stale_fingerprint_ids()
    for start in range(0, len(ids), _HASH_BATCH):
        batch = warehouse.article_hashes_and_texts(ids[start : start + _HASH_BATCH])
        warehouse.save_fingerprints(
            [(aid, digest, signature_bytes(signature(text))) for aid, digest, text in batch]
        )
    return len(ids)
