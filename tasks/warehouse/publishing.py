"""Writing the analysts' snapshot: a rebuild from the working file, or an earlier snapshot
with only the changes since applied.

A rebuild copies every table, so its cost grows with everything ever loaded. Most runs change
a few hundred rows of a warehouse of a million, so :func:`apply_delta` starts from an earlier
snapshot instead: the spare (the one before the current, kept by ``snapshot.py``: nothing to
copy) or a copy of the current one (a reflink where the filesystem has them, else one
sequential copy). Table by table, it deletes the rows the working file no longer has as they
are and inserts the rows the snapshot lacks. Rows are compared by primary key and a hash of
every column, except the bulky ones whose change another column already records: ``text``
(covered by ``content_hash``) and the archived HTML (never in the snapshot). The comparison is
in two levels (see :func:`_sync_table`): per bucket of rows first, a streaming scan of each
side, then row by row only inside the buckets that differ, so what is joined and written
follows the change and memory stays flat.

The comparison makes the result equal to the working file whatever the snapshot held, so a
delta heals a snapshot left stale by a failed run as well as a rebuild does. It is used only
when the starting snapshot is known to be intact (same schema version, and written by newsflow
alone: see ``snapshot.py``); after the delta the snapshot's watermark is compared with the
working file's once more, and any difference falls back to a rebuild.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from newsflow.tasks.warehouse import search
from newsflow.tasks.warehouse.migrate import migrate

#: Tables copied into the analysts' snapshot, in dependency-free order.
SNAPSHOT_TABLES = (
    "schema_migrations",
    "pipeline_runs",
    "feed_state",
    "feed_fetches",
    "backfill_jobs",
    "articles",
    "article_versions",
    "rejected_articles",
    "dq_results",
    "story_clusters",
    "alert_state",
    "alert_log",
    "raw_pages",
)

#: Pipeline bookkeeping that analysts do not need (dropped from a rebuilt snapshot).
INTERNAL_TABLES = (
    "seen_entries",
    "source_lines",
    "article_fingerprints",
    "story_state",  # how far story clustering has got (tasks/stories)
    "boilerplate_sets",
    "run_boilerplate",
    "search_docs",  # the full-text index, copied into fts_main_articles (search.py)
    "search_dict",
    "search_terms",
    "backfill_items",  # a backfill's queue (backfill_store.py); its jobs are published
)

#: Columns a row comparison leaves out: bulky, and their change shows in another column.
_UNCOMPARED = {
    "articles": ("text",),  # content_hash covers title and text
    "article_versions": ("text",),
    "raw_pages": ("html",),  # the snapshot keeps the outcome, not the HTML
}

#: Tables without a primary key: compared as whole groups of rows, one group per run.
_GROUP_KEY = {"dq_results": ("run_id",), "alert_log": ("run_id",)}

#: Buckets of a table without a ``run_id``: rows are summarised per bucket of their key.
_HASH_BUCKETS = 1024

#: Differing buckets written into a statement as values (above: a semi join).
_INLINE_BUCKETS = 500

#: FICLONE from <linux/fs.h>: share the source's blocks (btrfs, XFS, bcachefs) instead of
#: copying them.
_FICLONE = 0x40049409


@dataclass(frozen=True)
class PublishStats:
    """How a snapshot was written: ``delta`` (rows removed from and added to an earlier
    snapshot: ``base`` says which, ``spare`` for the one kept from the publish before, ``copy``
    for a copy of the current one) or ``rebuild`` (every row added to a new file)."""

    kind: str
    removed: int = 0
    added: int = 0
    base: str = ""


@contextmanager
def attached(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[None]:
    """``path`` attached to ``con`` as the catalog ``snapshot`` for the block."""
    con.execute(f"ATTACH '{_sql_str(str(path))}' AS snapshot")
    try:
        yield
    finally:
        con.execute("DETACH snapshot")


def rebuild(con: duckdb.DuckDBPyConnection, own: str) -> PublishStats:
    """Fill the attached, empty ``snapshot`` from every table of the working file (the HTML
    left out). The caller holds the transaction."""
    added = 0
    for table in SNAPSHOT_TABLES:
        con.execute(f"DELETE FROM snapshot.{table}")
        added += con.execute(f"INSERT INTO snapshot.{table} {_select(own, table)}").fetchone()[0]
    for table in INTERNAL_TABLES:
        con.execute(f"DROP TABLE snapshot.{table}")
    con.execute(
        "COMMENT ON TABLE snapshot.raw_pages IS 'Every article page fetched, with "
        "status and error; the HTML itself stays in the working file (NULL here).'"
    )
    search.fill_index(con, own, "snapshot")
    return PublishStats("rebuild", added=added)


def prepare_empty(con: duckdb.DuckDBPyConnection, own: str) -> None:
    """The attached, new ``snapshot`` migrated to the working file's schema, with the full-text
    index's structure (cheap while its ``articles`` table is empty)."""
    con.execute("USE snapshot")
    try:
        migrate(con)
    finally:
        con.execute(f'USE "{own}"')
    search.create_index(con, "snapshot")


def apply_delta(con: duckdb.DuckDBPyConnection, own: str) -> PublishStats:
    """Make the attached ``snapshot`` (a copy of the previous one) equal to the working file
    by removing and adding only the rows that differ. The caller holds the transaction."""
    removed = added = 0
    for table in SNAPSHOT_TABLES:
        gone, new = _sync_table(con, own, table)
        removed, added = removed + gone, added + new
    gone, new = search.apply_index_delta(con, own, "snapshot")
    return PublishStats("delta", removed=removed + gone, added=added + new)


def record_state(
    con: duckdb.DuckDBPyConnection, published_at: datetime, run_id: str | None, mark: str
) -> None:
    """The attached snapshot's one ``snapshot_state`` row: when, up to which run, what it
    holds."""
    con.execute("DELETE FROM snapshot.snapshot_state")
    con.execute(
        "INSERT INTO snapshot.snapshot_state VALUES (?, ?, ?)", [published_at, run_id, mark]
    )


def clone_file(source: Path, target: Path) -> None:
    """``target`` as a copy of ``source``: a reflink where the filesystem shares blocks (no
    data copied, instant), else one sequential copy."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            return
        except OSError:
            pass  # no reflinks here (ext4, tmpfs, overlayfs): copy the bytes
        shutil.copyfileobj(src, dst, length=16 * 1024 * 1024)


def _sync_table(con: duckdb.DuckDBPyConnection, own: str, table: str) -> tuple[int, int]:
    """Make ``snapshot.<table>`` equal ``<own>.<table>``; returns (rows removed, rows added).

    Two levels, so that the cost follows the change and memory stays flat. First each side is
    summarised per bucket (row count and an order-free hash of its rows): a streaming
    aggregate with few groups, no join of the table with itself. Only the rows of buckets
    whose summaries differ are then compared by key. A row that changed lies in a differing
    bucket on both sides, whichever bucket it moved between, so the comparison sees both of
    its versions. The bucket is the ``run_id`` where a table has one (a run's writes carry
    it, so a run's changes fall in a handful of buckets), else a hash of the key.
    """
    group_key = _GROUP_KEY.get(table)
    key = list(group_key) if group_key else _primary_key(con, own, table)
    columns = _columns(con, own, table)
    compared = [c for c in columns if c not in _UNCOMPARED.get(table, ())]
    row_hash = f"hash({', '.join(_q(c) for c in compared)})"
    keys = ", ".join(_q(k) for k in key)
    bucket = "run_id" if "run_id" in columns else f"hash({keys}) % {_HASH_BUCKETS}"
    summary = (
        f"SELECT {bucket} AS b, count(*) AS n, bit_xor({row_hash}) AS h "
        f"FROM {{db}}.{table} GROUP BY b"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _buckets AS
        SELECT coalesce(s.b, o.b) AS b
        FROM ({summary.format(db="snapshot")}) s
        FULL JOIN ({summary.format(db=f'"{own}"')}) o ON s.b IS NOT DISTINCT FROM o.b
        WHERE s.n IS DISTINCT FROM o.n OR s.h IS DISTINCT FROM o.h
        """
    )
    try:
        differing = [b for (b,) in con.execute("SELECT b FROM _buckets").fetchall()]
        if not differing:
            return 0, 0
        return _sync_buckets(con, own, table, key, row_hash, _in_buckets(bucket, differing))
    finally:
        con.execute("DROP TABLE _buckets")


def _in_buckets(bucket: str, differing: list[Any]) -> str:
    """A filter for the rows of the ``differing`` buckets. Up to a few hundred buckets, the
    values are written into the statement, so that DuckDB applies the filter inside the
    table scan (skipping the other columns of rows that fail it, and whole row groups where
    min/max statistics allow); more than that, a semi join against ``_buckets``."""
    if len(differing) > _INLINE_BUCKETS:
        nulls = f" OR {bucket} IS NULL" if None in differing else ""
        return f"({bucket} IN (SELECT b FROM _buckets WHERE b IS NOT NULL){nulls})"
    values = [v for v in differing if v is not None]
    parts = [f"{bucket} IS NULL"] if len(values) < len(differing) else []
    if values:
        literals = ", ".join(
            str(int(v)) if isinstance(v, int) else f"'{_sql_str(str(v))}'" for v in values
        )
        parts.append(f"{bucket} IN ({literals})")
    return "(" + " OR ".join(parts) + ")"


def _sync_buckets(
    con: duckdb.DuckDBPyConnection,
    own: str,
    table: str,
    key: list[str],
    row_hash: str,
    in_buckets: str,
) -> tuple[int, int]:
    """Remove and add the rows that differ among those ``in_buckets`` selects."""
    keys = ", ".join(_q(k) for k in key)
    if table in _GROUP_KEY:  # no primary key: a group per run, compared by count and hash
        side = (
            f"SELECT {keys}, count(*) AS n, bit_xor({row_hash}) AS h "
            f"FROM {{db}}.{table} WHERE {in_buckets} GROUP BY {keys}"
        )
        same = "s.n = o.n AND s.h = o.h"
    else:
        side = f"SELECT {keys}, {row_hash} AS h FROM {{db}}.{table} WHERE {in_buckets}"
        same = "s.h = o.h"
    on = " AND ".join(f"s.{_q(k)} = o.{_q(k)}" for k in key)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _delta AS
        SELECT {", ".join(f"coalesce(s.{_q(k)}, o.{_q(k)}) AS {_q(k)}" for k in key)},
               s.h IS NOT NULL AS in_snapshot, o.h IS NOT NULL AS in_working
        FROM ({side.format(db="snapshot")}) s
        FULL JOIN ({side.format(db=f'"{own}"')}) o ON {on}
        WHERE NOT ({same}) OR s.h IS NULL OR o.h IS NULL
        """
    )
    match = " AND ".join(f"t.{_q(k)} = d.{_q(k)}" for k in key)
    removed = con.execute(
        f"DELETE FROM snapshot.{table} t USING _delta d WHERE {match} AND d.in_snapshot"
    ).fetchone()[0]
    added = con.execute(
        f"INSERT INTO snapshot.{table} SELECT t.* "
        f"FROM (SELECT * FROM ({_select(own, table)}) WHERE {in_buckets}) t "
        f"SEMI JOIN (SELECT * FROM _delta WHERE in_working) d ON {match}"
    ).fetchone()[0]
    con.execute("DROP TABLE _delta")
    return int(removed), int(added)


def _select(own: str, table: str) -> str:
    """What the snapshot holds of ``table``: every column, the archived HTML as NULL."""
    if table == "raw_pages":
        return f'SELECT * REPLACE (NULL::BLOB AS html) FROM "{own}".raw_pages'
    return f'SELECT * FROM "{own}".{table}'


def _columns(con: duckdb.DuckDBPyConnection, own: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? "
        "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [own, table],
    ).fetchall()
    return [name for (name,) in rows]


def _primary_key(con: duckdb.DuckDBPyConnection, own: str, table: str) -> list[str]:
    row = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = ? "
        "AND schema_name = 'main' AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [own, table],
    ).fetchone()
    if row is None:  # a table this module does not know how to compare: a programming error
        raise LookupError(f"{table} has no primary key and no group key for a delta publish")
    return list(row[0])


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return value.replace("'", "''")
