"""Schema migrations on real files: a working file written by schema version 1 (committed as
tests/fixtures/schema_v1.duckdb.gz) upgrades in place with every row intact, and keeps working."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from newsflow.tasks.warehouse.migrate import available_migrations, current_version, migrate
from newsflow.tasks.warehouse.warehouse import Warehouse, working_path

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v1.duckdb.gz"
LATEST = available_migrations()[-1].version

# What schema 1 holds in the fixture, table by table (the upgrade must keep all of it).
V1_COUNTS = {
    "pipeline_runs": 1,
    "feed_state": 1,
    "feed_fetches": 1,
    "seen_entries": 2,
    "raw_pages": 2,
    "articles": 2,
    "article_versions": 3,
    "rejected_articles": 1,
    "dq_results": 1,
    "source_lines": 2,
}


def _v1_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    """A private copy of the schema-1 working file, where ``Warehouse.open`` will find it."""
    published = tmp_path / "news.duckdb"
    working_path(published).write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    return published


@pytest.fixture
def v1_rows(old_file: Path) -> dict[str, list[tuple]]:
    """Every row of the fixture before the upgrade, by table, in schema-1 columns."""
    with duckdb.connect(str(working_path(old_file)), read_only=True) as con:
        versions = con.execute("SELECT version FROM schema_migrations").fetchall()
        assert versions == [(1,)]
        return {
            table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            for table in V1_COUNTS
        } | {
            f"{table}.columns": _v1_columns(con, table)  # type: ignore[dict-item]
            for table in V1_COUNTS
        }


def test_fixture_is_schema_1_with_rows(v1_rows):
    assert {t: len(v1_rows[t]) for t in V1_COUNTS} == V1_COUNTS


def test_old_file_upgrades_in_place_with_rows_intact(old_file, v1_rows):
    with Warehouse.open(old_file, lock_timeout_s=1) as warehouse:
        con = warehouse.con
        assert current_version(con) == LATEST
        applied = con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        assert applied == [(m.version,) for m in available_migrations()]
        for table in V1_COUNTS:
            columns = ", ".join(f'"{c}"' for c in v1_rows[f"{table}.columns"])
            rows = con.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").fetchall()
            assert rows == v1_rows[table], table
        # schema 2's new columns exist, empty for old rows; its tables and views are there
        assert con.execute("SELECT count(etag), count(checked_at) FROM raw_pages").fetchone() == (
            0,
            0,
        )
        assert con.execute("SELECT count(*) FROM story_clusters").fetchone() == (0,)
        daily = con.execute(
            "SELECT day, source, articles FROM daily_articles_by_source ORDER BY ALL"
        ).fetchall()
        assert daily == [(datetime(2026, 11, 19).date(), "harbor", 2)]
        # the archived HTML still decompresses for reprocessing
        (page,) = warehouse.raw_pages(warehouse.archived_urls())
        assert b"every forty minutes" in page.content


def test_upgraded_file_keeps_working(old_file):
    with Warehouse.open(old_file, lock_timeout_s=1) as warehouse:
        changed = {
            "article_id": "a1a1a1a1a1a1a1a1",
            "url": "https://harbor.example/ferry.html",
            "source": "harbor",
            "title": "Harbour ferry timetable changes",
            "text": "The island ferry will run every thirty minutes from Monday, they said.",
            "authors": ["Ada Writer"],
            "published_at": datetime(2026, 11, 19, 9, 30, tzinfo=UTC),
            "language": "en",
            "captions": [],
            "word_count": 13,
            "content_hash": "hash-v3",
            "published_at_source": "json-ld",
            "quality_flags": ["body_min_length"],
        }
        # schema 10's columns: old rows are clean with no recorded date source
        assert warehouse.con.execute(
            "SELECT DISTINCT quality_flags, published_at_source FROM articles"
        ).fetchall() == [([], None)]
        # schema 11's columns: old rows came from feeds; no poll is scheduled yet
        assert warehouse.con.execute(
            "SELECT (SELECT DISTINCT origin FROM articles), "
            "(SELECT DISTINCT origin FROM raw_pages), "
            "(SELECT count(next_poll_at) FROM feed_state), (SELECT count(*) FROM backfill_jobs)"
        ).fetchone() == ("feed", "feed", 0, 0)
        assert warehouse.load_articles("run-2", [changed]).updated == 1
        versions = warehouse.con.execute(
            "SELECT version FROM article_versions WHERE article_id = 'a1a1a1a1a1a1a1a1' ORDER BY 1"
        ).fetchall()
        assert versions == [(1,), (2,), (3,)]
        published = warehouse.publish()
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("SELECT max(version) FROM articles").fetchone() == (3,)
        assert con.execute("SELECT count(*) FROM source_health").fetchone() == (1,)
        assert con.execute(
            "SELECT published_at_source, quality_flags FROM latest_articles "
            "WHERE article_id = 'a1a1a1a1a1a1a1a1'"
        ).fetchone() == ("json-ld", ["body_min_length"])


def test_migrating_again_is_a_no_op(old_file):
    with duckdb.connect(str(working_path(old_file))) as con:
        assert migrate(con) == [m.version for m in available_migrations()][1:]
        assert migrate(con) == []
        assert current_version(con) == LATEST


def test_a_migration_that_fails_leaves_the_file_as_it_was(old_file, monkeypatch):
    from newsflow.tasks.warehouse import migrate as migrate_module

    broken = [*available_migrations()[:1], migrate_module.Migration(2, "broken", "SELECT nope;")]
    monkeypatch.setattr(migrate_module, "available_migrations", lambda: broken)
    with duckdb.connect(str(working_path(old_file))) as con:
        with pytest.raises(duckdb.Error):
            migrate_module.migrate(con)
        assert current_version(con) == 1
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (2,)
