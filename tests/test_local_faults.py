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

import pytest

from newsflow.tasks.warehouse.warehouse import Warehouse, working_path
from tests.run_helpers import one_error_line, run_newsflow


def test_the_warehouse_path_is_a_directory(prefect_harness, tmp_path):
    target = tmp_path / "news.duckdb"
    target.mkdir()
    line = one_error_line(run_newsflow(tmp_path, str(target)))
    assert "the run failed at open the warehouse" in line
    assert "names a directory" in line and str(target) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.duckdb", "newsflow.toml"]
    assert list(target.iterdir()) == []  # nothing written


def test_a_folder_that_cannot_be_created(prefect_harness, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = one_error_line(run_newsflow(tmp_path, str(blocker / "sub" / "news.duckdb")))
    assert "the run failed at open the warehouse: NotADirectoryError" in line
    assert str(blocker) in line


@pytest.mark.parametrize("where", ["/proc/newsflow-test/news.duckdb", "/proc/news.duckdb"])
def test_a_folder_that_cannot_be_written(prefect_harness, tmp_path, where):
    """/proc refuses new entries even to root (the tests may run as root, where a chmod-ed
    folder stays writable): first a folder that cannot be made, then one that takes no file."""
    line = one_error_line(run_newsflow(tmp_path, where))
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
    line = one_error_line(run_newsflow(tmp_path, str(db)))
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
        line = one_error_line(run_newsflow(tmp_path, str(db), lock_timeout_s=0.5))
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    assert "the run failed at open the warehouse: WarehouseLocked" in line
    assert f"PID {holder.pid}" in line and "lock_timeout_s" in line
