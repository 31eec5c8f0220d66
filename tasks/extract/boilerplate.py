"""Per-source boilerplate: lines that recur across many articles of one source are site chrome.

Newsletter promos, disclaimers, "Follow us on …" lines and podcast plugs survive any single-page
extractor, because on one page they look like any other paragraph. Across a site's articles they
give themselves away: the same line in a large share of that site's articles. So newsflow stores the
hash of every body line per (source, article) and, per source, learns the hashes that recur
(cc_net's paragraph-hash idea, made per site).

Counting is per source on purpose: a wire story carried by two sources shares many lines
legitimately, and those never meet in one count. Counting is per *article* (a set of hashes per
article), so a line repeated inside one page, or an article stored in several versions by the
caller, counts once.

Thresholds (defaults):

* ``min_docs = 5``: a line must occur in at least 5 distinct articles of the source. A source with
  fewer than 5 stored articles therefore learns nothing, and two or three follow-up stories that
  share a background paragraph are never enough.
* ``min_share = 0.25``: and in at least a quarter of the source's stored articles. Real chrome sits
  on nearly every page of a site (measured shares are 60–100 %); a topical background sentence that
  a newsroom reuses across a running story stays far below a quarter of everything the source
  publishes.
* lines of more than 60 words are never stripped, even when their hash was learnt: a 60+-word
  paragraph is reporting, not chrome, even if a source reuses it; promos and disclaimers are short.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from newsflow.tasks.extract.clean_normalise import normalise_line

DEFAULT_MIN_DOCS = 5
DEFAULT_MIN_SHARE = 0.25
MAX_CHROME_WORDS = 60


def line_hash(line: str) -> str:
    """Short, stable hex digest of a line's normalised form (NFKC, casefold, no punctuation, one
    space).

    16 hex chars (64 bits): collisions across one source's few thousand lines are negligible, and
    the value is compact enough to store per (source, article, line) in DuckDB.
    """
    return hashlib.blake2b(normalise_line(line).encode("utf-8"), digest_size=8).hexdigest()


def learn_boilerplate(
    doc_line_hashes: Iterable[Sequence[str]],
    *,
    min_docs: int = DEFAULT_MIN_DOCS,
    min_share: float = DEFAULT_MIN_SHARE,
) -> frozenset[str]:
    """Hashes that recur in at least ``max(min_docs, ceil(min_share * n))`` of one source's ``n``
    articles.

    ``doc_line_hashes`` holds one sequence of line hashes per stored article of a single source. The
    result is deterministic and independent of article order.
    """
    doc_freq: Counter[str] = Counter()
    n_docs = 0
    for hashes in doc_line_hashes:
        n_docs += 1
        doc_freq.update({h for h in hashes if h})
    return learn_from_counts(n_docs, doc_freq, min_docs=min_docs, min_share=min_share)


def learn_from_counts(
    n_docs: int,
    doc_freq: Mapping[str, int],
    *,
    min_docs: int = DEFAULT_MIN_DOCS,
    min_share: float = DEFAULT_MIN_SHARE,
) -> frozenset[str]:
    """:func:`learn_boilerplate` from counts already made: ``n_docs`` articles of one source
    and, per line hash, how many of them carry it (the warehouse counts them in SQL for every
    source at once, ``Warehouse.line_doc_frequencies``; hashes rarer than ``min_docs`` may be
    left out of ``doc_freq``, they never qualify)."""
    if n_docs < min_docs:
        return frozenset()
    needed = max(min_docs, math.ceil(min_share * n_docs))
    return frozenset(h for h, c in doc_freq.items() if h and c >= needed)


def strip_boilerplate(lines: Sequence[str], boilerplate: frozenset[str]) -> list[str]:
    """The lines whose hash is not in the source's learnt ``boilerplate`` set, in order. Lines of
    more than ``MAX_CHROME_WORDS`` words always stay: whatever recurs at that length is reporting,
    not chrome."""
    if not boilerplate:
        return list(lines)
    return [
        line
        for line in lines
        if len(line.split()) > MAX_CHROME_WORDS or line_hash(line) not in boilerplate
    ]


class RunBoilerplate(dict[str, frozenset[str]]):
    """Each source's boilerplate during one run: what its stored articles taught (the sets the
    run starts with) plus what the articles extracted so far in this run teach, under the same
    thresholds.

    A new source has no stored articles, so without the second part its first run would keep
    every newsletter promo and footer for good. Counting the run's own articles, a line in
    ``max(min_docs, ceil(min_share * n))`` of the ``n`` articles of a source seen so far in the
    run is boilerplate, exactly as if those articles had been stored by an earlier run. It is the
    plain source → set mapping every reader expects, grown in place by ``observe``, which the
    extract stage calls after each batch (``tasks.extract_batch``).
    """

    def __init__(
        self,
        stored: Mapping[str, frozenset[str]],
        *,
        min_docs: int = DEFAULT_MIN_DOCS,
        min_share: float = DEFAULT_MIN_SHARE,
    ) -> None:
        super().__init__(stored)
        self._stored = dict(stored)
        self._min_docs = min_docs
        self._min_share = min_share
        self._n_docs: Counter[str] = Counter()
        self._doc_freq: dict[str, Counter[str]] = {}

    def observe(self, source: str, doc_line_hashes: Iterable[Sequence[str]]) -> frozenset[str]:
        """Count articles of ``source`` extracted in this run (one sequence of line hashes
        each; every article once) and return the source's set now."""
        freq = self._doc_freq.setdefault(source, Counter())
        for hashes in doc_line_hashes:
            self._n_docs[source] += 1
            freq.update({h for h in hashes if h})
        learnt = learn_from_counts(
            self._n_docs[source], freq, min_docs=self._min_docs, min_share=self._min_share
        )
        self[source] = self._stored.get(source, frozenset()) | learnt
        return self[source]
