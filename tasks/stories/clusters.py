"""Story clusters: the same story carried by several sources (wire copy, lightly edited).

Two articles are the same story when the exact Jaccard similarity of their bodies' word
3-shingles (the sets of three-word sequences) is at least ``THRESHOLD = 0.45``. Finding such
pairs without comparing every article with every other is MinHash with banded locality-
sensitive hashing: each text gets a 180-value MinHash signature, cut into 60 bands of 3 values,
and two articles become a *candidate* pair when any band is identical. The chance of that is
``1 - (1 - J**3)**60``: 99.7 % at J = 0.45, 100 % from J = 0.6, 0.4 % at J = 0.04 and about
1e-5 for unrelated news (J ≈ 0.005), so the work grows with the number of articles, not its
square. Each candidate pair is then checked with the exact Jaccard of the two texts, so the
threshold is exact (MinHash only decides what to check). Pairs that pass are joined into
clusters (connected components), each named after its earliest-seen article.

How the numbers were chosen (``python benchmarks/cluster_threshold.py`` reproduces them):

* Shingles of three words, not single words: the word bags of two news articles on different
  topics overlap a lot, their three-word sequences almost never do. The demo's wire story and
  its rewritten copy share 0.787; the 594 other pairs of demo articles at most 0.022.
* On the 80 different articles of the news-extraction dev set (3,160 pairs) the highest
  similarity is 0.244 (two outlets' lists of the same awards' nominees: one event, two
  stories), then 0.039. Copies of those 80 bodies keep 0.668 or more after a light edit (a
  dateline added, the last paragraph dropped) and 0.497 or more after a heavier one (the last
  two paragraphs dropped and one word in twenty changed). 0.45 sits in the middle of the gap
  between the worst different-story pair (0.244) and the worst lightly edited copy (0.668), and
  still takes in every heavier edit.
* SimHash (trafilatura's over single words, and a 64-bit one over these shingles) was measured
  too. It separates the demo pair (8 and 4 bits) but not edits from different stories: heavier
  edits differ by up to 18–19 bits while different dev-set articles come as close as 9 and 18,
  so no single Hamming threshold serves both.

Everything here is pure: texts and signatures in, cluster rows out (``tasks/story_store`` does
the SQL).
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

SHINGLE_WORDS = 3
NUM_PERM = 180
BANDS = 60
ROWS = NUM_PERM // BANDS  # 3
THRESHOLD = 0.45
#: Texts with fewer shingles than this never cluster: too short for similarity to mean much.
MIN_SHINGLES = 10

_WORD = re.compile(r"\w+")
# Fixed hash parameters, so signatures stored in the warehouse stay comparable across runs and
# versions. Multiply-add-shift hashing of 32-bit keys in 64-bit arithmetic (Dietzfelbinger):
# h(x) = ((a * x + b) mod 2**64) >> 32 with a odd; uint64 wrap-around is the "mod 2**64".
_RNG = np.random.RandomState(20261127)
_A = (_RNG.randint(0, 1 << 63, size=(NUM_PERM, 1), dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
_B = _RNG.randint(0, 1 << 63, size=(NUM_PERM, 1), dtype=np.uint64) << np.uint64(1)
_SHIFT = np.uint64(32)
# Odd 64-bit multipliers that fold a band's ROWS values into one key.
_FOLD = (_RNG.randint(0, 1 << 63, size=ROWS, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
_EMPTY = np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
_EMPTY_BYTES = _EMPTY.astype("<u4").tobytes()


def shingles(text: str, k: int = SHINGLE_WORDS) -> frozenset[str]:
    """The set of ``k``-word sequences of ``text`` (case-folded words, punctuation ignored)."""
    words = _WORD.findall(text.casefold())
    if len(words) < k:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + k]) for i in range(len(words) - k + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b|; 0 for two empty sets."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def minhash(shingle_set: Iterable[str]) -> np.ndarray:
    """The MinHash signature (``NUM_PERM`` uint32 values) of a set of shingles."""
    keys = np.fromiter((zlib.crc32(s.encode()) for s in shingle_set), dtype=np.uint64)
    if keys.size == 0:
        return _EMPTY.copy()
    hashed = _A * keys[None, :] + _B  # (NUM_PERM, shingles); arrays wrap mod 2**64 silently
    hashed >>= _SHIFT
    return hashed.min(axis=1).astype(np.uint32)


def signature(text: str) -> np.ndarray:
    return minhash(shingles(text))


def signature_bytes(sig: np.ndarray) -> bytes:
    """Signature as stored (little-endian uint32s)."""
    return sig.astype("<u4").tobytes()


def signature_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


def band_keys(matrix: np.ndarray) -> np.ndarray:
    """(articles, BANDS) uint64: each band's ``ROWS`` signature values folded into one key (a
    rare collision only adds a candidate, which the exact check then drops)."""
    wide = matrix[:, : BANDS * ROWS].astype(np.uint64).reshape(len(matrix), BANDS, ROWS)
    return (wide * _FOLD).sum(axis=2)  # wrapping mod 2**64


def is_empty(sig: np.ndarray) -> bool:
    """The signature of a text without words: it agrees with every other such text, and means
    nothing."""
    return bool(np.array_equal(sig, _EMPTY))


def candidate_pairs(signatures: Mapping[str, np.ndarray]) -> set[tuple[str, str]]:
    """Pairs of ids whose signatures agree on at least one band (each pair sorted).

    Vectorised: equal band keys are found by sorting, so 100,000 articles take about three
    seconds.
    """
    ids = [key for key, sig in signatures.items() if not is_empty(sig)]
    if len(ids) < 2:
        return set()
    keys = band_keys(np.stack([signatures[key] for key in ids]))
    pairs: set[tuple[str, str]] = set()
    for band in range(BANDS):
        order = np.argsort(keys[:, band], kind="stable")
        ordered = keys[order, band]
        cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [len(ids)]))
        for begin, stop in zip(starts[ends - starts > 1], ends[ends - starts > 1], strict=True):
            members = sorted(ids[i] for i in order[begin:stop])
            pairs.update(itertools.combinations(members, 2))
    return pairs


@dataclass(frozen=True)
class Signatures:
    """Signatures of some articles, as arrays: ids, (n, NUM_PERM) uint32 values and first-seen
    times (microseconds since the epoch). A window of the warehouse arrives as a few of these,
    so memory follows the batch, not the window."""

    ids: np.ndarray  # str objects
    values: np.ndarray
    seen_us: np.ndarray  # int64

    @classmethod
    def of(cls, rows: Iterable[tuple[str, bytes, int]]) -> Signatures:
        """From (article_id, signature bytes, first-seen µs) rows, empty signatures left out."""
        kept = [(aid, sig, seen) for aid, sig, seen in rows if sig != _EMPTY_BYTES]
        values = np.frombuffer(b"".join(sig for _, sig, _ in kept), dtype="<u4")
        return cls(
            ids=np.array([aid for aid, _, _ in kept], dtype=object),
            values=values.astype(np.uint32).reshape(len(kept), NUM_PERM),
            seen_us=np.array([seen for _, _, seen in kept], dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.ids)


class BandIndex:
    """The band keys of a query set of articles (a run's changed articles), sorted per band, so
    each batch of a window of history is matched against them in a few vectorised searches:
    the cost is one pass over the window, whatever the size of the query set."""

    def __init__(self, query: Signatures) -> None:
        self.query = query
        keys = band_keys(query.values) if len(query) else np.zeros((0, BANDS), np.uint64)
        self._order = np.argsort(keys, axis=0, kind="stable")  # (n, BANDS)
        self._sorted = np.take_along_axis(keys, self._order, axis=0)

    def pairs_with(self, pool: Signatures, window_us: int) -> set[tuple[str, str]]:
        """Sorted id pairs (query article, pool article) that agree on a band and whose first
        sightings lie at most ``window_us`` apart; an article is never paired with itself."""
        if not len(self.query) or not len(pool):
            return set()
        keys = band_keys(pool.values)
        found: set[tuple[str, str]] = set()
        for band in range(BANDS):
            column = self._sorted[:, band]
            left = np.searchsorted(column, keys[:, band], side="left")
            right = np.searchsorted(column, keys[:, band], side="right")
            counts = right - left
            hit = np.flatnonzero(counts)
            if not hit.size:
                continue
            pool_at = np.repeat(hit, counts[hit])
            # position within each pool article's run of equal query keys
            runs = np.repeat(np.cumsum(counts[hit]) - counts[hit], counts[hit])
            query_at = self._order[left[pool_at] + np.arange(len(pool_at)) - runs, band]
            a, b = self.query.ids[query_at], pool.ids[pool_at]
            near = np.abs(self.query.seen_us[query_at] - pool.seen_us[pool_at]) <= window_us
            keep = near & (a != b)
            found.update((x, y) if x < y else (y, x) for x, y in zip(a[keep], b[keep], strict=True))
        return found


def within_window(
    pairs: Iterable[tuple[str, str]], seen_us: Mapping[str, int], window_us: int
) -> set[tuple[str, str]]:
    """The pairs whose two articles were first seen at most ``window_us`` apart."""
    return {(a, b) for a, b in pairs if abs(seen_us[a] - seen_us[b]) <= window_us}


@dataclass(frozen=True)
class Member:
    """One article's place in a story cluster (a ``story_clusters`` row, less run columns)."""

    cluster_id: str
    article_id: str
    source: str
    similarity: float
    cluster_size: int
    cluster_sources: int


class ShingleCache:
    """Shingle sets of texts, each computed once across the checks of one refresh."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = texts
        self._cache: dict[str, frozenset[str]] = {}

    def __call__(self, key: str) -> frozenset[str]:
        if key not in self._cache:
            self._cache[key] = shingles(self._texts[key])
        return self._cache[key]


def joined_pairs(
    pairs: Iterable[tuple[str, str]], sh: ShingleCache, *, threshold: float = THRESHOLD
) -> list[tuple[str, str]]:
    """The candidate pairs that are the same story: exact shingle Jaccard at least
    ``threshold``, both texts long enough (``MIN_SHINGLES``)."""
    return [
        (a, b)
        for a, b in sorted(pairs)
        if len(sh(a)) >= MIN_SHINGLES
        and len(sh(b)) >= MIN_SHINGLES
        and jaccard(sh(a), sh(b)) >= threshold
    ]


def clusters_from_edges(
    edges: Iterable[tuple[str, str]],
    sh: ShingleCache,
    sources: Mapping[str, str],
    order: Mapping[str, Any],
) -> list[Member]:
    """Connected components of the same-story edges, each named after its first member by
    ``order`` (a sortable key per id, e.g. first-seen time); ``similarity`` is to that
    member."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for a, b in edges:
        parent[find(a)] = find(b)

    groups: dict[str, list[str]] = defaultdict(list)
    for key in list(parent):
        groups[find(key)].append(key)
    members: list[Member] = []
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda k: (order[k], k))
        first = group[0]
        n_sources = len({sources[k] for k in group})
        members.extend(
            Member(
                cluster_id=first,
                article_id=key,
                source=sources[key],
                similarity=1.0 if key == first else round(jaccard(sh(key), sh(first)), 4),
                cluster_size=len(group),
                cluster_sources=n_sources,
            )
            for key in group
        )
    return sorted(members, key=lambda m: (m.cluster_id, m.similarity != 1.0, m.article_id))


def build_clusters(
    pairs: Iterable[tuple[str, str]],
    texts: Mapping[str, str],
    sources: Mapping[str, str],
    order: Mapping[str, Any],
    *,
    threshold: float = THRESHOLD,
) -> list[Member]:
    """Clusters from candidate pairs: a pair is joined when the exact shingle Jaccard of the two
    texts is at least ``threshold``. Each cluster is named after its first member by ``order``
    (a sortable key per id, e.g. first-seen time); ``similarity`` is to that member."""
    sh = ShingleCache(texts)
    return clusters_from_edges(joined_pairs(pairs, sh, threshold=threshold), sh, sources, order)


def cluster_changes(old: Iterable[Member], new: Iterable[Member]) -> tuple[set[str], list[Member]]:
    """What to write so that the rows ``old`` become ``new``: the old clusters to delete and
    the new members to insert. A cluster whose rows are all the same is left alone (neither),
    so its ``clustered_at`` and ``run_id`` stay as they were."""
    before: dict[str, set[Member]] = defaultdict(set)
    after: dict[str, set[Member]] = defaultdict(set)
    for member in old:
        before[member.cluster_id].add(member)
    for member in new:
        after[member.cluster_id].add(member)
    drop = {cid for cid, rows in before.items() if after.get(cid) != rows}
    add = [m for cid, rows in after.items() if before.get(cid) != rows for m in rows]
    return drop, sorted(add, key=lambda m: (m.cluster_id, m.article_id))
