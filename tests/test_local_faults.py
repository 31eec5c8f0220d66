"""Local faults end in one clear line and exit code 3, with nothing half-written.

Each case is a real ``newsflow run`` process reporting to this session's Prefect server: the
warehouse path is a directory, its folder cannot be created or written, the working file is
garbage or truncated, or another process holds it. Each must exit 3 with exactly one
``newsflow: error:`` line naming the stage and the cause, and no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from newsflow.demo.config import demo_config
from newsflow.schemas.config_toml import write_config
from newsflow.tasks.warehouse.warehouse import Warehouse, working_path

RUN_TIMEOUT_S = 300


def _run(base: Path, db: str, *, lock_timeout_s: float = 600.0) -> subprocess.CompletedProcess:
    """``newsflow run`` into ``db`` (a feed on a closed port: no stage gets that far)."""
    from prefect.settings import PREFECT_API_URL

    config = demo_config("http://127.0.0.1:9", db=db)
    config.warehouse.lock_timeout_s = lock_timeout_s
    config_file = write_config(config, base / "newsflow.toml")
    return subprocess.run(
        [sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(config_file)],
        env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())},
        cwd=base,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 3, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if "newsflow: error:" in line]
    assert len(errors) == 1, done.stderr[-3000:]
    return errors[0]


def test_the_warehouse_path_is_a_directory(prefect_harness, tmp_path):
    target = tmp_path / "news.duckdb"
    target.mkdir()
    line = _one_error_line(_run(tmp_path, str(target)))
    assert "the run failed at open the warehouse" in line
    assert "names a directory" in line and str(target) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.duckdb", "newsflow.toml"]
    assert list(target.iterdir()) == []  # nothing written


def test_a_folder_that_cannot_be_created(prefect_harness, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = _one_error_line(_run(tmp_path, str(blocker / "sub" / "news.duckdb")))
    assert "the run failed at open the warehouse: NotADirectoryError" in line
    assert str(blocker) in line


@pytest.mark.parametrize("where", ["/proc/newsflow-test/news.duckdb", "/proc/news.duckdb"])
def test_a_folder_that_cannot_be_written(prefect_harness, tmp_path, where):
    """/proc refuses new entries even to root (the tests may run as root, where a chmod-ed
    folder stays writable): first a folder that cannot be made, then one that takes no file."""
    line = _one_error_line(_run(tmp_path, where))
    assert "the run failed at open the warehouse" in line
    assert "/proc/" in line


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_working_file(prefect_harness, tmp_path, damage):
    db = tmp_path / "news.duckdb"
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        warehouse.publish()
    working = working_path(db)
    if damage == "garbage":
        working.write_bytes(os.urandom(64 * 1024))
    else:
        data = working.read_bytes()
        working.write_bytes(data[: len(data) // 2])
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir() if p.name != "newsflow.toml"}
    line = _one_error_line(_run(tmp_path, str(db)))
    assert "the run failed at open the warehouse: WarehouseDamaged" in line
    assert f"the working file {working} is damaged" in line
    assert '"A damaged working file"' in line  # the README section with the recovery
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir() if p.name != "newsflow.toml"}
    assert after == before  # neither the working file nor the snapshot was touched
    # the documented recovery: move the damaged file away and run again
    working.rename(tmp_path / "news.work.duckdb.damaged")
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        assert warehouse.scalar("SELECT count(*) FROM articles") == 0


HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    sys.stdin.readline()
    """
)


def test_a_working_file_held_by_another_process(prefect_harness, tmp_path):
    db = tmp_path / "news.duckdb"
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        warehouse.publish()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(working_path(db))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        line = _one_error_line(_run(tmp_path, str(db), lock_timeout_s=0.5))
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    assert "the run failed at open the warehouse: WarehouseLocked" in line
    assert f"PID {holder.pid}" in line and "lock_timeout_s" in line
