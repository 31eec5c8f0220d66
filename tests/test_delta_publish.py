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


def test_a_delta_publish_writes_the_same_snapshot_as_a_rebuild(demo, tmp_path):
    db = copy_warehouse(demo, tmp_path / "copy")
    before = _tables(db)
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        _change(warehouse)
        warehouse.publish()
        assert warehouse.last_publish.kind == "delta"
        delta = _tables(db)
        os.utime(db)  # as if someone wrote it since newsflow did: the same state, rebuilt
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
    and its articles as a delta onto it; the second run's delta is its few changes."""
    first, second = demo.first.published, demo.second.published
    assert first["kind"] == "delta" and first["added"] > demo.first.loaded.new > 0
    assert second["kind"] == "delta"
    # the re-checked pages, articles seen again, the edited one and its index rows, the checks
    assert 0 < second["added"] < first["added"] / 3


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
