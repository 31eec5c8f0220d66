"""The stories stage's Prefect task: group the same story across sources after a run's loads.

Clusters are kept up to date incrementally, so a run's cost follows what it changed, not the
size of the warehouse. The one assumption that buys this: **the same story is carried by its
sources within days**, so two articles can be the same story only when their ``first_seen_at``
lie at most ``[stories] window_days`` apart (default 14). A story can still span longer
through a chain of copies, each within the window of the next.

After each run's loads, :func:`refresh_story_clusters`:

1. finds the articles the run touched: last seen after the latest sighting the previous
   refresh saw (less a safety margin), which a new article, a content change and a re-sighting
   all move (the pipeline's own clock, not this process's); a run
   with none, and no removed article, stops here, after two cheap scans;
2. hashes the MinHash signature of the touched articles that are new or changed;
3. for a batch of touched articles (sorted by first sighting), reads the signatures of the
   window around them, in batches, straight from ``article_fingerprints`` (filtered in SQL on
   ``first_seen_at``), and keeps the band-matching pairs; the exact Jaccard of those pairs'
   texts gives the touched articles' neighbours;
4. takes the whole current clusters of the touched articles and their neighbours, and
   recomputes the connected components over that set. It is closed: any other edge of a
   member would be an unchanged edge, so its other end is in the member's old cluster, hence
   in the set. So the new components are exactly the clusters of a full rebuild there, and
   nothing outside the set can have changed;
5. writes only the clusters that differ (delete those clusters' rows, insert the new ones, one
   transaction), so unchanged stories keep their ``clustered_at`` and ``run_id`` and a publish
   can copy only what moved; removed articles' clusters are recomputed the same way.

:func:`rebuild_story_clusters` is the reference: every signature in memory, one
``build_clusters`` over all of them. The first refresh of a warehouse (or after a change of
settings) does not use it: it runs the incremental steps over every article, batch by batch,
so its memory is bounded by the window and the batch too.

The clustering is pure (``clusters.py``); every read and write is a ``Warehouse`` method
(``tasks/warehouse/story_store.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.tasks.stories.clusters import (
    BANDS,
    MIN_SHINGLES,
    NUM_PERM,
    SHINGLE_WORDS,
    THRESHOLD,
    BandIndex,
    Member,
    ShingleCache,
    Signatures,
    build_clusters,
    candidate_pairs,
    cluster_changes,
    clusters_from_edges,
    joined_pairs,
    signature,
    signature_bytes,
    signature_from_bytes,
    within_window,
)
from newsflow.tasks.warehouse.warehouse import Warehouse

DEFAULT_WINDOW_DAYS = 14.0
_HASH_BATCH = 500  # articles whose text is read and hashed at a time
_CLUSTER_BATCH = 5000  # touched articles reclustered at a time
_WINDOW_BATCH = 10_000  # signatures of the window held at a time
#: When anything moved, articles last seen up to this long before the previous refresh's latest
#: sighting are reconsidered too, so a clock stepped back a little between runs cannot hide a
#: change made then (they are recent: within the window that is read anyway).
_MARGIN = timedelta(minutes=10)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class ClusterStats:
    fingerprinted: int  # signatures computed in this refresh
    clusters: int  # stories carried by two or more articles
    clustered_articles: int
    reconsidered: int = 0  # touched or removed articles whose clusters were recomputed
    rewritten: int = 0  # story_clusters rows written (unchanged clusters are not)


@task(name="cluster-stories", cache_policy=NO_CACHE)
def cluster_stories(
    warehouse: Warehouse, run_id: str, window_days: float = DEFAULT_WINDOW_DAYS
) -> ClusterStats:
    """Group the same story across sources (``story_clusters``) after the run's loads."""
    return refresh_story_clusters(warehouse, run_id, window_days=window_days)


def settings_key(threshold: float, window_days: float) -> str:
    """Everything the clusters depend on besides the articles; a change reclusters all."""
    return (
        f"threshold={threshold};window_days={window_days};shingle={SHINGLE_WORDS};"
        f"perm={NUM_PERM};bands={BANDS};min_shingles={MIN_SHINGLES}"
    )


def refresh_story_clusters(
    warehouse: Warehouse,
    run_id: str,
    *,
    threshold: float = THRESHOLD,
    window_days: float = DEFAULT_WINDOW_DAYS,
) -> ClusterStats:
    """Bring fingerprints and ``story_clusters`` up to date with ``articles``, touching only
    what changed since the last refresh plus the window around it (see the module docstring)."""
    started = datetime.now(UTC)
    checked_through = warehouse.latest_sighting()
    settings = settings_key(threshold, window_days)
    state = warehouse.story_state()
    since = None
    if state is not None and state.settings == settings:
        if checked_through == state.checked_through and warehouse.fingerprint_balance() == 0:
            # nothing loaded, changed, seen again or removed since the last refresh
            return ClusterStats(0, *warehouse.cluster_counts())
        since = state.checked_through - _MARGIN
    fingerprinted = sum(
        _update_fingerprints(warehouse, part) for part in _touched(warehouse, since)
    )
    balance = warehouse.fingerprint_balance()
    if balance < 0 and since is not None:
        # articles that were never fingerprinted (a file from an older newsflow, or written
        # around the pipeline): recluster everything once
        since = None
        fingerprinted += sum(_update_fingerprints(warehouse, part) for part in _touched(warehouse))
        balance = warehouse.fingerprint_balance()
    removed = warehouse.orphan_fingerprint_ids() if balance > 0 else []
    window_us = int(window_days * 86_400_000_000)
    reconsidered = rewritten = 0
    for part in _touched(warehouse, since, _CLUSTER_BATCH):
        rewritten += _recluster(warehouse, run_id, part.ids, removed, window_us, threshold, started)
        reconsidered += len(part.ids) + len(removed)
        removed = []
    if removed:
        rewritten += _recluster(warehouse, run_id, [], removed, window_us, threshold, started)
        reconsidered += len(removed)
    if checked_through is not None:
        warehouse.save_story_state(checked_through, settings, run_id)
    clusters, clustered = warehouse.cluster_counts()
    return ClusterStats(fingerprinted, clusters, clustered, reconsidered, rewritten)


def rebuild_story_clusters(
    warehouse: Warehouse,
    run_id: str,
    *,
    threshold: float = THRESHOLD,
    window_days: float = DEFAULT_WINDOW_DAYS,
) -> ClusterStats:
    """The reference: clusters from every signature at once (memory grows with the warehouse),
    written like the incremental refresh (only clusters that differ)."""
    started = datetime.now(UTC)
    checked_through = warehouse.latest_sighting()
    fingerprinted = sum(_update_fingerprints(warehouse, part) for part in _touched(warehouse))
    rows = warehouse.fingerprints()
    signatures = {aid: signature_from_bytes(sig) for aid, sig, _, _ in rows}
    sources = {aid: source for aid, _, source, _ in rows}
    order = {aid: seen for aid, _, _, seen in rows}
    window = timedelta(days=window_days)
    pairs = {(a, b) for a, b in candidate_pairs(signatures) if abs(order[a] - order[b]) <= window}
    texts = warehouse.article_texts(sorted({aid for pair in pairs for aid in pair}))
    members = build_clusters(pairs, texts, sources, order, threshold=threshold)
    old = [Member(**row) for row in warehouse.all_cluster_rows()]
    drop, add = cluster_changes(old, members)
    removed = warehouse.orphan_fingerprint_ids()
    warehouse.change_story_clusters(
        run_id, sorted(drop), [asdict(m) for m in add], started, forget_fingerprints=removed
    )
    if checked_through is not None:
        warehouse.save_story_state(checked_through, settings_key(threshold, window_days), run_id)
    return ClusterStats(
        fingerprinted=fingerprinted,
        clusters=len({m.cluster_id for m in members}),
        clustered_articles=len(members),
        reconsidered=len(rows),
        rewritten=len(add),
    )


class _Slice(NamedTuple):
    """Ids of touched articles first seen from ``first`` to ``last`` (inclusive)."""

    ids: list[str]
    first: datetime
    last: datetime


def _touched(
    warehouse: Warehouse, since: datetime | None = None, batch: int = _HASH_BATCH * 20
) -> Iterator[_Slice]:
    """Ids of the articles last seen from ``since`` on (every article when None), in batches
    of about ``batch`` by first sighting: equal slices of their first-seen span, so a batch is
    one stretch of time and its window of history stays narrow. The slice's bounds let later
    reads of its articles skip the rest of the table: ``articles`` lies in load order, so a
    first-seen range is a few row groups, where an ``IN`` list alone reads every row."""
    span = warehouse.touched_span(since)
    if not span.count or span.first is None or span.last is None:
        return
    slices = max(1, math.ceil(span.count / batch))
    step = (span.last - span.first) / slices
    for i in range(slices):
        first = span.first + step * i
        # half-open slices [first, last); the last one takes span.last itself
        last = span.last + _TICK if i == slices - 1 else span.first + step * (i + 1)
        ids = warehouse.touched_ids(since, first, last)
        if ids:
            yield _Slice(ids, first, last)


def _update_fingerprints(warehouse: Warehouse, part: _Slice) -> int:
    """Signatures for the slice's articles without one, or whose content changed since;
    returns how many."""
    within = (part.first, part.last)
    stale = warehouse.stale_fingerprint_ids(part.ids, within)
    for start in range(0, len(stale), _HASH_BATCH):
        batch = warehouse.article_hashes_and_texts(stale[start : start + _HASH_BATCH], within)
        warehouse.save_fingerprints(
            [
                (aid, digest, signature_bytes(signature(text)), seen)
                for aid, digest, text, seen in batch
            ]
        )
    return len(stale)


def _recluster(
    warehouse: Warehouse,
    run_id: str,
    touched: Sequence[str],
    removed: Sequence[str],
    window_us: int,
    threshold: float,
    now: datetime,
) -> int:
    """Recompute the clusters around ``touched`` and ``removed`` articles (steps 3 to 5 of the
    module docstring) and write those that changed; returns the rows written."""
    query = Signatures.of(warehouse.fingerprints_of(touched))
    seen_us = dict(zip(query.ids.tolist(), query.seen_us.tolist(), strict=True))
    pairs: set[tuple[str, str]] = set()
    if len(query):
        index = BandIndex(query)
        first = _from_us(int(query.seen_us.min()) - window_us)
        last = _from_us(int(query.seen_us.max()) + window_us)
        for batch in warehouse.window_fingerprints(first, last, _WINDOW_BATCH):
            pool = Signatures.of(batch)
            found = index.pairs_with(pool, window_us)
            if found:
                ends = {aid for pair in found for aid in pair}
                seen_us.update(
                    (aid, seen)
                    for aid, seen in zip(pool.ids.tolist(), pool.seen_us.tolist(), strict=True)
                    if aid in ends
                )
            pairs |= found
    gone = set(removed)
    texts_sources = warehouse.article_texts_and_sources(sorted({a for p in pairs for a in p}))
    # a pair with an article no longer in ``articles`` (removed) is no edge
    pairs = {p for p in pairs if p[0] in texts_sources and p[1] in texts_sources}
    texts = {aid: text for aid, (text, _) in texts_sources.items()}
    sh = ShingleCache(texts)  # reads ``texts`` as it grows below
    edges = set(joined_pairs(pairs, sh, threshold=threshold))
    neighbours = {aid for edge in edges for aid in edge}

    around = sorted({*touched, *neighbours, *removed})
    old = [Member(**row) for row in warehouse.clusters_around(around)]
    mine = set(query.ids.tolist())
    rest = ({m.article_id for m in old} | neighbours) - gone - mine
    # edges among the rest (not incident to a touched article) are unchanged, but were never
    # stored: find them again among that small set
    rest_rows = warehouse.fingerprints_of(sorted(rest))
    seen_us.update((aid, seen) for aid, _, seen in rest_rows)
    rest_sigs = {aid: signature_from_bytes(sig) for aid, sig, _ in rest_rows}
    more = within_window(candidate_pairs(rest_sigs), seen_us, window_us) - pairs
    if more:
        need = sorted({a for p in more for a in p} - texts_sources.keys())
        texts_sources.update(warehouse.article_texts_and_sources(need))
        texts.update((aid, text) for aid, (text, _) in texts_sources.items())
        more = {p for p in more if p[0] in texts_sources and p[1] in texts_sources}
        edges.update(joined_pairs(more, sh, threshold=threshold))
    sources = {aid: source for aid, (_, source) in texts_sources.items()}
    members = clusters_from_edges(sorted(edges), sh, sources, seen_us)
    drop, add = cluster_changes(old, members)
    warehouse.change_story_clusters(
        run_id, sorted(drop), [asdict(m) for m in add], now, forget_fingerprints=list(removed)
    )
    return len(add)


def _from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
