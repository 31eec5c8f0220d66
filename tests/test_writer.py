"""The writer guard: the Prefect writer slot and DuckDB's lock, each making a second writer
wait and then fail with a message naming the file and the holder, before writing anything."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
from prefect.concurrency.sync import concurrency
from prefect.settings import PREFECT_API_URL, temporary_settings

from newsflow.tasks.warehouse.connection import WarehouseLocked
from newsflow.tasks.warehouse.warehouse import working_path
from newsflow.tasks.warehouse.writer import (
    TEMPORARY_API_ENV,
    ensure_writer_limit,
    open_for_writing,
    prefect_api_configured,
    writer_limit_name,
)

HOLD_WORKING_FILE = r"""
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def _limit(name):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name)


def test_the_writer_slot_makes_a_second_writer_fail_cleanly(prefect_harness, tmp_path):
    db = tmp_path / "news.duckdb"
    slot = writer_limit_name(working_path(db))
    ensure_writer_limit(slot)
    ensure_writer_limit(slot)  # idempotent
    assert _limit(slot).limit == 1

    with (
        concurrency(slot, occupy=1, strict=True),  # another run is writing
        pytest.raises(WarehouseLocked) as caught,
        open_for_writing(db, lock_timeout_s=1.5),
    ):
        pytest.fail("opened a warehouse whose writer slot is taken")
    message = str(caught.value)
    assert str(working_path(db)) in message
    assert slot in message and "held by" in message
    assert not working_path(db).exists() and not db.exists()  # nothing written

    with open_for_writing(db, lock_timeout_s=5) as warehouse:  # free again
        assert _limit(slot).active_slots == 1
        assert warehouse.published == db
        with duckdb.connect(str(db), read_only=True) as analyst:  # the empty first snapshot
            assert analyst.execute("SELECT count(*) FROM articles").fetchone() == (0,)
    assert _limit(slot).active_slots == 0


def test_each_warehouse_has_its_own_writer_slot(prefect_harness, tmp_path):
    one, other = tmp_path / "one" / "news.duckdb", tmp_path / "other" / "news.duckdb"
    assert writer_limit_name(working_path(one)) != writer_limit_name(working_path(other))
    busy = writer_limit_name(working_path(one))
    ensure_writer_limit(busy)
    with (
        concurrency(busy, occupy=1, strict=True),  # a run is writing `one`
        open_for_writing(other, lock_timeout_s=1.5) as warehouse,  # no wait for `other`
    ):
        assert warehouse.published == other.resolve()
        assert _limit(writer_limit_name(working_path(other))).active_slots == 1


def test_the_clis_temporary_api_takes_no_slot(prefect_harness, tmp_path, monkeypatch):
    """A temporary API server has no lease service: a slot leaked by a killed command would
    never come back, so such runs rely on DuckDB's lock alone."""
    assert prefect_api_configured()
    monkeypatch.setenv(TEMPORARY_API_ENV, PREFECT_API_URL.value())
    assert not prefect_api_configured()
    db = tmp_path / "news.duckdb"
    with open_for_writing(db, lock_timeout_s=5):
        from prefect.client.orchestration import get_client
        from prefect.exceptions import ObjectNotFound

        with get_client(sync_client=True) as client, pytest.raises(ObjectNotFound):
            client.read_global_concurrency_limit_by_name(writer_limit_name(working_path(db)))


def test_without_a_server_duckdb_lock_is_the_guard(tmp_path):
    db = tmp_path / "news.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WORKING_FILE, str(working_path(db))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with temporary_settings(restore_defaults={PREFECT_API_URL}):
            assert not prefect_api_configured()
            with pytest.raises(WarehouseLocked) as caught, open_for_writing(db, lock_timeout_s=1):
                pytest.fail("opened a working file another process holds")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    message = str(caught.value)
    assert str(working_path(db)) in message
    assert f"PID {holder.pid}" in message
    assert not db.exists()
