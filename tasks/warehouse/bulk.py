"""What every store of the warehouse writes with: rows as one Arrow table typed like the DuckDB
table, registered once and written with one statement.

Per-row statements (``executemany`` of upserts) cost a round trip and an index probe each and,
measured at a few hundred alert states, ran DuckDB out of memory; one registered table and one
``INSERT … SELECT`` / ``UPDATE … FROM`` does the same work as a single bulk statement. The store
mixins (``feed_store``, ``alert_store``, ``story_store``, ``metrics``) and ``Warehouse`` share
the connection and these helpers through :class:`BulkStore`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import duckdb
import pyarrow as pa

from newsflow.tasks.warehouse.transaction import transaction

_CAPTION_TYPE = pa.list_(
    pa.struct([("text", pa.string()), ("credit", pa.string()), ("image_url", pa.string())])
)
_TS = pa.timestamp("us", tz="UTC")


class BulkStore:
    """The connection and the bulk-write helpers every store mixin of ``Warehouse`` uses."""

    con: duckdb.DuckDBPyConnection
    _in_transaction: bool = False

    def _transaction(self) -> AbstractContextManager[None]:
        """One transaction; inside another (``Warehouse.batch``) it joins the outer one, so a
        batch's articles, rejects, page errors and finished entries commit together."""
        return self._joined() if self._in_transaction else self._outermost()

    @contextmanager
    def _outermost(self) -> Iterator[None]:
        self._in_transaction = True
        try:
            with transaction(self.con):
                yield
        finally:
            self._in_transaction = False

    @contextmanager
    def _joined(self) -> Iterator[None]:
        yield

    @contextmanager
    def _registered(self, name: str, table: pa.Table) -> Iterator[None]:
        """``table`` visible to SQL as ``name`` for the block (unregistered even on error)."""
        self.con.register(name, table)
        try:
            yield
        finally:
            self.con.unregister(name)

    def _insert(self, table: str, rows: Sequence[dict[str, Any]], *, replace: bool = False) -> None:
        arrow = arrow_table(rows, table, self.con)
        with self._registered("_rows", arrow):
            cols = ", ".join(f'"{c}"' for c in arrow.column_names)
            verb = "INSERT OR REPLACE" if replace else "INSERT"
            self.con.execute(f"{verb} INTO {table} ({cols}) SELECT {cols} FROM _rows")


def arrow_table(
    rows: Sequence[dict[str, Any]], table: str, con: duckdb.DuckDBPyConnection
) -> pa.Table:
    """Rows as an Arrow table typed like the DuckDB table (lists, structs and timestamps)."""
    columns = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE table_name = ? AND database_name = current_database() AND schema_name = 'main' "
        "ORDER BY column_index",
        [table],
    ).fetchall()
    names = [c for c, _ in columns if any(c in r for r in rows[:1])] or [c for c, _ in columns]
    types = dict(columns)
    arrays = {}
    for name in names:
        values = [r.get(name) for r in rows]
        arrays[name] = pa.array(values, type=_arrow_type(types[name]))
    return pa.table(arrays)


def _arrow_type(duck: str) -> pa.DataType:
    duck = duck.upper()
    if duck.startswith("STRUCT(") and duck.endswith(")[]"):  # the only struct list: captions
        return _CAPTION_TYPE
    return {
        "VARCHAR": pa.string(),
        "VARCHAR[]": pa.list_(pa.string()),
        "INTEGER": pa.int32(),
        "BIGINT": pa.int64(),
        "BOOLEAN": pa.bool_(),
        "BLOB": pa.binary(),
        "JSON": pa.string(),
        "DOUBLE": pa.float64(),
        "TIMESTAMP WITH TIME ZONE": _TS,
    }.get(duck, pa.string())
