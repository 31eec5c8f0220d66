"""The snapshot heals: a run publishes whenever the working file holds changes the snapshot
lacks, whatever happened before; analysts cannot write into later snapshots; killed publishes
leave nothing behind for good.

1. A real ``newsflow run`` that loads the demo site and then fails at publish (its temp path is
   blocked by a directory, a real fault the process cannot get past) exits 3 with one line
   naming the stage, its flow run is Failed, the working file holds the articles and the
   snapshot none. The next run finds every feed unchanged (an idle tick), and must publish the
   articles anyway.
2. An analyst's read-write session on the snapshot, with a ``DELETE`` in its ``.wal``: the run
   reports the session by the file's name, removes the log after the rename, and read-only
   readers of the new snapshot see every row.
3. Temp files of publishes whose process is gone are removed at the next publish.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from newsflow.demo.config import demo_config
from newsflow.demo.server import start_demo_site
from newsflow.schemas.config_toml import write_config
from newsflow.tasks.warehouse.warehouse import Warehouse, working_path
from newsflow.tasks.warehouse.writer import open_for_writing

RUN_TIMEOUT_S = 300
ARTICLES = "SELECT url, content_hash FROM articles ORDER BY url"


@pytest.fixture(scope="module")
def site():
    demo = start_demo_site(0)
    yield demo
    demo.stop()


def _cli_env() -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def crashed_then_idle(prefect_harness, site, tmp_path_factory):
    """A run that fails at publish after loading, then an idle tick: what each left."""
    base = tmp_path_factory.mktemp("heal")
    db = base / "news.duckdb"
    config_file = write_config(demo_config(site.base_url, db=str(db)), base / "newsflow.toml")
    with open_for_writing(db, lock_timeout_s=5):  # the empty snapshot a first run publishes
        pass
    command = [sys.executable, "-m", "newsflow.cli.main", "run", "--json"]
    command += ["--config", str(config_file)]
    crashing = subprocess.Popen(
        command, env=_cli_env(), cwd=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # The fault: where this process will write its snapshot, a directory it cannot remove.
    blocker = base / f".news.duckdb.{crashing.pid}.tmp"
    blocker.mkdir()
    (blocker / "keep").write_text("in the way")
    try:
        out, err = crashing.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if crashing.poll() is None:
            crashing.kill()
            crashing.wait(timeout=10)
    crashed = {
        "code": crashing.returncode,
        "stdout": out.decode(errors="replace"),
        "stderr": err.decode(errors="replace"),
        "working": _rows(working_path(db), ARTICLES),
        "snapshot": _rows(db, ARTICLES),
        "runs": _rows(working_path(db), "SELECT run_id, status, message FROM pipeline_runs"),
    }
    idle = subprocess.run(
        command, env=_cli_env(), cwd=base, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    return {
        "db": db,
        "crashed": crashed,
        "idle": idle,
        "working": _rows(working_path(db), ARTICLES),
        "snapshot": _rows(db, ARTICLES),
        "state": _rows(db, "SELECT run_id, watermark FROM snapshot_state"),
        "runs": _rows(db, "SELECT run_id FROM pipeline_runs ORDER BY started_at"),
    }


def test_a_run_failing_at_publish_is_one_line_exit_3_and_failed(crashed_then_idle):
    crashed = crashed_then_idle["crashed"]
    assert crashed["code"] == 3, crashed["stderr"][-3000:]
    assert "Traceback" not in crashed["stderr"]
    errors = [line for line in crashed["stderr"].splitlines() if "newsflow: error:" in line]
    assert len(errors) == 1, crashed["stderr"][-3000:]
    assert errors[0].startswith("newsflow: error: the run failed at publish: IsADirectoryError")
    # the articles were loaded into the working file, the snapshot never got them
    assert len(crashed["working"]) >= 25
    assert crashed["snapshot"] == []
    [(run_id, status, message)] = crashed["runs"]
    assert status == "failed" and "IsADirectoryError" in message
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run_id).state.is_failed()


def test_the_next_idle_tick_publishes_what_the_failed_run_loaded(crashed_then_idle):
    idle = crashed_then_idle["idle"]
    assert idle.returncode == 0, idle.stderr[-3000:]
    summary = json.loads(idle.stdout.strip().splitlines()[-1])
    assert summary["pages_fetched"] == 0  # every feed unchanged: an idle tick
    assert crashed_then_idle["snapshot"] == crashed_then_idle["working"]
    assert len(crashed_then_idle["snapshot"]) == len(crashed_then_idle["crashed"]["working"])
    # the snapshot says what it holds: the newest run, and the working file's watermark
    [(run_id, watermark)] = crashed_then_idle["state"]
    assert run_id == summary["run_id"] == crashed_then_idle["runs"][-1][0]
    assert watermark.startswith(f"{len(crashed_then_idle['working'])}:")


def _row(article_id: str) -> dict:
    text = f"Body text of article {article_id}."
    return {
        "article_id": article_id,
        "url": f"https://news.example/{article_id}",
        "source": "host2" if article_id.endswith("2") else "host1",
        "title": "A headline",
        "text": text,
        "authors": ["Ada Writer"],
        "published_at": datetime(2026, 11, 26, 9, tzinfo=UTC),
        "language": "en",
        "captions": [],
        "word_count": len(text.split()),
        "content_hash": f"hash-of-{text}",
    }


ANALYST = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])  # read-write: what the README tells analysts not to do
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("DELETE FROM articles WHERE source = 'host2'")
    print("deleted", flush=True)
    sys.stdin.readline()
    """
)


def test_an_analysts_read_write_session_never_reaches_a_later_snapshot(tmp_path, caplog):
    db = tmp_path / "news.duckdb"
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        warehouse.load_articles("r1", [_row(f"a{i}") for i in range(1, 5)])
        warehouse.publish()
    analyst = subprocess.Popen(
        [sys.executable, "-c", ANALYST, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert analyst.stdout.readline().strip() == "deleted"
        wal = Path(f"{db}.wal")
        assert wal.exists()
        with (
            caplog.at_level(logging.WARNING, logger="newsflow.warehouse"),
            Warehouse.open(db, lock_timeout_s=5) as warehouse,
        ):
            warehouse.start_run("r2", "ingest")
            warehouse.finish_run("r2", "completed", {}, None)
            warehouse.publish()
        held = [r.message for r in caplog.records if "open read-write" in r.message]
        assert held and str(db) in held[0] and f"PID {analyst.pid}" in held[0]
        assert any(f"removed {db}.wal" in r.message for r in caplog.records)
        assert not wal.exists()
    finally:
        analyst.kill()  # kill -9: no checkpoint, no clean-up of its log
        analyst.wait(timeout=10)
    # read-only readers of the snapshot see every article, host2's included
    assert len(_rows(db, ARTICLES)) == 4
    assert _rows(db, "SELECT run_id FROM pipeline_runs") == [("r2",)]


def test_stale_temp_files_of_killed_publishes_are_removed(tmp_path):
    db = tmp_path / "news.duckdb"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead_pid = int(gone.stdout)
    stale = [
        tmp_path / f".news.duckdb.{dead_pid}.tmp",
        tmp_path / f".news.duckdb.{dead_pid}.tmp.wal",
    ]
    live = tmp_path / ".news.duckdb.1.tmp"  # pid 1 is alive: a publish in progress elsewhere
    other = tmp_path / f".other.duckdb.{dead_pid}.tmp"  # another warehouse's: not ours
    for path in (*stale, live, other):
        path.write_bytes(b"half a snapshot")
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        warehouse.publish()
    assert [p for p in stale if p.exists()] == []
    assert live.exists() and other.exists()
    assert not list(tmp_path.glob(f".news.duckdb.{os.getpid()}.tmp*"))  # nor our own
