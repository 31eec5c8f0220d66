"""Incremental story clusters on real DuckDB files, articles loaded through ``load_articles``:
a refresh recomputes only the clusters around what changed (tasks/stories/tasks.py), and the
result equals the reference full rebuild.

The pipeline's clock (``warehouse._now``, which stamps first_seen_at and last_seen_at) is set
by the tests, so articles can be first seen days apart without waiting for them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import newsflow.tasks.warehouse.warehouse as warehouse_module
from newsflow.tasks.stories import tasks as story_tasks
from newsflow.tasks.stories.clusters import build_clusters, candidate_pairs, signature
from newsflow.tasks.stories.tasks import rebuild_story_clusters, refresh_story_clusters
from newsflow.tasks.warehouse.warehouse import Warehouse


class Clock:
    """The pipeline's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 8, tzinfo=UTC)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(warehouse_module, "_now", lambda: clock.now)
    return clock


@pytest.fixture
def wh(tmp_path):
    with Warehouse.open(tmp_path / "news.duckdb", lock_timeout_s=1) as warehouse:
        yield warehouse


def story(n: int, variant: int = 0, words: int = 150) -> str:
    """Story ``n``; variants drop a different tenth of its words (Jaccard about 0.6 to 0.8
    between two variants, far below 0.45 between two stories)."""
    kept = [f"s{n}w{i}" for i in range(words) if variant == 0 or i % 10 != variant]
    return " ".join(kept)


def part(n: int, start: int, variant: int = 0) -> str:
    """Words ``start`` to ``start + 200`` of a long story ``n`` (a variant drops a tenth):
    parts 50 words apart are the same story (Jaccard 0.6), parts 100 apart are not (0.33),
    so the part at 50 bridges those at 0 and 100."""
    return " ".join(
        f"p{n}w{i}" for i in range(start, start + 200) if variant == 0 or i % 10 != variant
    )


def load(wh: Warehouse, run_id: str, article_id: str, text: str, source: str = "") -> None:
    source = source or f"src-{article_id[0]}"
    wh.load_articles(
        run_id,
        [
            {
                "article_id": article_id,
                "url": f"https://{source}.example/{article_id}",
                "source": source,
                "title": f"Title {article_id}",
                "text": text,
                "authors": [],
                "published_at": datetime(2026, 3, 1, tzinfo=UTC),
                "language": "en",
                "captions": [],
                "word_count": len(text.split()),
                "content_hash": f"h-{hash(text)}",
            }
        ],
    )


def rows(wh: Warehouse) -> dict[str, tuple[Any, ...]]:
    """article_id → (cluster_id, size, sources, clustered_at, run_id)."""
    found = wh.con.execute(
        "SELECT article_id, cluster_id, cluster_size, cluster_sources, clustered_at, run_id "
        "FROM story_clusters"
    ).fetchall()
    return {r[0]: r[1:] for r in found}


def clusters(wh: Warehouse) -> dict[str, set[str]]:
    """cluster_id → its articles."""
    out: dict[str, set[str]] = {}
    for aid, (cid, *_) in rows(wh).items():
        out.setdefault(cid, set()).add(aid)
    return out


def reference(wh: Warehouse, window: timedelta) -> list[tuple]:
    """The full rebuild's rows, computed purely from the articles as they are now."""
    articles = wh.con.execute("SELECT article_id, text, source, first_seen_at FROM articles")
    found = articles.fetchall()
    seen = {a: t for a, _, _, t in found}
    pairs = {
        (a, b)
        for a, b in candidate_pairs({a: signature(text) for a, text, _, _ in found})
        if abs(seen[a] - seen[b]) <= window
    }
    members = build_clusters(
        pairs, {a: t for a, t, _, _ in found}, {a: s for a, _, s, _ in found}, seen
    )
    return sorted(
        (m.cluster_id, m.article_id, m.source, m.similarity, m.cluster_size, m.cluster_sources)
        for m in members
    )


def stored(wh: Warehouse) -> list[tuple]:
    return sorted(
        wh.con.execute(
            "SELECT cluster_id, article_id, source, similarity, cluster_size, cluster_sources "
            "FROM story_clusters"
        ).fetchall()
    )


def test_a_new_near_copy_joins_and_other_clusters_keep_their_stamps(wh, clock):
    load(wh, "r1", "a1", story(1))
    load(wh, "r1", "b1", story(2))
    clock.advance(hours=2)
    load(wh, "r1", "a2", story(1, 3))
    load(wh, "r1", "b2", story(2, 4))
    load(wh, "r1", "x1", story(3))
    first = refresh_story_clusters(wh, "r1")
    assert (first.clusters, first.clustered_articles) == (2, 4)
    assert clusters(wh) == {"a1": {"a1", "a2"}, "b1": {"b1", "b2"}}
    before = rows(wh)

    clock.advance(hours=3)
    load(wh, "r2", "a3", story(1, 5), source="src-z")
    second = refresh_story_clusters(wh, "r2")
    assert second.fingerprinted == 1 and second.rewritten == 3  # story 1's three rows only
    after = rows(wh)
    assert clusters(wh) == {"a1": {"a1", "a2", "a3"}, "b1": {"b1", "b2"}}
    assert after["a3"][:3] == ("a1", 3, 2) and after["a1"][4] == "r2"
    assert after["b1"] == before["b1"] and after["b2"] == before["b2"]  # clustered_at, run_id

    idle = refresh_story_clusters(wh, "r3")
    assert (idle.fingerprinted, idle.reconsidered, idle.rewritten) == (0, 0, 0)
    assert rows(wh) == after


def test_an_edit_takes_an_article_out_and_names_stay_right(wh, clock):
    for i, aid in enumerate(["a1", "a2", "a3"]):
        load(wh, "r1", aid, story(1, i))
        clock.advance(hours=1)
    load(wh, "r1", "b1", story(2))
    clock.advance(hours=1)
    load(wh, "r1", "b2", story(2, 1))
    refresh_story_clusters(wh, "r1")
    assert clusters(wh) == {"a1": {"a1", "a2", "a3"}, "b1": {"b1", "b2"}}

    clock.advance(hours=2)
    load(wh, "r2", "a1", story(7))  # the story's first article is rewritten into another
    load(wh, "r2", "b2", story(8))  # a pair loses one of its two: it dissolves
    refresh_story_clusters(wh, "r2")
    assert clusters(wh) == {"a2": {"a2", "a3"}}  # renamed after its earliest remaining member
    assert rows(wh)["a3"][:2] == ("a2", 2)
    assert stored(wh) == reference(wh, timedelta(days=14))


def test_a_story_split_by_an_edit_gets_two_names(wh, clock):
    load(wh, "r1", "a1", part(1, 0))
    load(wh, "r1", "a2", part(1, 0, 2))
    clock.advance(hours=1)
    load(wh, "r1", "m1", part(1, 50))  # the same story as both ends
    clock.advance(hours=1)
    load(wh, "r1", "c1", part(1, 100))
    load(wh, "r1", "c2", part(1, 100, 3))
    refresh_story_clusters(wh, "r1")
    assert clusters(wh) == {"a1": {"a1", "a2", "m1", "c1", "c2"}}

    clock.advance(hours=1)
    load(wh, "r2", "m1", story(9))
    refresh_story_clusters(wh, "r2")
    assert clusters(wh) == {"a1": {"a1", "a2"}, "c1": {"c1", "c2"}}
    assert stored(wh) == reference(wh, timedelta(days=14))


def test_removed_articles_leave_their_clusters(wh, clock):
    for aid, text in [("a1", story(1)), ("a2", story(1, 1)), ("a3", story(1, 2))]:
        load(wh, "r1", aid, text)
        clock.advance(minutes=30)
    load(wh, "r1", "b1", story(2))
    load(wh, "r1", "b2", story(2, 1))
    refresh_story_clusters(wh, "r1")
    wh.con.execute("DELETE FROM articles WHERE article_id IN ('a1', 'b2')")  # an operator's purge
    removed = refresh_story_clusters(wh, "r2")
    assert removed.rewritten == 2  # story 1 renamed; story 2 dissolved: nothing to insert
    assert clusters(wh) == {"a2": {"a2", "a3"}}
    assert wh.scalar("SELECT count(*) FROM article_fingerprints") == 3  # orphans forgotten
    again = refresh_story_clusters(wh, "r3")
    assert (again.reconsidered, again.rewritten) == (0, 0)


def test_an_article_outside_the_window_does_not_join(wh, clock):
    load(wh, "r1", "a1", story(1))
    load(wh, "r1", "a2", story(1, 1))
    refresh_story_clusters(wh, "r1", window_days=14)
    clock.advance(days=20)
    load(wh, "r2", "a3", story(1, 2))
    refresh_story_clusters(wh, "r2", window_days=14)
    assert clusters(wh) == {"a1": {"a1", "a2"}}
    assert stored(wh) == reference(wh, timedelta(days=14))

    # a wider window (a change of settings) reclusters everything once
    wider = refresh_story_clusters(wh, "r3", window_days=30)
    assert wider.reconsidered == 3
    assert clusters(wh) == {"a1": {"a1", "a2", "a3"}}
    assert stored(wh) == reference(wh, timedelta(days=30))


def test_incremental_equals_the_full_rebuild_over_a_random_history(wh, clock, monkeypatch):
    # small batches, so one refresh goes through several batches of touched articles and of
    # the window's signatures
    monkeypatch.setattr(story_tasks, "_CLUSTER_BATCH", 3)
    monkeypatch.setattr(story_tasks, "_WINDOW_BATCH", 4)
    rng = random.Random(1313)
    texts: dict[str, str] = {}
    for step in range(40):
        clock.advance(hours=rng.uniform(0.2, 5))  # 40 steps: all within one 14-day window
        for _ in range(rng.randint(0, 3)):
            op = rng.random()
            if op < 0.55 or not texts:  # a new article, often a copy of a recent story
                aid = f"n{step}-{rng.randint(0, 10**6)}"
                texts[aid] = rng.choice(
                    [
                        story(rng.randint(0, 6), rng.randint(0, 9)),
                        part(rng.randint(0, 3), rng.choice([0, 50, 100]), rng.randint(0, 9)),
                    ]
                )
                load(wh, f"r{step}", aid, texts[aid], source=f"src{rng.randint(0, 3)}")
            elif op < 0.85:  # an edit: into another story, or back
                aid = rng.choice(sorted(texts))
                texts[aid] = story(rng.randint(0, 9), rng.randint(0, 9))
                load(wh, f"r{step}", aid, texts[aid])
            else:  # removal
                aid = rng.choice(sorted(texts))
                del texts[aid]
                wh.con.execute("DELETE FROM articles WHERE article_id = ?", [aid])
        refresh_story_clusters(wh, f"r{step}")
        assert stored(wh) == reference(wh, timedelta(days=14)), f"step {step}"
    assert len(clusters(wh)) >= 3  # the history did build stories
    full = rebuild_story_clusters(wh, "final")
    assert full.rewritten == 0  # the reference finds nothing to change
