"""The read side of the warehouse, as the command line uses it: a query's printable result, a
full-text search, and what a run recorded.

Everything here opens the published snapshot read-only (:func:`connect_read_only`), as an
analyst would, so it never waits for a run and never blocks one. Callers get plain Python
values and :class:`QueryError`, never a DuckDB object or exception: DuckDB stays inside this
package.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from os import PathLike
from typing import Any

import duckdb

from newsflow.tasks.warehouse.connection import Connection, connect_read_only
from newsflow.tasks.warehouse.lake import LakeView, connect_as_of
from newsflow.tasks.warehouse.lake_connection import LakeUnavailable
from newsflow.tasks.warehouse.search import Hit, SearchUnavailable, load_fts
from newsflow.tasks.warehouse.search import search as search_index

#: Rows and characters of a rendered result (wider tables lose middle columns, DuckDB-style).
MAX_ROWS = 50
MAX_WIDTH = 200

#: The ``pipeline_runs`` counts :func:`run_counts` reports (missing values count as 0).
RUN_COUNTS = (
    "articles_new",
    "articles_updated",
    "articles_unchanged",
    "pages_fetched",
    "rejected",
    "checks_failed",
)


class QueryError(Exception):
    """The SQL did not run (a syntax error, an unknown table, a write on the read-only file);
    the message is the first line of DuckDB's."""


#: What a query reads: a snapshot file, or a DuckLake (now, or as a run left it).
Readable = str | PathLike[str] | LakeView


@contextlib.contextmanager
def open_snapshot(db: Readable) -> Iterator[Connection]:
    """A read-only connection to ``db`` with the full-text extension loaded when it can be, so
    ``fts_main_articles.match_bm25`` works in a query (and everything else works without it).
    A :class:`LakeView` is the lake attached read-only and in use (no full-text index there);
    a lake that cannot be reached, or a run it has no snapshot of, is a :class:`QueryError`."""
    if isinstance(db, LakeView):
        try:
            lake_con = connect_as_of(db.target, db.as_of_run)
        except LakeUnavailable as exc:
            raise QueryError(str(exc)) from None
        with lake_con:
            yield lake_con
        return
    with connect_read_only(db) as con:
        with contextlib.suppress(SearchUnavailable, duckdb.Error):
            load_fts(con)
        yield con


def query(db: Readable, sql: str, *, max_rows: int = MAX_ROWS) -> str | None:
    """``sql``'s result over the snapshot ``db``, rendered as DuckDB's table (at most
    ``max_rows`` rows, :data:`MAX_WIDTH` characters wide); None for a statement that returns
    no rows (``SET``, ``PRAGMA`` …).

    DuckDB renders with those limits only through ``show()``, which prints: the text is
    captured here so the caller decides where it goes. Raises :class:`QueryError`, also for an
    error DuckDB meets only while executing (a failed cast), after binding succeeded.
    """
    with open_snapshot(db) as con:
        try:
            relation = con.sql(sql)
            if relation is None:
                return None
            rendered = io.StringIO()
            with contextlib.redirect_stdout(rendered):
                relation.show(max_width=MAX_WIDTH, max_rows=max_rows)
        except duckdb.Error as exc:
            raise QueryError(str(exc).splitlines()[0]) from None
    return rendered.getvalue()


#: Rows fetched from DuckDB at a time while streaming a result.
STREAM_CHUNK = 1000


def query_rows(
    db: Readable, sql: str, *, max_rows: int | None = None
) -> Iterator[list[str] | tuple[Any, ...]]:
    """``sql``'s result over the snapshot ``db`` as plain Python values: first the list of
    column names, then one tuple per row (every row, or the first ``max_rows``), fetched in
    chunks so a large result streams instead of filling memory. A statement that returns no
    rows yields nothing. Raises :class:`QueryError` (on the first ``next``)."""
    with open_snapshot(db) as con:
        try:
            relation = con.sql(sql)
            if relation is None:
                return
            if max_rows is not None:
                relation = relation.limit(max_rows)
            yield list(relation.columns)
            while rows := relation.fetchmany(STREAM_CHUNK):
                yield from rows
        except duckdb.Error as exc:
            raise QueryError(str(exc).splitlines()[0]) from None


def search(
    db: str | PathLike[str], terms: str, *, limit: int = 10, source: str | None = None
) -> list[Hit]:
    """Best BM25 matches for ``terms`` in the snapshot ``db`` (SearchUnavailable: no index)."""
    with connect_read_only(db) as con:
        return search_index(con, terms, limit=limit, source=source)


def run_counts(db: str | PathLike[str], run_id: str) -> dict[str, Any] | None:
    """What run ``run_id`` recorded in ``pipeline_runs``: its ``flow`` and :data:`RUN_COUNTS`;
    None when the snapshot is missing, unreadable (being replaced) or does not have the run."""
    try:
        with connect_read_only(db) as con:
            row = con.execute(
                f"SELECT {', '.join(RUN_COUNTS)}, flow FROM pipeline_runs WHERE run_id = ?",
                [run_id],
            ).fetchone()
    except duckdb.Error:
        return None
    if row is None:
        return None
    return {"flow": row[-1], **{k: (v or 0) for k, v in zip(RUN_COUNTS, row[:-1], strict=True)}}
