# ruff: noqa: E501  (realistic test sentences read better unbroken)
"""Per-source boilerplate: line hashing and learning which lines are a site's chrome."""

from __future__ import annotations

import random

from newsflow.tasks.extract.boilerplate import (
    DEFAULT_MIN_DOCS,
    learn_boilerplate,
    line_hash,
    strip_boilerplate,
)

PROMO = "Sign up to The Harbour Post's morning briefing: the day's local news in your inbox at 7am."
DISCLAIMER = "This article was amended on publication to correct the name of the council leader."
WIRE = (
    "The northern ferry crossing will reopen in May, the county council confirmed on Thursday, ending a "
    "two-year closure that forced islanders onto a long detour."
)


def _article(i: int, *extra: str) -> list[str]:
    """A distinct article body: its own reporting lines plus the given shared lines."""
    own = [
        f"Story {i}: the council met on day {i} to discuss item {i * 7} of the agenda.",
        f"Residents of district {i} asked about the budget for project {i * 13}.",
    ]
    return [*own[:1], *extra, *own[1:]]


def test_line_hash_is_stable_and_normalised() -> None:
    assert line_hash(PROMO) == line_hash(
        "  sign up to the harbour post’s MORNING briefing the day's local news in your inbox at 7am "
    )
    assert line_hash("Ｆｕｌｌ-width Text") == line_hash("full width text")
    assert line_hash(PROMO) != line_hash(DISCLAIMER)
    h = line_hash(PROMO)
    assert len(h) == 16 and all(c in "0123456789abcdef" for c in h)


def test_source_with_few_articles_learns_nothing() -> None:
    docs = [[line_hash(x) for x in _article(i, PROMO)] for i in range(DEFAULT_MIN_DOCS - 1)]
    assert learn_boilerplate(docs) == frozenset()


def test_line_recurring_across_a_source_is_learnt() -> None:
    docs = [[line_hash(x) for x in _article(i, PROMO)] for i in range(12)]
    learnt = learn_boilerplate(docs)
    assert learnt == {line_hash(PROMO)}


def test_line_in_a_small_share_of_articles_is_not_learnt() -> None:
    # 40 articles; the disclaimer is on 6 of them (15 %): enough articles, too small a share.
    docs = [
        [line_hash(x) for x in (_article(i, PROMO, DISCLAIMER) if i < 6 else _article(i, PROMO))]
        for i in range(40)
    ]
    learnt = learn_boilerplate(docs)
    assert line_hash(PROMO) in learnt
    assert line_hash(DISCLAIMER) not in learnt


def test_follow_up_stories_sharing_a_background_paragraph_are_not_chrome() -> None:
    background = (
        "The crossing was suspended in 2022 after the old diesel vessel failed a hull inspection, and the "
        "council has since leased a smaller hybrid ferry."
    )
    docs = [[line_hash(x) for x in _article(i, background)] for i in range(3)]
    docs += [[line_hash(x) for x in _article(i)] for i in range(3, 8)]
    assert learn_boilerplate(docs) == frozenset()


def test_long_paragraphs_are_never_stripped_even_if_they_recur() -> None:
    long_para = " ".join(f"word{i}" for i in range(80))
    docs = [[line_hash(x) for x in _article(i, long_para)] for i in range(20)]
    learnt = learn_boilerplate(docs)
    assert line_hash(long_para) in learnt
    assert strip_boilerplate(_article(3, long_para), learnt) == _article(3, long_para)


def test_repeats_inside_one_article_count_once() -> None:
    docs = [[line_hash(PROMO)] * 10 + [line_hash(x) for x in _article(0)]]
    docs += [[line_hash(x) for x in _article(i)] for i in range(1, 10)]
    assert learn_boilerplate(docs) == frozenset()


def test_learning_is_order_independent() -> None:
    docs = [[line_hash(x) for x in _article(i, PROMO)] for i in range(15)]
    docs += [[line_hash(x) for x in _article(i)] for i in range(15, 25)]
    shuffled = docs[:]
    random.Random(7).shuffle(shuffled)
    assert learn_boilerplate(docs) == learn_boilerplate(iter(shuffled)) == {line_hash(PROMO)}


def test_wire_copy_shared_by_two_sources_is_never_counted_across_sources() -> None:
    # The caller learns per source: each source ran the wire story once among its own articles.
    source_a = [[line_hash(x) for x in _article(i, WIRE if i == 0 else PROMO)] for i in range(10)]
    source_b = [
        [line_hash(x) for x in _article(100 + i, *([WIRE] if i == 0 else []))] for i in range(10)
    ]
    assert line_hash(WIRE) not in learn_boilerplate(source_a)
    assert line_hash(WIRE) not in learn_boilerplate(source_b)


def test_strip_boilerplate_removes_learnt_lines_only() -> None:
    lines = _article(1, PROMO)
    assert strip_boilerplate(lines, frozenset({line_hash(PROMO)})) == _article(1)
    assert strip_boilerplate(lines, frozenset()) == lines
