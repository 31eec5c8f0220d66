"""Opening the working file: "damaged, move it away" only for real corruption.

Moving the working file away throws away the ``raw_pages`` archive (the snapshot has no HTML),
so that advice is kept for files DuckDB cannot read: not a DuckDB file, cut short, a block whose
checksum fails. A readable file on which a migration fails (a conflicting table here; a
migration bug or an out-of-memory error alike) is reported as that migration's failure, the
file left as it was. Real DuckDB files throughout; the last test is a real ``newsflow run``.
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
from newsflow.tasks.warehouse.connection import MigrationFailed, WarehouseDamaged, is_corruption
from newsflow.tasks.warehouse.migrate import available_migrations
from newsflow.tasks.warehouse.warehouse import Warehouse, working_path

FIRST = available_migrations()[0]


def _readable_file_whose_first_migration_fails(db: Path) -> Path:
    """A valid DuckDB working file holding an ``articles`` table of its own, so migration 001
    (which creates ``articles``) fails with a Catalog Error."""
    working = working_path(db)
    with duckdb.connect(str(working)) as con:
        con.execute("CREATE TABLE articles (note VARCHAR)")
        con.execute("INSERT INTO articles VALUES ('keep me')")
    return working


def _published_warehouse(db: Path) -> bytes:
    with Warehouse.open(db, lock_timeout_s=5) as warehouse:
        warehouse.publish()
    return working_path(db).read_bytes()


def test_a_migration_failing_on_a_readable_file_names_the_migration(tmp_path):
    db = tmp_path / "news.duckdb"
    working = _readable_file_whose_first_migration_fails(db)
    with pytest.raises(MigrationFailed) as caught:
        Warehouse.open(db, lock_timeout_s=5)
    message = str(caught.value)
    assert not isinstance(caught.value, WarehouseDamaged)
    assert f"migration {FIRST.version:03d} ({FIRST.name}) failed on {working}" in message
    assert 'Table with name "articles" already exists' in message
    assert "move it away" not in message and "not damaged" in message
    with duckdb.connect(str(working), read_only=True) as con:  # rolled back, the data kept
        assert con.execute("SELECT note FROM articles").fetchall() == [("keep me",)]
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone() == (0,)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "checksum"])
def test_a_corrupt_working_file_is_still_called_damaged(tmp_path, damage):
    db = tmp_path / "news.duckdb"
    data = _published_warehouse(db)
    half = len(data) // 2
    damaged = {
        "garbage": os.urandom(64 * 1024),  # "not a valid DuckDB database file"
        "truncated": data[:half],  # "Could not read enough bytes"
        "checksum": data[:half] + bytes(len(data) - half),  # "computed checksum ... does not match"
    }[damage]
    working_path(db).write_bytes(damaged)
    with pytest.raises(WarehouseDamaged, match="is damaged and cannot be opened"):
        Warehouse.open(db, lock_timeout_s=5)


@pytest.mark.parametrize(
    ("exc", "corrupt"),
    [
        (duckdb.IOException('IO Error: "w" exists, but is not a valid DuckDB database file'), True),
        (duckdb.IOException("IO Error: Corrupt database file: computed checksum 1"), True),
        (duckdb.IOException("IO Error: Could not read enough bytes from file"), True),
        (duckdb.IOException("IO Error: Failed to read block 12"), True),
        (duckdb.SerializationException("Serialization Error: Failed to deserialize"), True),
        # A newer DuckDB's file: readable by that version, so not damaged.
        (duckdb.IOException("IO Error: Trying to read a database file with version number"), False),
        (duckdb.IOException('IO Error: Cannot open file "w": Permission denied'), False),
        (duckdb.CatalogException('Catalog Error: Table with name "articles" already exi'), False),
        (duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate block"), False),
        (duckdb.CatalogException("Catalog Error: column checksum not found"), False),  # the type
    ],
)
def test_corruption_is_judged_on_type_and_message(exc, corrupt):
    assert is_corruption(exc) is corrupt


def test_a_run_on_such_a_file_fails_with_one_line_naming_the_migration(prefect_harness, tmp_path):
    from prefect.settings import PREFECT_API_URL

    db = tmp_path / "news.duckdb"
    working = _readable_file_whose_first_migration_fails(db)
    config = write_config(demo_config("http://127.0.0.1:9", db=str(db)), tmp_path / "n.toml")
    done = subprocess.run(
        [sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(config)],
        env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if "newsflow: error:" in line]
    assert len(errors) == 1, done.stderr[-3000:]
    assert "the run failed at open the warehouse: MigrationFailed: migration 001" in errors[0]
    assert str(working) in errors[0] and "damaged" not in errors[0].replace("not damaged", "")
    assert working.exists()
