"""The warehouse on real DuckDB files: migrations, upserts and versions, the published snapshot,
and the single-writer lock."""

import dataclasses
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from newsflow.schemas.records import Page, RetrySchedule
from newsflow.tasks.warehouse.connection import WarehouseLocked
from newsflow.tasks.warehouse.migrate import available_migrations, current_version
from newsflow.tasks.warehouse.warehouse import Warehouse, working_path


def _row(article_id="a1", text="Body text of the article.", **overrides):
    row = {
        "article_id": article_id,
        "url": f"https://news.example/{article_id}",
        "source": "news",
        "title": "A headline",
        "text": text,
        "authors": ["Ada Writer"],
        "published_at": datetime(2026, 11, 26, 9, tzinfo=UTC),
        "language": "en",
        "captions": [{"text": "A harbour at dawn.", "credit": "Photo: Lee", "image_url": None}],
        "word_count": len(text.split()),
        "content_hash": f"hash-of-{text}",
    }
    row.update(overrides)
    return row


@pytest.fixture
def warehouse(tmp_path):
    with Warehouse.open(tmp_path / "news.duckdb", lock_timeout_s=1) as wh:
        yield wh


def test_new_file_gets_every_migration(warehouse):
    assert current_version(warehouse.con) == available_migrations()[-1].version
    assert working_path(warehouse.published).name == "news.work.duckdb"


def test_every_table_and_column_has_a_comment(warehouse):
    missing = warehouse.con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND (comment IS NULL OR comment = '')"
    ).fetchall()
    assert [m for m in missing if m[0] != "schema_migrations"] == []
    tables = warehouse.con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND (comment IS NULL OR comment = '')"
    ).fetchall()
    assert tables == []


def test_load_is_idempotent_and_versions_changes(warehouse):
    first = warehouse.load_articles("r1", [_row()])
    again = warehouse.load_articles("r2", [_row()])
    changed = warehouse.load_articles("r3", [_row(text="Body text, corrected.")])
    assert (first.new, again.unchanged, changed.updated) == (1, 1, 1)
    con = warehouse.con
    assert con.execute("SELECT version, text, run_id FROM articles").fetchall() == [
        (2, "Body text, corrected.", "r3")
    ]
    versions = con.execute("SELECT version, text FROM article_versions ORDER BY version").fetchall()
    assert versions == [(1, "Body text of the article."), (2, "Body text, corrected.")]


def test_duplicate_keys_in_one_batch_keep_the_last(warehouse):
    counts = warehouse.load_articles("r1", [_row(text="old"), _row(text="newest")])
    assert counts.new == 1
    assert warehouse.scalar("SELECT text FROM articles") == "newest"


def test_unchanged_article_only_moves_last_seen(warehouse):
    warehouse.load_articles("r1", [_row()])
    before = warehouse.con.execute("SELECT first_seen_at, last_seen_at FROM articles").fetchone()
    time.sleep(0.01)
    warehouse.load_articles("r2", [_row()])
    after = warehouse.con.execute(
        "SELECT first_seen_at, last_seen_at, version FROM articles"
    ).fetchone()
    assert after[0] == before[0] and after[1] > before[1] and after[2] == 1


def test_seen_entries_and_transient_retries(warehouse):
    now = datetime.now(UTC)
    page = Page(
        source="news",
        entry_id="e1",
        url="https://news.example/1",
        final_url="https://news.example/1",
        status=503,
        content_type=None,
        content=None,
        error="http_503",
        fetched_at=now,
        transient=True,
    )
    schedule = RetrySchedule(first_s=600, max_s=900, max_attempts=3)
    warehouse.save_pages("r1", [page], schedule)
    assert warehouse.unseen_entry_ids("news", ["e1", "e2"], now) == {"e2"}  # e1 not due yet
    due = warehouse.con.execute("SELECT next_attempt_at FROM seen_entries").fetchone()[0]
    assert due == now + timedelta(seconds=600)
    assert warehouse.unseen_entry_ids("news", ["e1"], due) == {"e1"}
    warehouse.save_pages("r2", [page], schedule)  # second failure: the gap doubles, capped
    due = warehouse.con.execute("SELECT next_attempt_at FROM seen_entries").fetchone()[0]
    assert due == now + timedelta(seconds=900)
    warehouse.save_pages("r3", [page], schedule)
    assert warehouse.unseen_entry_ids("news", ["e1"], now + timedelta(days=9)) == set()
    assert warehouse.con.execute("SELECT state, attempts FROM seen_entries").fetchone() == (
        "failed",
        3,
    )
    warehouse.save_pages(
        "r4",
        [
            dataclasses.replace(
                page,
                entry_id="e2",
                status=200,
                error=None,
                content=b"<html></html>",
                transient=False,
            )
        ],
    )
    assert warehouse.unseen_entry_ids("news", ["e2"]) == set()


def test_published_snapshot_is_readable_and_complete(warehouse):
    warehouse.start_run("r1", "ingest")
    warehouse.load_articles("r1", [_row()])
    warehouse.save_rejections(
        "r1",
        [
            {
                "url": "https://news.example/bad",
                "source": "news",
                "failed_checks": ["body_present"],
                "details": {"body_present": {"observed": 0}},
                "record": {"title": "x"},
            }
        ],
    )
    warehouse.finish_run("r1", "completed", {"articles_new": 1}, None)
    path = warehouse.publish()
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (1,)
        assert con.execute("SELECT failed_checks FROM rejected_articles").fetchone() == (
            ["body_present"],
        )
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert "seen_entries" not in tables and "raw_pages" in tables
        comment = con.execute(
            "SELECT comment FROM duckdb_columns() "
            "WHERE table_name='articles' AND column_name='text'"
        ).fetchone()[0]
        assert "body" in comment


def test_publishing_while_a_reader_holds_the_old_snapshot(warehouse):
    warehouse.load_articles("r1", [_row("a1")])
    path = warehouse.publish()
    reader = duckdb.connect(str(path), read_only=True)
    warehouse.load_articles("r2", [_row("a2")])
    warehouse.publish()
    assert reader.execute("SELECT count(*) FROM articles").fetchone() == (1,)  # its own snapshot
    reader.close()
    with duckdb.connect(str(path), read_only=True) as fresh:
        assert fresh.execute("SELECT count(*) FROM articles").fetchone() == (2,)


def test_second_writer_waits_then_fails_naming_file_and_holder(tmp_path):
    db = tmp_path / "news.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(working_path(db))!r})
            print("ready", flush=True)
            sys.stdin.readline()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        with pytest.raises(WarehouseLocked) as caught:
            Warehouse.open(db, lock_timeout_s=1.0)
        assert time.monotonic() - started >= 1.0
        message = str(caught.value)
        assert "news.work.duckdb" in message and f"PID {holder.pid}" in message
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    with Warehouse.open(db, lock_timeout_s=1.0) as wh:  # free again
        assert wh.scalar("SELECT count(*) FROM articles") == 0


def test_idle_publish_refreshes_bookkeeping_and_keeps_articles(warehouse):
    warehouse.load_articles("r1", [_row("a1")])
    path = warehouse.publish()
    warehouse.start_run("r2", "ingest")
    warehouse.finish_run("r2", "completed", {}, None)
    warehouse.publish()
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (1,)
        assert con.execute("SELECT run_id FROM pipeline_runs").fetchall() == [("r2",)]
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert "seen_entries" not in tables and "raw_pages" in tables
