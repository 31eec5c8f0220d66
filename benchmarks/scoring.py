"""Extraction-quality metrics, reimplemented so the numbers compare with published tables.

Three metrics, all defined in ``shared/reference/extraction.md``:

* **AEB 4-gram shingle matching** (ScrapingHub/Zyte article-extraction-benchmark, ``evaluate.py``):
  per page a multiset of contiguous 4-token shingles, TP/FP/FN normalised by their sum (each page
  weighs 1), macro precision over pages with a non-empty prediction, macro recall over pages with a
  non-empty truth, F1 of the two means. Repeats in the prediction count as false positives, which is
  why this metric sees duplicated captions/titles.
* **ROUGE-LSum** as computed by Google's ``rouge-score`` (the Fundus benchmark's scorer):
  lower-cased ``[a-z0-9]+`` tokens, no stemming, summary-level union-LCS over sentences with
  token-count clipping. nltk's punkt model cannot be downloaded here, so sentences are split with a
  regex (the reference notes this re-scores the published Fundus outputs to the published values).

* **trafilatura's snippet metric** (``tests/eval_common.py`` of adbar/trafilatura, used on its
  990-page evaluation corpus): whitespace-normalise the output and each snippet; a "with" snippet
  found is a TP, missing an FN; a "without" snippet found is an FP, absent a TN; micro-averaged over
  all snippets, F1 = 2TP / (2TP + FP + FN). Case and punctuation count, order and repeats do not.

Gold bodies of the Fundus set mark optional paragraphs with ``[...]``; as in the Fundus CLI the best
score over the variants (all subsets when there are at most 4 optional paragraphs, else "all in" and
"all out") is used.

Run ``python -m newsflow.benchmarks.scoring`` or ``python benchmarks/scoring.py`` to execute the
self-checks (the AEB repository's own test cases plus hand-computed ROUGE cases).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, combinations
from statistics import mean

# --------------------------------------------------------------------------------------------------
# AEB shingle metric (a faithful port of scrapinghub/article-extraction-benchmark evaluate.py)

_AEB_TOKEN_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)

TpFpFn = tuple[float, float, float]


def aeb_tokenize(text: str) -> list[str]:
    """AEB tokens: ``\\w+`` runs, case kept, punctuation dropped."""
    return _AEB_TOKEN_RE.findall(text or "")


def aeb_ngrams(text: str, n: int) -> list[tuple[str, ...]]:
    """Contiguous n-token shingles; a text with 1..n-1 tokens gives one shorter shingle, an empty
    one none."""
    tokens = aeb_tokenize(text)
    result = []
    for i in range(0, max(1, len(tokens) - n + 1)):
        shingle = tuple(tokens[i : i + n])
        if shingle:
            result.append(shingle)
    return result


def string_shingle_matching(true: str, pred: str, ngram_n: int = 4) -> TpFpFn:
    """Per-page (TP, FP, FN) over shingle multisets, normalised to sum to 1 so every page weighs the
    same."""
    true_shingles = Counter(aeb_ngrams(true, ngram_n))
    pred_shingles = Counter(aeb_ngrams(pred, ngram_n))
    tp = fp = fn = 0.0
    for key in set(true_shingles) | set(pred_shingles):
        true_count = true_shingles.get(key, 0)
        pred_count = pred_shingles.get(key, 0)
        tp += min(true_count, pred_count)
        fp += max(0, pred_count - true_count)
        fn += max(0, true_count - pred_count)
    total = tp + fp + fn
    if total > 0:
        return (tp / total, fp / total, fn / total)
    return (tp, fp, fn)


def precision_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def recall_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


def page_f1(tp_fp_fn: TpFpFn) -> float:
    p, r = precision_score(*tp_fp_fn), recall_score(*tp_fp_fn)
    return 2 * p * r / (p + r) if p + r else 0.0


def metrics_from_tp_fp_fns(tp_fp_fns: Sequence[TpFpFn]) -> dict[str, float]:
    """Macro P over pages with a prediction, macro R over pages with a truth, F1 of both means."""
    precisions = [precision_score(*x) for x in tp_fp_fns if x[0] + x[1] > 0]
    recalls = [recall_score(*x) for x in tp_fp_fns if x[0] + x[2] > 0]
    precision = mean(precisions) if precisions else 0.0
    recall = mean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


# --------------------------------------------------------------------------------------------------
# ROUGE-LSum (port of rouge_score.rouge_scorer, rougeLsum with split_summaries=True, no stemmer)

_ROUGE_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Sentence ends: . ! ? (optionally followed by closing quotes/brackets) then whitespace; and any
# line break.
_SENT_SPLIT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’»)\]]))\s+|\s*\n+\s*")


def rouge_tokenize(text: str) -> list[str]:
    """rouge-score tokenizer: lower-case, non-alphanumerics to spaces, ``[a-z0-9]+`` tokens."""
    return [t for t in _ROUGE_NON_ALNUM.sub(" ", text.lower()).split() if t]


def split_sentences(text: str) -> list[str]:
    """Regex stand-in for nltk punkt: split after sentence punctuation followed by space, and at
    line breaks."""
    return [s for s in (part.strip() for part in _SENT_SPLIT.split(text)) if s]


def _lcs_indices(ref: Sequence[str], can: Sequence[str]) -> list[int]:
    """Indices into ``ref`` of one LCS with ``can``, backtracked exactly as rouge-score's
    ``_backtrack_norec``."""
    rows, cols = len(ref), len(can)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(1, rows + 1):
        ri = ref[i - 1]
        prev, cur = table[i - 1], table[i]
        for j in range(1, cols + 1):
            if ri == can[j - 1]:
                cur[j] = prev[j - 1] + 1
            else:
                a, b = prev[j], cur[j - 1]
                cur[j] = a if a > b else b
    i, j = rows, cols
    out: list[int] = []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.append(i - 1)
            i -= 1
            j -= 1
        elif table[i][j - 1] > table[i - 1][j]:
            j -= 1
        else:
            i -= 1
    out.reverse()
    return out


@dataclass(frozen=True)
class Prf:
    precision: float
    recall: float
    f1: float


class LcsCache:
    """Memoises sentence-pair LCS so scoring many optional-paragraph variants of one page stays
    cheap."""

    def __init__(self) -> None:
        self._cache: dict[tuple[tuple[str, ...], tuple[str, ...]], frozenset[int]] = {}

    def union(self, ref: tuple[str, ...], cands: Sequence[tuple[str, ...]]) -> list[int]:
        ref_set = set(ref)
        idx: set[int] = set()
        for c in cands:
            if ref_set.isdisjoint(c):
                continue
            key = (ref, c)
            hit = self._cache.get(key)
            if hit is None:
                hit = frozenset(_lcs_indices(ref, c))
                self._cache[key] = hit
            idx |= hit
        return sorted(idx)


def rouge_lsum(target: str, prediction: str, cache: LcsCache | None = None) -> Prf:
    """Summary-level ROUGE-L (rougeLsum) of ``prediction`` against ``target``."""
    cache = cache or LcsCache()
    ref_sents = [tuple(rouge_tokenize(s)) for s in split_sentences(target)]
    can_sents = [tuple(rouge_tokenize(s)) for s in split_sentences(prediction)]
    if not ref_sents or not can_sents:
        return Prf(0.0, 0.0, 0.0)
    m = sum(map(len, ref_sents))
    n = sum(map(len, can_sents))
    if not m or not n:
        return Prf(0.0, 0.0, 0.0)
    cnt_r: Counter[str] = Counter(chain.from_iterable(ref_sents))
    cnt_c: Counter[str] = Counter(chain.from_iterable(can_sents))
    hits = 0
    for r in ref_sents:
        for i in cache.union(r, can_sents):
            t = r[i]
            if cnt_c[t] > 0 and cnt_r[t] > 0:
                hits += 1
                cnt_c[t] -= 1
                cnt_r[t] -= 1
    precision, recall = hits / n, hits / m
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return Prf(precision, recall, f1)


# --------------------------------------------------------------------------------------------------
# Gold bodies with optional paragraphs


def _is_optional(paragraph: str) -> bool:
    return len(paragraph) >= 2 and paragraph[0] == "[" and paragraph[-1] == "]"


def reference_bodies(body: Sequence[str], max_optional: int = 4) -> Iterator[list[str]]:
    """Gold variants as the Fundus CLI builds them: optional ``[...]`` paragraphs in or out."""

    def prepare(drop: set[int]) -> list[str]:
        return [p[1:-1] if _is_optional(p) else p for i, p in enumerate(body) if i not in drop]

    optional = [i for i, p in enumerate(body) if _is_optional(p)]
    if len(optional) > max_optional:
        yield prepare(set())
        yield prepare(set(optional))
        return
    for k in range(len(optional) + 1):
        for drop in combinations(optional, k):
            yield prepare(set(drop))


def best_shingle_match(body: Sequence[str], prediction: str) -> TpFpFn:
    """AEB (TP, FP, FN) against the gold variant with the best page F1 (ties: the first variant)."""
    best: TpFpFn | None = None
    for variant in reference_bodies(body):
        x = string_shingle_matching("\n\n".join(variant), prediction)
        if best is None or page_f1(x) > page_f1(best):
            best = x
    assert best is not None
    return best


def best_rouge(body: Sequence[str], prediction: str, cache: LcsCache | None = None) -> Prf:
    """ROUGE-LSum against the gold variant with the best F1, as the Fundus scorer does. Pass one
    ``cache`` per page to share sentence-pair LCS work between systems (it never changes a score).
    """
    cache = cache or LcsCache()
    best: Prf | None = None
    for variant in reference_bodies(body):
        s = rouge_lsum("\n\n".join(variant), prediction, cache)
        if best is None or s.f1 > best.f1:
            best = s
    assert best is not None
    return best


# --------------------------------------------------------------------------------------------------
# trafilatura's snippet metric (a port of tests/eval_common.py: norm, count_item, ConfusionMatrix)

_WHITESPACE = re.compile(r"\s+")


def norm_whitespace(text: str) -> str:
    """eval_common.norm: runs of whitespace to one space, so line breaks never cost a match."""
    return _WHITESPACE.sub(" ", text).strip()


def snippet_hits(snippets: Sequence[str], output: str | None) -> list[bool]:
    """Per snippet: is it (whitespace-normalised) a substring of the normalised output? A missing
    output (``None``, a crash in eval_common) finds nothing."""
    if output is None:
        return [False] * len(snippets)
    text = norm_whitespace(output)
    return [norm_whitespace(s) in text for s in snippets]


@dataclass
class SnippetCounts:
    """Accumulated confusion counts; micro-averaged scores as eval_common.ConfusionMatrix."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, other: SnippetCounts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def accuracy(self) -> float:
        total = self.tp + self.fp + self.fn + self.tn
        return (self.tp + self.tn) / total if total else 0.0

    @property
    def f1(self) -> float:
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else 0.0


def count_snippets(
    with_snippets: Sequence[str], without_snippets: Sequence[str], output: str | None
) -> SnippetCounts:
    """One page's counts (eval_common.count_item)."""
    tp = sum(snippet_hits(with_snippets, output))
    fp = sum(snippet_hits(without_snippets, output))
    return SnippetCounts(tp, fp, len(with_snippets) - tp, len(without_snippets) - fp)


# --------------------------------------------------------------------------------------------------
# Self-checks


def self_check() -> None:
    """The AEB repository's ``tests.py`` cases plus hand-computed ROUGE-LSum cases; raises on a
    mismatch."""
    assert aeb_tokenize("a b,cd:e(foo,bar) ") == ["a", "b", "cd", "e", "foo", "bar"]
    assert aeb_ngrams("!", 4) == []
    assert aeb_ngrams("a,b c ", 5) == [("a", "b", "c")]
    assert aeb_ngrams("aa 11 c 22", 3) == [("aa", "11", "c"), ("11", "c", "22")]
    assert aeb_ngrams("a b c a b c", 3) == [
        ("a", "b", "c"),
        ("b", "c", "a"),
        ("c", "a", "b"),
        ("a", "b", "c"),
    ]
    cases = [
        ("a b c", "a b c", (1, 0, 0)),
        ("a b c d", "a b c", (0.5, 0, 0.5)),
        ("a b c", "a b c d", (0.5, 0.5, 0)),
        ("", "", (0, 0, 0)),
        ("a", "", (0, 0, 1)),
        ("", "a", (0, 1, 0)),
        ("a b c a b c", "a b c", (0.25, 0, 0.75)),
        ("a b c", "a b c a b c", (0.25, 0.75, 0)),
    ]
    for true, pred, expected in cases:
        got = string_shingle_matching(true, pred, ngram_n=3)
        assert got == expected, (true, pred, got, expected)
    # Macro averaging: the empty prediction is left out of precision but counts (as 0) in recall.
    m = metrics_from_tp_fp_fns([(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])
    assert m["precision"] == 1.0 and m["recall"] == 0.5 and abs(m["f1"] - 2 / 3) < 1e-12
    # ROUGE-LSum: identical texts; a dropped sentence; union LCS across candidate sentences;
    # clipping of repeats.
    assert rouge_lsum("The cat sat. The dog ran.", "The cat sat. The dog ran.") == Prf(
        1.0, 1.0, 1.0
    )
    s = rouge_lsum("The cat sat. The dog ran.", "The cat sat.")
    assert (s.precision, s.recall) == (1.0, 0.5)
    s = rouge_lsum(
        "a b c d", "a b.\nc d."
    )  # union of LCS with both candidate sentences covers the reference
    assert (s.precision, s.recall) == (1.0, 1.0)
    s = rouge_lsum("a b. c d.", "a b. a b. c d.")  # the repeated "a b" cannot be counted twice
    assert (s.precision, s.recall) == (4 / 6, 1.0)
    assert split_sentences("He said “no.” Then left.\nNext para") == [
        "He said “no.”",
        "Then left.",
        "Next para",
    ]
    assert rouge_tokenize("Türkiye's U.S.-led") == ["t", "rkiye", "s", "u", "s", "led"]
    # Optional paragraphs: a prediction without the optional paragraph matches the "out" variant
    # exactly.
    body = ["one two three four five", "[six seven eight nine ten]"]
    assert best_shingle_match(body, "one two three four five") == (1.0, 0.0, 0.0)
    assert best_rouge(body, "one two three four five").f1 == 1.0
    assert len(list(reference_bodies(["a", "[b]", "[c]"]))) == 4
    assert len(list(reference_bodies(["[a]", "[b]", "[c]", "[d]", "[e]"]))) == 2
    # Snippets: whitespace differences never matter, case does; a "without" snippet found is an FP;
    # no output finds nothing; F1 is micro 2TP / (2TP + FP + FN).
    assert snippet_hits(["a  b", "A b", "c"], "x a\n b y") == [True, False, False]
    assert count_snippets(["a b", "z"], ["menu"], "a b menu") == SnippetCounts(1, 1, 1, 0)
    assert count_snippets(["a"], ["b"], None) == SnippetCounts(0, 0, 1, 1)
    total = SnippetCounts()
    total.add(SnippetCounts(3, 1, 1, 2))
    total.add(SnippetCounts(1, 0, 1, 1))
    assert (total.precision, total.recall, total.accuracy) == (0.8, 4 / 6, 7 / 10)
    assert total.f1 == 8 / 11


if __name__ == "__main__":
    self_check()
    print("scoring self-checks passed")
