"""A working file that is gone, with the snapshot still there, is restored from the snapshot:
the run says so in one warning line and carries on, and nothing the analysts could see is lost
(articles with their ``first_seen_at``, run history); the articles equal those before.

A damaged working file stops the run (tests/test_local_faults.py); its documented recovery,
moving it away and running again, goes through the same restore.

Each run is a real ``newsflow run`` process over the demo site, reporting to this session's
Prefect server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from newsflow.demo.config import demo_config
from newsflow.schemas.config_toml import write_config
from newsflow.tasks.warehouse.warehouse import working_path

RESTORED = "was missing: restored it from the snapshot"


def _run(folder: Path, db: Path, site_url: str) -> subprocess.CompletedProcess:
    from prefect.settings import PREFECT_API_URL

    config = write_config(demo_config(site_url, db=str(db)), folder / "newsflow.toml")
    return subprocess.run(
        [sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(config)],
        env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "NO_COLOR": "1"},
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _articles(db: Path) -> set[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT url, content_hash, version, first_seen_at FROM articles"
        ).fetchall()
    return set(rows)


def _runs(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT run_id, status, articles_new FROM pipeline_runs ORDER BY started_at"
        ).fetchall()


def _remove_working_file(db: Path) -> None:
    working = working_path(db)
    working.unlink()
    Path(f"{working}.wal").unlink(missing_ok=True)


@pytest.fixture
def first_run(prefect_harness, demo_site, tmp_path) -> tuple[Path, set[tuple], list[tuple]]:
    db = tmp_path / "news.duckdb"
    done = _run(tmp_path, db, demo_site.base_url)
    assert done.returncode == 0, done.stderr[-3000:]
    articles = _articles(working_path(db))
    assert len(articles) > 10
    return db, articles, _runs(working_path(db))


def _restored_run(db: Path, site_url: str) -> subprocess.CompletedProcess:
    """A run that must find the working file missing and restore it: one warning line."""
    done = _run(db.parent, db, site_url)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if RESTORED in line]
    assert len(lines) == 1 and "WARNING" in lines[0], done.stderr[-3000:]
    assert str(working_path(db)) in lines[0] and str(db) in lines[0]
    return done


def test_a_deleted_working_file_is_restored_from_the_snapshot(first_run, demo_site):
    db, articles, runs = first_run
    _remove_working_file(db)
    _restored_run(db, demo_site.base_url)
    working = working_path(db)
    assert _articles(working) == articles  # first_seen_at and versions included
    after = _runs(working)
    assert after[: len(runs)] == runs  # the run history is kept
    assert len(after) == len(runs) + 1 and after[-1][1:] == ("completed", 0)  # nothing "new"
    assert _articles(db) == articles  # and the snapshot published from it holds the same
    with duckdb.connect(str(working), read_only=True) as con:  # no refetch of known pages
        unfinished = con.execute(
            "SELECT count(*) FROM seen_entries WHERE state NOT IN ('done', 'retry', 'failed')"
        ).fetchone()[0]
    assert unfinished == 0
    assert not [p.name for p in db.parent.iterdir() if "restoring" in p.name]


def test_a_damaged_working_file_moved_away_is_rebuilt_from_the_snapshot(first_run, demo_site):
    """The README's recovery for a damaged working file: the run refuses it (one line, exit
    3, README section named), the user moves it away, the next run restores the snapshot."""
    db, articles, _runs_before = first_run
    working = working_path(db)
    data = working.read_bytes()
    working.write_bytes(data[: len(data) // 2])
    done = _run(db.parent, db, demo_site.base_url)
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if "newsflow: error:" in line]
    assert len(errors) == 1 and "WarehouseDamaged" in errors[0], done.stderr[-3000:]
    assert "rebuild it from the snapshot" in errors[0], errors[0]
    working.rename(db.with_name("news.work.duckdb.damaged"))
    _restored_run(db, demo_site.base_url)
    assert _articles(working) == articles
