"""Analysts are never blocked, and two writers never overlap.

1. A reader process opens the warehouse read-only in a tight loop while an ingest run loads
   the demo site: every open succeeds, and the reader sees both the empty snapshot published
   when the run starts and the full one published when it ends.
2. Two ``newsflow run`` processes start at once on one warehouse, reporting to this session's
   Prefect server: one waits for the other (the writer slot), both succeed, their write
   phases do not overlap, and the warehouse ends with exactly the rows of the single run of
   test 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import duckdb
import pytest

from newsflow.demo.config import demo_config
from newsflow.demo.server import start_demo_site
from newsflow.flows.ingest import ingest
from newsflow.schemas.config_toml import write_config

RUN_TIMEOUT_S = 300

READER = r"""
import json, sys, time
from pathlib import Path
import duckdb

db, ready, stop, out = map(Path, sys.argv[1:5])
reads, errors, counts = 0, [], []
ready.touch()
deadline = time.monotonic() + 240
while not db.exists() and not stop.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
while not stop.exists() and time.monotonic() < deadline:
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            n = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        reads += 1
        if n not in counts:
            counts.append(n)
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    time.sleep(0.005)
out.write_text(json.dumps({"reads": reads, "errors": errors[:20], "counts": counts}))
"""

ARTICLE_CONTENT = (
    "SELECT * EXCLUDE (first_seen_at, last_seen_at, run_id) FROM articles ORDER BY article_id"
)


@pytest.fixture(scope="module")
def site():
    demo = start_demo_site(0)
    yield demo
    demo.stop()


@pytest.fixture(scope="module")
def single_run(prefect_harness, site, tmp_path_factory):
    """One ingest run with a reader process looping on the snapshot throughout."""
    base = tmp_path_factory.mktemp("single")
    db = base / "news.duckdb"
    ready, stop, out = base / "ready", base / "stop", base / "reader.json"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(db), str(ready), str(stop), str(out)]
    )
    try:
        _wait_for(ready.exists, 60, "the reader to start")
        summary = ingest(config=demo_config(site.base_url, db=str(db)), db=str(db))
        time.sleep(0.5)  # a few reads of the final snapshot
        stop.touch()
        reader.wait(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait(timeout=10)
    return {"db": db, "summary": summary, "reader": json.loads(out.read_text())}


def test_a_reader_never_fails_while_a_run_writes(single_run):
    reader = single_run["reader"]
    assert reader["errors"] == []
    assert reader["reads"] >= 20
    final = single_run["summary"].loaded.new
    assert final >= 25
    # it read the empty snapshot published at the start and the full one published at the end
    assert reader["counts"][0] == 0
    assert reader["counts"][-1] == final
    assert reader["counts"] == sorted(reader["counts"])  # snapshots only ever move forward


@pytest.fixture(scope="module")
def two_runs(prefect_harness, site, tmp_path_factory):
    """Two ``newsflow run`` processes on one warehouse, started together."""
    from prefect.settings import PREFECT_API_URL

    base = tmp_path_factory.mktemp("two")
    db = base / "news.duckdb"
    config = demo_config(site.base_url, db=str(db))
    config.warehouse.lock_timeout_s = RUN_TIMEOUT_S
    config_file = write_config(config, base / "newsflow.toml")
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    command = [sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(config_file)]
    runs = [
        subprocess.Popen(
            command, env=env, cwd=base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    outputs = []
    try:
        for run in runs:
            outputs.append(run.communicate(timeout=RUN_TIMEOUT_S)[0].decode(errors="replace"))
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait(timeout=10)
    return {"db": db, "codes": [r.returncode for r in runs], "outputs": outputs}


def test_two_runs_at_once_take_turns(two_runs):
    assert two_runs["codes"] == [0, 0], "\n\n".join(two_runs["outputs"])
    with duckdb.connect(str(two_runs["db"]), read_only=True) as con:
        runs = con.execute(
            "SELECT started_at, finished_at, status, articles_new, pages_fetched "
            "FROM pipeline_runs WHERE flow = 'ingest' ORDER BY started_at"
        ).fetchall()
    assert [r[2] for r in runs] == ["completed", "completed"]
    first, second = runs
    assert first[1] <= second[0], "the two runs wrote at the same time"
    assert first[3] >= 25 and first[4] > 0
    assert (second[3], second[4]) == (0, 0)  # it found everything already loaded


def test_the_warehouse_ends_as_after_a_single_run(single_run, two_runs):
    queries = [
        ARTICLE_CONTENT,
        "SELECT url, failed_checks FROM rejected_articles ORDER BY url",
        "SELECT url, final_url, source, status, error FROM raw_pages ORDER BY url",
        "SELECT article_id, version, content_hash FROM article_versions ORDER BY ALL",
    ]
    with (
        duckdb.connect(str(single_run["db"]), read_only=True) as one,
        duckdb.connect(str(two_runs["db"]), read_only=True) as both,
    ):
        for sql in queries:
            expected = one.execute(sql).fetchall()
            assert expected, sql
            assert both.execute(sql).fetchall() == expected, sql


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
