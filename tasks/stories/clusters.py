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


def candidate_pairs(signatures: Mapping[str, np.ndarray]) -> set[tuple[str, str]]:
    """Pairs of ids whose signatures agree on at least one band (each pair sorted).

    Vectorised: each band's three values are folded into one 64-bit key (a rare collision only
    adds a candidate, which the exact check then drops) and equal keys are found by sorting,
    so 100,000 articles take about three seconds.
    """
    ids = [key for key, sig in signatures.items() if not np.array_equal(sig, _EMPTY)]
    if len(ids) < 2:
        return set()
    matrix = np.stack([signatures[key] for key in ids]).astype(np.uint64)
    bands = matrix[:, : BANDS * ROWS].reshape(len(ids), BANDS, ROWS)
    keys = (bands * _FOLD).sum(axis=2)  # (articles, BANDS), wrapping mod 2**64
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
class Member:
    """One article's place in a story cluster (a ``story_clusters`` row, less run columns)."""

    cluster_id: str
    article_id: str
    source: str
    similarity: float
    cluster_size: int
    cluster_sources: int


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
    cache: dict[str, frozenset[str]] = {}

    def sh(key: str) -> frozenset[str]:
        if key not in cache:
            cache[key] = shingles(texts[key])
        return cache[key]

    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for a, b in sorted(pairs):
        if len(sh(a)) < MIN_SHINGLES or len(sh(b)) < MIN_SHINGLES:
            continue
        if jaccard(sh(a), sh(b)) >= threshold:
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
