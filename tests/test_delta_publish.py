"""Publishing applies a run's changes to a copy of the previous snapshot, and the result is the
same file a rebuild from every table gives.

A copy of the demo warehouse (two real ingest runs) gets changes through its working file: an
article edited, one deleted, one added, a run recorded, a check result, an alert state moved,
a page's error. It publishes as a run does (a delta: the snapshot was written by newsflow
only), then the same state is published again with the snapshot touched, so it is rebuilt.
Every table of the two snapshots, the full-text index included, must be equal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from newsflow.tasks.warehouse import publishing, snapshot
from newsflow.tasks.warehouse.connection import OFFLINE
from newsflow.tasks.warehouse.search import FTS_SCHEMA, load_fts
from newsflow.tasks.warehouse.warehouse import Warehouse
from tests.warehouse_demo import copy_warehouse, demo_warehouse


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory):
    return demo_warehouse(tmp_path_factory)


def _change(warehouse: Warehouse) -> None:
    """The same edits in every copy: what a run's loads and bookkeeping do, and more."""
    con = warehouse.con
    first, second = (
        r[0] for r in con.execute("SELECT article_id FROM articles ORDER BY 1 LIMIT 2").fetchall()
    )
    con.execute(
        "UPDATE articles SET text = text || ' Flounder harbour barrier.', title = 'Edited', "
        "content_hash = 'edited', version = version + 1 WHERE article_id = ?",
        [first],
    )
    for table in ("article_versions", "story_clusters", "articles"):
        con.execute(f"DELETE FROM {table} WHERE article_id = ?", [second])
    template = con.execute("SELECT * FROM articles ORDER BY article_id DESC LIMIT 1").fetchone()
    columns = [d[0] for d in con.description]
    row = dict(zip(columns, template, strict=True))
    row.update(article_id="zz-new", url="https://news.example/zz-new", title="Ferry strike")
    row.update(text="Ferry crews walked out at dawn over winter rosters.", content_hash="zz")
    warehouse.load_articles("r-delta", [row])
    warehouse.start_run("r-delta", "ingest")
    warehouse.save_dq_results(
        "r-delta",
        [
            {
                "suite": "articles_table",
                "check": "freshness",
                "severity": "warning",
                "success": False,
                "observed": "3 h",
            }
        ],
    )
    con.execute("UPDATE alert_state SET failing_runs = failing_runs + 7")
    con.execute(
        "UPDATE raw_pages SET error = 'gone: 410' WHERE url = (SELECT min(url) FROM raw_pages)"
    )
    # a row whose run moves (from one bucket of the comparison to another), nothing else
    con.execute(
        "UPDATE raw_pages SET run_id = 'r-delta' WHERE url = (SELECT max(url) FROM raw_pages)"
    )
    warehouse.finish_run("r-delta", "completed", {"new": 1}, None)


def _tables(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table of the snapshot (sorted), the index's included."""
    with duckdb.connect(str(db), read_only=True, config=OFFLINE) as con:
        load_fts(con)
        names = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL"
        ).fetchall()
        found = {}
        for schema, table in names:
            if (schema, table) == ("main", "snapshot_state"):
                continue  # when it was published: differs by design
            rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            found[f"{schema}.{table}"] = sorted(rows, key=repr)
        return found


@pytest.mark.parametrize("buckets", ["inline", "semi-join"])
def test_a_delta_publish_writes_the_same_snapshot_as_a_rebuild(
    demo, tmp_path, monkeypatch, buckets
):
    """``semi-join``: the differing buckets are many (as after a long outage of publishing), so
    they are matched through their table instead of as values in the statement."""
    if buckets == "semi-join":
        monkeypatch.setattr(publishing, "_INLINE_BUCKETS", 0)
    db = copy_warehouse(demo, tmp_path / "copy")
    before = _tables(db)
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        _change(warehouse)
        warehouse.publish()
        assert (warehouse.last_publish.kind, warehouse.last_publish.base) == ("delta", "copy")
        delta = _tables(db)
        # as if someone wrote the snapshot since newsflow did, and no spare: rebuilt
        os.utime(db)
        snapshot.spare_path(db).unlink()
        warehouse.publish()
        assert warehouse.last_publish.kind == "rebuild"
    assert delta == _tables(db)
    assert f"{FTS_SCHEMA}.terms" in delta and delta[f"{FTS_SCHEMA}.terms"]
    changed = {name for name in delta if delta[name] != before.get(name)}
    assert {
        "main.articles",
        "main.article_versions",
        "main.pipeline_runs",
        "main.dq_results",
        "main.alert_state",
        "main.raw_pages",
        f"{FTS_SCHEMA}.docs",
        f"{FTS_SCHEMA}.terms",
    } <= changed


def test_a_delta_writes_what_changed_not_the_warehouse(demo, tmp_path):
    db = copy_warehouse(demo, tmp_path / "copy")
    with duckdb.connect(str(db), read_only=True) as con:
        articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        warehouse.publish()  # nothing changed since the demo's own publish
        assert (warehouse.last_publish.kind, warehouse.last_publish.added) == ("delta", 0)
        warehouse.start_run("r-idle", "ingest")
        warehouse.finish_run("r-idle", "completed", {}, None)
        warehouse.publish()
        idle = warehouse.last_publish
    assert idle.kind == "delta" and idle.removed == 0 and idle.added == 1  # the run's row
    assert articles > 10


def test_real_runs_publish_deltas(demo):
    """The first run into a new location publishes an empty snapshot as it opens (a rebuild),
    and its articles as a delta onto a copy of it; the second run's delta starts from the
    spare, that empty snapshot, so it adds what both runs loaded."""
    first, second = demo.first.published, demo.second.published
    assert first["kind"] == "delta" and first["base"] == "copy"
    assert first["added"] > demo.first.loaded.new > 0
    assert second["kind"] == "delta" and second["base"] == "spare"
    assert second["added"] >= first["added"] > 0


def test_a_snapshot_an_analyst_changed_is_rebuilt_whole(demo, tmp_path):
    """An analyst's read-write session that deleted rows and checkpointed: the next publish
    must not start from that file."""
    db = copy_warehouse(demo, tmp_path / "copy")
    with duckdb.connect(str(db), read_only=True) as con:
        articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    subprocess.run(  # another process, as an analyst's session would be
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
            "c.execute('DELETE FROM articles'); c.execute('CHECKPOINT'); c.close()",
            str(db),
        ],
        check=True,
    )
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        warehouse.publish()
        assert warehouse.last_publish.kind == "rebuild"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == articles


def test_the_snapshot_carries_its_publish_time_as_its_modification_time(demo, tmp_path):
    db = copy_warehouse(demo, tmp_path / "copy")
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        warehouse.publish()
    with duckdb.connect(str(db), read_only=True) as con:
        published_at = con.execute("SELECT published_at FROM snapshot_state").fetchone()[0]
    mtime = datetime.fromtimestamp(db.stat().st_mtime_ns / 1e9, UTC)
    assert abs((mtime - published_at).total_seconds()) < 1e-3


def _analyst_deletes(db: Path) -> None:
    """A read-write session of another process that deletes rows and checkpoints."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
            "c.execute('DELETE FROM articles'); c.execute('CHECKPOINT'); c.close()",
            str(db),
        ],
        check=True,
    )


def test_the_next_publish_starts_from_the_spare_and_heals_a_changed_snapshot(demo, tmp_path):
    """The snapshot before the current one is kept as the spare; the next publish applies its
    delta there (no copy), even when an analyst changed the current snapshot since, and the
    result equals a rebuild."""
    db = copy_warehouse(demo, tmp_path / "copy")
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        warehouse.publish()  # a copy of the demo's snapshot; the demo's becomes the spare
        assert snapshot.spare_path(db).is_file()
        _analyst_deletes(db)
        _change(warehouse)
        warehouse.publish()
        assert (warehouse.last_publish.kind, warehouse.last_publish.base) == ("delta", "spare")
        from_spare = _tables(db)
        snapshot.spare_path(db).unlink()
        os.utime(db)
        warehouse.publish()
        assert warehouse.last_publish.kind == "rebuild"
    assert from_spare == _tables(db)
    assert from_spare["main.articles"]


_READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
for line in sys.stdin:
    print(con.execute("SELECT count(*), max(title) FROM articles").fetchone(), flush=True)
"""


@pytest.mark.parametrize("where", ["another process", "this process"])
def test_a_spare_a_reader_still_has_open_is_left_alone(demo, tmp_path, where):
    """A reader that opened the snapshot before the last publish still reads that file (now
    the spare): the next publish must not write into it, and starts from a copy instead.
    Another process holds DuckDB's shared lock on it; this process's own readers hold none
    that DuckDB's writer would see, so publishing looks for them itself."""
    db = copy_warehouse(demo, tmp_path / "copy")
    if where == "another process":
        proc = subprocess.Popen(
            [sys.executable, "-c", _READER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

        def read() -> str:
            proc.stdin.write("\n")
            proc.stdin.flush()
            return proc.stdout.readline()

        def close() -> None:
            proc.stdin.close()
            proc.wait(timeout=30)
    else:
        con = duckdb.connect(str(db), read_only=True)

        def read() -> str:
            return repr(con.execute("SELECT count(*), max(title) FROM articles").fetchone())

        close = con.close
    try:
        seen = read()
        with Warehouse.open(db, lock_timeout_s=5) as warehouse:
            warehouse.publish()  # the reader's file becomes the spare
            _change(warehouse)
            warehouse.publish()
            stats = warehouse.last_publish
        assert stats.base != "spare"
        if where == "another process":  # (here DuckDB's cache of open files answers
            # ``is_untouched`` from the reader's old file: a rebuild, slower, not wrong)
            assert (stats.kind, stats.base) == ("delta", "copy")
        assert read() == seen
    finally:
        close()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles WHERE title = 'Edited'").fetchone()[0]


def test_a_publish_that_changed_many_rows_keeps_no_spare(demo, tmp_path, monkeypatch):
    """The spare lags the snapshot by the changes of the publish that replaced it; after a
    large one (a backfill) the next publish copies the current snapshot instead of applying
    all of them again, and a small one keeps the spare as before."""
    from newsflow.tasks.warehouse import warehouse as warehouse_module

    db = copy_warehouse(demo, tmp_path / "copy")
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        warehouse.publish()  # nothing changed: the demo's snapshot becomes the spare
        assert snapshot.spare_path(db).is_file()
        monkeypatch.setattr(warehouse_module, "SPARE_MAX_LAG", 3)
        _change(warehouse)  # more than 3 rows change
        warehouse.publish()
        stats = warehouse.last_publish
        assert (stats.kind, stats.base) == ("delta", "spare")
        assert stats.added + stats.removed > 3
        assert not snapshot.spare_path(db).exists()
        warehouse.start_run("r-small", "ingest")  # one row: the spare is kept again
        warehouse.finish_run("r-small", "completed", {}, None)
        warehouse.publish()
        assert (warehouse.last_publish.kind, warehouse.last_publish.base) == ("delta", "copy")
        assert snapshot.spare_path(db).is_file()
        warehouse.publish()
        assert (warehouse.last_publish.kind, warehouse.last_publish.base) == ("delta", "spare")
        kept = _tables(db)
        snapshot.spare_path(db).unlink()
        os.utime(db)
        warehouse.publish()
        assert warehouse.last_publish.kind == "rebuild"
    assert kept == _tables(db)
