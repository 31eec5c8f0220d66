"""Full-text search: the BM25 index built on each published snapshot finds a demo article by a
word of its body, through ``newsflow search`` and directly in SQL the way docs/warehouse.md
tells analysts to (LOAD the extension from the pip package, offline)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from newsflow.cli.main import main
from newsflow.demo.server import demo_site_root
from newsflow.tasks.warehouse.search import FTS_SCHEMA as FTS
from newsflow.tasks.warehouse.search import MATCH, extension_path, load_fts, search, sync_index
from newsflow.tasks.warehouse.warehouse import Warehouse
from tests.warehouse_demo import copy_warehouse, demo_warehouse

MANIFEST = json.loads((demo_site_root() / "manifest.json").read_text())
# A word that occurs only in the body of one demo article (not in any title).
BODY_WORD = "flounder"
OFFLINE = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory):
    return demo_warehouse(tmp_path_factory)


def _only_article_with(word: str) -> dict:
    pages = [
        m
        for m in MANIFEST
        if m["kind"] in ("article", "wire_copy")
        and any(word in block["text"].lower() for block in m["body_blocks"])
    ]
    assert len(pages) == 1 and word not in pages[0]["title"].lower()
    return pages[0]


def test_cli_search_finds_a_demo_article_by_a_word_of_its_body(demo, capsys):
    page = _only_article_with(BODY_WORD)
    assert main(["search", BODY_WORD, "--db", str(demo.db), "--limit", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["score", "date", "source", "title", "/", "url"]
    score, day, source, *title = out[1].split()
    assert float(score) > 0
    assert (day, source) == (page["published_at"][:10], page["source"])
    assert " ".join(title) == page["title"]
    assert out[2].strip() == page["url"].replace("{{BASE}}", demo.base_url)
    assert len(out) == 3  # one article has the word: one hit (two lines)


def test_best_match_first_and_limit(demo):
    with demo.connect() as con:
        hits = search(con, "grain trains backlog wheat", limit=5)
        assert len(search(con, "grain", limit=1)) == 1
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    wire = {m["title"] for m in MANIFEST if m["kind"] == "wire_copy"}
    assert {h.title for h in hits[:2]} == wire  # both copies of the grain story lead


def test_analysts_use_match_bm25_after_loading_the_extension_from_the_package(demo, tmp_path):
    config = OFFLINE | {"extension_directory": str(tmp_path / "extensions")}  # not ~/.duckdb
    with duckdb.connect(str(demo.db), read_only=True, config=config) as con:
        with pytest.raises(duckdb.Error):  # the macro needs the extension's stem()
            con.execute(f"SELECT {MATCH}(article_id, 'x') FROM articles").fetchall()
        con.execute(f"INSTALL '{extension_path()}'")
        con.execute("LOAD fts")
        rows = con.execute(
            f"""
            SELECT title, score FROM (
                SELECT *, {MATCH}(article_id, '{BODY_WORD}') AS score FROM articles)
            WHERE score IS NOT NULL ORDER BY score DESC
            """
        ).fetchall()
    assert [title for title, _ in rows] == [_only_article_with(BODY_WORD)["title"]]


def test_search_without_an_index_says_what_to_do(tmp_path, capsys):
    db = tmp_path / "news.duckdb"
    with Warehouse.open(db, lock_timeout_s=1):
        pass  # a working file, but nothing published yet
    assert main(["search", "anything", "--db", str(db)]) == 2
    assert "no such warehouse file" in capsys.readouterr().err
    with duckdb.connect(str(db)) as con:  # a DuckDB file without the index
        con.execute("CREATE TABLE articles (article_id VARCHAR)")
    assert main(["search", "anything", "--db", str(db)]) == 2
    assert "no full-text index" in capsys.readouterr().err


QUERIES = ("grain trains backlog wheat", BODY_WORD, "harbour barrier flood", "council budget")


def _index_of(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """What BM25 sees: statistics, per-term document frequencies, and the scores of QUERIES."""
    load_fts(con)
    scores = {
        q: con.execute(
            f"SELECT article_id, round({MATCH}(article_id, ?), 9) AS s FROM articles "
            "WHERE s IS NOT NULL ORDER BY article_id",
            [q],
        ).fetchall()
        for q in QUERIES
    }
    return {
        "stats": con.execute(f"SELECT num_docs, round(avgdl, 9) FROM {FTS}.stats").fetchall(),
        "df": con.execute(f"SELECT term, df FROM {FTS}.dict ORDER BY term").fetchall(),
        "lengths": con.execute(f"SELECT name, len FROM {FTS}.docs ORDER BY name").fetchall(),
        "scores": scores,
    }


def _rebuilt_by_the_extension(snapshot: Path) -> dict[str, object]:
    with duckdb.connect(str(snapshot), config=OFFLINE) as con:
        load_fts(con)
        con.execute(
            "PRAGMA create_fts_index('articles', 'article_id', 'title', 'text', overwrite=1)"
        )
        return _index_of(con)


def test_incremental_index_equals_the_extensions_full_build(demo, tmp_path):
    """The index a run keeps up to date (and publishes) gives the same document frequencies,
    lengths and BM25 scores as ``create_fts_index`` over the same articles, also after an
    article's text changed and another one disappeared."""
    db = copy_warehouse(demo, tmp_path / "copy")
    with duckdb.connect(str(db), read_only=True, config=OFFLINE) as con:
        published = _index_of(con)
    assert published["scores"][BODY_WORD]  # the queries do hit something
    assert published == _rebuilt_by_the_extension(db)

    edited, dropped = (
        row[0]
        for row in duckdb.connect(str(db), read_only=True)
        .execute("SELECT article_id FROM articles ORDER BY article_id LIMIT 2")
        .fetchall()
    )
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        con = warehouse.con
        con.execute(
            "UPDATE articles SET text = text || ' Flounder flounder harbour barrier.', "
            "content_hash = 'edited' WHERE article_id = ?",
            [edited],
        )
        for table in ("article_versions", "story_clusters", "articles"):
            con.execute(f"DELETE FROM {table} WHERE article_id = ?", [dropped])
        assert sync_index(con) == 1  # only the edited article is tokenised again
        assert sync_index(con) == 0
        warehouse.publish()
    with duckdb.connect(str(db), read_only=True, config=OFFLINE) as con:
        after = _index_of(con)
    assert after != published
    assert after["stats"][0][0] == published["stats"][0][0] - 1
    assert after == _rebuilt_by_the_extension(db)
