"""Publishing into a DuckLake: each run's changes merged into the lake as one snapshot, tagged
with the run's id, and the lake read as any run left it.

The DuckDB working file stays the pipeline's writer (its archive, bookkeeping and checks are
unchanged); a publish copies what the runs of this working file changed since its last publish
into the lake. So several machines, each with its own working file (a shard of the sources),
publish into one lake, and analysts attach one catalog instead of collecting files.

DuckLake has no primary keys, indexes or ``ON CONFLICT``; rows are merged with ``MERGE INTO``
keyed on the working file's primary-key columns (:data:`LAKE_TABLES`). Two writers merging
the same new key at once would both insert it: DuckLake only refuses a commit whose changes
conflict with a newer snapshot's (two deletes from one data file, a create of the same name),
and two inserts never do. So every publish also updates the one row of :data:`STATE_TABLE`:
two publishes that overlap in time then always conflict, the loser's transaction is rolled
back and run again against the winner's snapshot, where the key is now matched. The cost is
that publishes commit one after the other (the runs themselves, and their writes into their
own working files, still run side by side); a lost race never loses or duplicates a row.

Which rows: those of the working file's runs that the lake does not have yet (a finished run
absent from ``lake.pipeline_runs``). A publish that failed (the catalog was down) is therefore
made good by the next one, which carries both runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from newsflow.run_log import run_logger
from newsflow.tasks.warehouse import lake_connection
from newsflow.tasks.warehouse.lake_connection import ALIAS, LakeTarget, LakeUnavailable

#: The tables a publish merges, with the columns that identify a row in the lake.
#: ``article_versions`` adds the content to the working file's key: two working files (shards)
#: number an article's versions each for itself, and the same content at the same number is
#: one version, whoever saw it.
LAKE_TABLES: dict[str, tuple[str, ...]] = {
    "pipeline_runs": ("run_id",),
    "articles": ("article_id",),
    "article_versions": ("article_id", "version", "content_hash"),
}

#: One row, updated by every publish: what makes two overlapping publishes conflict (see the
#: module's docstring), and what the lake last received.
STATE_TABLE = "lake_state"

logger = logging.getLogger("newsflow.warehouse")

#: Who DuckLake records as the author of newsflow's snapshots.
AUTHOR = "newsflow"


@dataclass(frozen=True)
class LakePublish:
    """What a publish merged: the runs (oldest first), the DuckLake snapshot it made (None when
    the lake already had every run), the article rows merged and the commit attempts."""

    runs: tuple[str, ...] = ()
    snapshot_id: int | None = None
    articles: int = 0
    attempts: int = 0


def publish(con: duckdb.DuckDBPyConnection, target: LakeTarget) -> LakePublish:
    """Merge the runs of the working file ``con`` uses that the lake lacks into the lake, as
    one snapshot; the lake is attached for the call and detached after."""
    own = con.execute("SELECT current_database()").fetchone()[0]
    lake_connection.attach(con, target)
    try:
        ensure_tables(con, own)
        attempts = 0

        def merge() -> tuple[tuple[str, ...], int]:
            nonlocal attempts
            attempts += 1
            return _merge_pending(con, own)

        runs, articles = lake_connection.with_conflict_retry(con, merge)
        if not runs:
            return LakePublish(attempts=attempts)
        done = LakePublish(runs, _snapshot_of(con, runs[-1]), articles, attempts)
    finally:
        con.execute(f"DETACH {ALIAS}")
    run_logger(logger).info(
        "published %d run(s) into the lake as snapshot %s (%d article rows merged, %d "
        "commit attempt(s))",
        len(done.runs),
        done.snapshot_id,
        done.articles,
        done.attempts,
    )
    return done


def ensure_tables(con: duckdb.DuckDBPyConnection, own: str) -> None:
    """Create what the lake lacks: the :data:`LAKE_TABLES` with the working file's columns and
    comments (no constraints: DuckLake has none to offer), columns a later migration added,
    and the state row. Runs again on a conflict: another process may be creating them too."""

    def create() -> None:
        have = {
            name
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [ALIAS]
            ).fetchall()
        }
        for table in LAKE_TABLES:
            if table not in have:
                con.execute(
                    f'CREATE TABLE {ALIAS}.{table} AS SELECT * FROM "{own}".{table} LIMIT 0'
                )
                _copy_comments(con, own, table)
                continue
            lake_columns = set(_columns(con, ALIAS, table))
            for name, kind in _typed_columns(con, own, table):
                if name not in lake_columns:
                    con.execute(f"ALTER TABLE {ALIAS}.{table} ADD COLUMN {_q(name)} {kind}")
        if STATE_TABLE not in have:
            con.execute(
                f"CREATE TABLE {ALIAS}.{STATE_TABLE} (last_run_id VARCHAR, "
                "published_at TIMESTAMPTZ, publishes BIGINT)"
            )
            con.execute(f"INSERT INTO {ALIAS}.{STATE_TABLE} VALUES (NULL, NULL, 0)")
            con.execute(
                f"COMMENT ON TABLE {ALIAS}.{STATE_TABLE} IS 'One row: the run newsflow "
                "published last, when, and how many publishes the lake has had.'"
            )

    lake_connection.with_conflict_retry(con, create)


def _merge_pending(con: duckdb.DuckDBPyConnection, own: str) -> tuple[tuple[str, ...], int]:
    """Inside the caller's transaction: merge the pending runs' rows, move the state row and
    tag the snapshot. Returns the runs and the article rows merged."""
    runs = tuple(
        run
        for (run,) in con.execute(
            f"""
            SELECT run_id FROM "{own}".pipeline_runs
            WHERE status <> 'running'
              AND run_id NOT IN (SELECT run_id FROM {ALIAS}.pipeline_runs)
            ORDER BY started_at, run_id
            """
        ).fetchall()
    )
    if not runs:
        return (), 0
    pending = ", ".join(f"'{_sql_str(r)}'" for r in runs)
    articles = 0
    for table, key in LAKE_TABLES.items():
        merged = con.execute(_merge_sql(con, own, table, key, pending)).fetchone()
        if table == "articles":
            articles = int(merged[0]) if merged else 0
    con.execute(
        f"UPDATE {ALIAS}.{STATE_TABLE} SET last_run_id = ?, published_at = ?, "
        "publishes = publishes + 1",
        [runs[-1], datetime.now(UTC)],
    )
    extra = json.dumps({"run_ids": list(runs)})
    con.execute(
        f"CALL {ALIAS}.set_commit_message(?, ?, extra_info => ?)",
        [AUTHOR, f"run {runs[-1]}", extra],
    )
    return runs, articles


def _merge_sql(
    con: duckdb.DuckDBPyConnection, own: str, table: str, key: Sequence[str], pending: str
) -> str:
    """The ``MERGE INTO`` of ``table``'s rows written by the ``pending`` runs.

    ``articles``: the newer sighting (``last_seen_at``) wins the content; the version goes up
    by one when the content differs from the lake's (or to the working file's, if higher);
    the lake keeps the first ``source``, ``origin`` and ``first_seen_at``. ``pipeline_runs``:
    the working file's row. ``article_versions``: a version the lake lacks is added."""
    columns = _columns(con, own, table)
    on = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in key)
    source = f'SELECT * FROM "{own}".{table} WHERE run_id IN ({pending})'
    insert = (
        f"INSERT ({', '.join(_q(c) for c in columns)}) "
        f"VALUES ({', '.join(f's.{_q(c)}' for c in columns)})"
    )
    if table == "article_versions":
        return (
            f"MERGE INTO {ALIAS}.{table} AS t USING ({source}) AS s ON {on} "
            f"WHEN NOT MATCHED THEN {insert}"
        )
    kept = {"article_id", "source", "origin"} if table == "articles" else set(key)
    rules = {
        "version": "CASE WHEN t.content_hash = s.content_hash "
        "THEN greatest(t.version, s.version) ELSE greatest(t.version + 1, s.version) END",
        "first_seen_at": "least(t.first_seen_at, s.first_seen_at)",
    }
    sets = ", ".join(
        f"{_q(c)} = {rules[c] if table == 'articles' and c in rules else f's.{_q(c)}'}"
        for c in columns
        if c not in kept
    )
    newer = " AND s.last_seen_at >= t.last_seen_at" if table == "articles" else ""
    return (
        f"MERGE INTO {ALIAS}.{table} AS t USING ({source}) AS s ON {on} "
        f"WHEN MATCHED{newer} THEN UPDATE SET {sets} "
        f"WHEN NOT MATCHED THEN {insert}"
    )


def _snapshot_of(con: duckdb.DuckDBPyConnection, run_id: str) -> int | None:
    """The DuckLake snapshot newsflow made for ``run_id`` (its publish), or None."""
    rows = con.execute(
        f"SELECT snapshot_id, commit_extra_info FROM {ALIAS}.snapshots() "
        "WHERE author = ? ORDER BY snapshot_id",
        [AUTHOR],
    ).fetchall()
    for snapshot_id, extra in rows:
        try:
            runs = json.loads(extra or "{}").get("run_ids", [])
        except (ValueError, AttributeError):
            continue
        if run_id in runs:
            return int(snapshot_id)
    return None


@dataclass(frozen=True)
class LakeView:
    """The lake as a reader asks for it: now, or as the publish of ``as_of_run`` left it."""

    target: LakeTarget
    as_of_run: str | None = None


def connect_as_of(target: LakeTarget, run_id: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the lake (``USE lake``): its current state, or with
    ``run_id`` every table pinned to the snapshot that run's publish made, the connection-wide
    form of ``SELECT … FROM t AT (VERSION => n)``."""
    con = lake_connection.connect(target, read_only=True)
    if run_id is None:
        return con
    try:
        snapshot_id = _snapshot_of(con, run_id)
    finally:
        con.close()
    if snapshot_id is None:
        raise LakeUnavailable(f"run {run_id} has no snapshot in the lake (not published there)")
    return lake_connection.connect(target, snapshot_version=snapshot_id)


def _copy_comments(con: duckdb.DuckDBPyConnection, own: str, table: str) -> None:
    """The working file's table and column comments onto the lake's new ``table``."""
    row = con.execute(
        "SELECT comment FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
        [own, table],
    ).fetchone()
    if row and row[0]:
        con.execute(f"COMMENT ON TABLE {ALIAS}.{table} IS '{_sql_str(row[0])}'")
    for name, comment in con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = ? "
        "AND table_name = ? AND comment IS NOT NULL ORDER BY column_index",
        [own, table],
    ).fetchall():
        con.execute(f"COMMENT ON COLUMN {ALIAS}.{table}.{_q(name)} IS '{_sql_str(comment)}'")


def _columns(con: duckdb.DuckDBPyConnection, db: str, table: str) -> list[str]:
    return [name for name, _ in _typed_columns(con, db, table)]


def _typed_columns(con: duckdb.DuckDBPyConnection, db: str, table: str) -> list[tuple[str, str]]:
    return [
        (name, kind)
        for name, kind in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
            "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
            [db, table],
        ).fetchall()
    ]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return value.replace("'", "''")
