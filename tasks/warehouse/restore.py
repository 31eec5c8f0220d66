"""A working file rebuilt from the analysts' snapshot, when the working file is gone.

The snapshot holds what analysts read: the articles (with ``first_seen_at``), their versions,
rejects, run history, feed polls, data-quality results, alerts, story clusters, and every
page's fetch outcome (``raw_pages`` without its HTML). It lacks the pipeline's bookkeeping
(``seen_entries``, boilerplate line counts, story fingerprints, the search index's tables) and
the HTML archive. Starting from scratch instead would re-crawl every page, count each article
as new and lose the run history; so a run that finds the working file missing but the
snapshot present restores what the snapshot holds (``Warehouse.open`` says so in a warning):

- every snapshot table is copied (columns both files have; the working file is migrated to
  this version first);
- ``seen_entries`` is rebuilt from ``raw_pages``: each page's entry is final (``done``) or due
  again (``retry``, from ``next_attempt_at``), keyed by the page URL, so feeds that list an
  entry under its link do not cause a refetch (an entry whose GUID differs from its link is
  fetched once more; its article, unchanged, stays as it was);
- the feeds' validators (ETag, Last-Modified) are dropped, so that the next poll of every feed
  is a full one: an entry a feed listed while the old working file was lost is seen again;
- fingerprints and the search index rebuild themselves from ``articles`` (both fill in what
  they lack); the boilerplate line counts start again from the next articles.

The restore writes a file beside the working file and renames it into place only when it is
complete, so a failure (a full disk, a kill) leaves no half-restored working file.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from newsflow.tasks.warehouse.connection import OFFLINE
from newsflow.tasks.warehouse.migrate import migrate
from newsflow.tasks.warehouse.publishing import SNAPSHOT_TABLES

#: Snapshot tables not copied: the working file has its own schema record.
_NOT_COPIED = {"schema_migrations"}

_SEEN_FROM_PAGES = """
INSERT INTO seen_entries (source, entry_id, url, state, attempts, first_seen_at,
                          last_attempt_at, title, published_at, next_attempt_at)
SELECT source, url, url,
       CASE WHEN next_attempt_at IS NOT NULL THEN 'retry' ELSE 'done' END,
       coalesce(attempts, 1), fetched_at, coalesce(checked_at, fetched_at),
       entry_title, entry_published_at, next_attempt_at
FROM raw_pages
ON CONFLICT DO NOTHING
"""


def restore_from_snapshot(snapshot: Path, working: Path) -> int | None:
    """Write ``working`` from ``snapshot`` (see the module's docstring); returns the number of
    articles restored, or None when another run made ``working`` meanwhile (then that file
    stands: DuckDB's lock decides who writes it next)."""
    partial = working.with_name(f".{working.name}.{os.getpid()}.restoring")
    for leftover in (partial, Path(f"{partial}.wal")):
        leftover.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(partial), config=OFFLINE) as con:
            migrate(con)
            con.execute(f"ATTACH '{_sql_str(str(snapshot))}' AS restored (READ_ONLY)")
            con.execute("BEGIN TRANSACTION")
            for table in SNAPSHOT_TABLES:
                if table in _NOT_COPIED:
                    continue
                columns = _shared_columns(con, table)
                if columns:
                    names = ", ".join(f'"{c}"' for c in columns)
                    con.execute(
                        f"INSERT INTO main.{table} ({names}) SELECT {names} FROM restored.{table}"
                    )
            con.execute(_SEEN_FROM_PAGES)
            con.execute("UPDATE feed_state SET etag = NULL, last_modified = NULL")
            con.execute("COMMIT")
            articles = con.execute("SELECT count(*) FROM articles").fetchone()
            con.execute("DETACH restored")
            con.execute("CHECKPOINT")
        try:
            os.link(partial, working)  # never over a working file another run made meanwhile
        except FileExistsError:  # another run restored it first: theirs it is
            return None
        finally:
            partial.unlink()
    except BaseException:
        for leftover in (partial, Path(f"{partial}.wal")):
            leftover.unlink(missing_ok=True)
        raise
    return int(articles[0]) if articles else 0


def _shared_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Columns of ``table`` in both files, in the working file's order (a snapshot of an
    older schema lacks the newer ones; a newer one's extra columns are not ours to keep)."""
    rows = con.execute(
        """
        SELECT w.column_name FROM duckdb_columns() w
        JOIN duckdb_columns() s ON s.table_name = w.table_name AND s.column_name = w.column_name
        WHERE w.database_name = current_database() AND s.database_name = 'restored'
          AND w.table_name = ? AND w.schema_name = 'main' AND s.schema_name = 'main'
        ORDER BY w.column_index
        """,
        [table],
    ).fetchall()
    return [name for (name,) in rows]


def _sql_str(value: str) -> str:
    return value.replace("'", "''")
