"""Story clusters: the demo's two wire copies fall into one cluster and unrelated articles do
not. The similarity and signatures are checked in the pure functions (tasks/stories/clusters.py);
which articles cluster is checked through production's own refresh (``refresh_story_clusters``
in tasks/stories/tasks.py over a real warehouse, tasks/warehouse/story_store.py), and at the end
of a real ingest run (the session's demo warehouse)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import duckdb
import pytest

from newsflow.demo.server import demo_site_root
from newsflow.tasks.extract.extract import extract_article
from newsflow.tasks.stories.clusters import (
    THRESHOLD,
    Member,
    jaccard,
    shingles,
    signature,
    signature_bytes,
    signature_from_bytes,
)
from newsflow.tasks.stories.tasks import refresh_story_clusters
from newsflow.tasks.warehouse.warehouse import Warehouse
from tests.warehouse_demo import demo_warehouse

BASE = "http://127.0.0.1:8765"
MANIFEST = json.loads((demo_site_root() / "manifest.json").read_text())


class Doc(NamedTuple):
    article_id: str
    source: str
    text: str
    order: int = 0  # when the article is first seen, relative to the others


def _row(article_id: str, source: str, text: str) -> dict:
    return {
        "article_id": article_id,
        "url": f"https://{source}.example/{article_id}",
        "source": source,
        "title": f"Title {article_id}",
        "text": text,
        "authors": [],
        "published_at": datetime(2026, 11, 26, tzinfo=UTC),
        "language": "en",
        "captions": [],
        "word_count": len(text.split()),
        "content_hash": f"h-{hash(text)}",
    }


def cluster_docs(db: Path, docs: list[Doc]) -> list[Member]:
    """The clusters production computes for ``docs``: each loaded into a real warehouse at
    ``db`` in ``order`` (one load each, so their first sightings follow that order), then
    ``refresh_story_clusters``; the ``story_clusters`` rows read back, each cluster's members
    from the most similar (the article it is named after) down."""
    with Warehouse.open(db, lock_timeout_s=1) as wh:
        for doc in sorted(docs, key=lambda d: d.order):
            wh.load_articles("r1", [_row(doc.article_id, doc.source, doc.text)])
        refresh_story_clusters(wh, "r1")
        rows = wh.all_cluster_rows()
    members = [Member(**row) for row in rows]
    return sorted(members, key=lambda m: (m.cluster_id, -m.similarity, m.article_id))


@pytest.fixture(scope="module")
def demo_texts() -> dict[str, tuple[str, str, str]]:
    """path → (kind, source, text) for every demo page that is an article, as the pipeline
    extracts it."""
    texts = {}
    for page in MANIFEST:
        if page["kind"] not in ("article", "wire_copy") or page["path"] in texts:
            continue
        html = (demo_site_root() / page["path"]).read_bytes().replace(b"{{BASE}}", BASE.encode())
        article = extract_article(html, page["url"].replace("{{BASE}}", BASE))
        assert article.error is None, page["path"]
        texts[page["path"]] = (page["kind"], page["source"], article.text)
    return texts


def test_the_wire_copies_are_similar_and_unrelated_articles_are_not(demo_texts):
    wire = [text for kind, _, text in demo_texts.values() if kind == "wire_copy"]
    assert len(wire) == 2
    assert jaccard(shingles(wire[0]), shingles(wire[1])) >= THRESHOLD + 0.2
    highest_unrelated = max(
        jaccard(shingles(a[2]), shingles(b[2]))
        for a, b in itertools.combinations(demo_texts.values(), 2)
        if not (a[0] == b[0] == "wire_copy")
    )
    assert highest_unrelated < THRESHOLD / 10


def test_demo_articles_form_exactly_one_cluster_the_wire_story(demo_texts, tmp_path):
    docs = [
        Doc(article_id=path, source=source, text=text, order=i)
        for i, (path, (_, source, text)) in enumerate(sorted(demo_texts.items()))
    ]
    members = cluster_docs(tmp_path / "news.duckdb", docs)
    wire = {p for p, (kind, _, _) in demo_texts.items() if kind == "wire_copy"}
    assert {m.article_id for m in members} == wire
    assert len({m.cluster_id for m in members}) == 1
    first, second = members
    assert first.article_id == first.cluster_id == min(wire)  # named after its first member
    assert first.similarity == 1.0 and THRESHOLD <= second.similarity < 1.0
    assert {m.source for m in members} == {"harbor-gazette", "north-star-wire"}
    assert all(m.cluster_size == 2 and m.cluster_sources == 2 for m in members)


def _story(n: int, words: int = 120) -> str:
    return " ".join(f"w{n}x{i}" for i in range(words))


def test_light_edits_cluster_rewrites_do_not(tmp_path):
    text = " ".join(f"word{i}" for i in range(200))
    trimmed = " ".join(f"word{i}" for i in range(20, 180))  # a dateline gone, the end cut
    rewritten = " ".join(f"word{i}" if i % 3 else f"new{i}" for i in range(200))
    docs = [
        Doc("orig", "wire", text, 1),
        Doc("trim", "paper", trimmed, 2),
        Doc("rewr", "other", rewritten, 3),
        Doc("else", "paper", _story(9), 0),
    ]
    members = {m.article_id: m for m in cluster_docs(tmp_path / "news.duckdb", docs)}
    assert set(members) == {"orig", "trim"}
    assert members["trim"].cluster_id == "orig"
    assert members["trim"].similarity == pytest.approx(160 / 200, abs=0.02)


def test_chains_join_and_short_texts_never_cluster(tmp_path):
    base = [f"t{i}" for i in range(300)]
    a = " ".join(base[:200])
    b = " ".join(base[50:250])  # J(a, b) = 0.6
    c = " ".join(base[100:300])  # J(b, c) = 0.6, J(a, c) = 0.33
    docs = [Doc("a", "s1", a, 1), Doc("b", "s2", b, 2), Doc("c", "s3", c, 3)]
    members = cluster_docs(tmp_path / "chain.duckdb", docs)
    assert {m.article_id: m.cluster_id for m in members} == {"a": "a", "b": "a", "c": "a"}
    assert [m.similarity for m in members if m.article_id == "c"][0] < THRESHOLD
    tiny = [Doc("x", "s1", "Breaking news", 1), Doc("y", "s2", "Breaking news", 2)]
    assert cluster_docs(tmp_path / "tiny.duckdb", tiny) == []


def test_signatures_are_stable_and_estimate_jaccard():
    a = " ".join(f"t{i}" for i in range(400))
    b = " ".join(f"t{i}" for i in range(100, 500))  # J = 298 / 498 shingles
    sa, sb = signature(a), signature(b)
    assert (signature(a) == sa).all()
    assert (signature_from_bytes(signature_bytes(sa)) == sa).all()
    exact = jaccard(shingles(a), shingles(b))
    assert abs(float((sa == sb).mean()) - exact) < 0.12


# -- in the warehouse ---------------------------------------------------------------------


def test_refresh_keeps_clusters_in_step_with_articles(tmp_path, demo_texts):
    wire = [(s, t) for kind, s, t in demo_texts.values() if kind == "wire_copy"]
    other = [t for kind, _, t in demo_texts.values() if kind == "article"][:3]
    with Warehouse.open(tmp_path / "news.duckdb", lock_timeout_s=1) as wh:
        wh.load_articles("r1", [_row("wire-a", wire[0][0], wire[0][1])])
        wh.load_articles("r1", [_row(f"other-{i}", "paper", t) for i, t in enumerate(other)])
        wh.load_articles("r2", [_row("wire-b", wire[1][0], wire[1][1])])
        stats = refresh_story_clusters(wh, "r2")
        assert (stats.fingerprinted, stats.clusters, stats.clustered_articles) == (5, 1, 2)
        rows = wh.con.execute(
            "SELECT cluster_id, article_id, similarity, run_id FROM story_clusters ORDER BY 2"
        ).fetchall()
        assert [r[:2] for r in rows] == [("wire-a", "wire-a"), ("wire-a", "wire-b")]
        assert rows[1][2] >= THRESHOLD and {r[3] for r in rows} == {"r2"}

        again = refresh_story_clusters(wh, "r3")
        assert again.fingerprinted == 0 and again.clustered_articles == 2  # nothing rehashed

        # the copy is rewritten into a different story: it leaves the cluster, nothing is deleted
        wh.load_articles("r4", [_row("wire-b", wire[1][0], other[0][::-1])])
        changed = refresh_story_clusters(wh, "r4")
        assert (changed.fingerprinted, changed.clustered_articles) == (1, 0)
        assert wh.scalar("SELECT count(*) FROM articles") == 5

        wh.load_articles("r5", [_row("wire-b", wire[1][0], wire[1][1])])
        refresh_story_clusters(wh, "r5")
        published = wh.publish()
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM story_clusters").fetchone() == (2,)
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert "article_fingerprints" not in tables  # pipeline-internal


def test_a_real_run_clusters_the_wire_pair(prefect_harness, tmp_path_factory):
    demo = demo_warehouse(tmp_path_factory)
    with demo.connect() as con:
        rows = con.execute(
            "SELECT c.cluster_id, c.source, c.similarity, a.url FROM story_clusters c "
            "JOIN articles a USING (article_id) ORDER BY c.source"
        ).fetchall()
        story = con.execute(
            "SELECT story_sources FROM latest_articles WHERE cluster_id IS NOT NULL"
        ).fetchall()
    wire_paths = sorted(m["path"] for m in MANIFEST if m["kind"] == "wire_copy")
    assert sorted(url.split("/", 3)[3] for *_, url in rows) == wire_paths
    assert len({cluster for cluster, *_ in rows}) == 1
    assert [source for _, source, _, _ in rows] == ["harbor-gazette", "north-star-wire"]
    assert min(sim for _, _, sim, _ in rows) >= THRESHOLD
    assert story == [(2,), (2,)]
