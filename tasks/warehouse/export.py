"""Parquet export of the warehouse, for tools that do not speak DuckDB (Spark, pandas, a lake).

``articles`` is written as a Hive-partitioned dataset, ``DIR/articles/source=S/published_date=D/
data_0.parquet``: most questions filter on a source and a period, and partition pruning then
skips every other file. ``published_date`` is the UTC publication day (the first-seen day when
an article has no publication time); the partition columns live in the paths, and readers that
understand Hive partitioning (DuckDB, pyarrow, Spark, polars) give them back as columns.

The export reads the published snapshot read-only, so it never waits for a run. It replaces
``DIR/articles`` as a whole (files of a previous export are removed, not left to mix with
this one); nothing else in ``DIR`` is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsflow.tasks.warehouse.connection import connect_read_only

#: What is exported: every column of ``articles`` plus the day it is partitioned by.
_ARTICLES_QUERY = (
    "SELECT *, CAST(timezone('UTC', coalesce(published_at, first_seen_at)) AS DATE) "
    "AS published_date FROM articles"
)
PARTITION_COLUMNS = ("source", "published_date")


@dataclass(frozen=True)
class ExportResult:
    path: Path  # the dataset folder (DIR/articles)
    rows: int
    files: int


def export_parquet(db: str | Path, out_dir: str | Path) -> ExportResult:
    """Write ``articles`` of the warehouse ``db`` to ``out_dir/articles`` as partitioned Parquet."""
    db = Path(db)
    if not db.is_file():
        raise FileNotFoundError(f"{db}: no such warehouse file")
    target = Path(out_dir).expanduser().resolve() / "articles"
    target.parent.mkdir(parents=True, exist_ok=True)
    with connect_read_only(db) as con:
        path = str(target).replace("'", "''")
        partitions = ", ".join(PARTITION_COLUMNS)
        con.execute(
            f"COPY ({_ARTICLES_QUERY}) TO '{path}' "
            f"(FORMAT parquet, PARTITION_BY ({partitions}), OVERWRITE true)"
        )
        rows = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    files = sum(1 for _ in target.rglob("*.parquet"))
    return ExportResult(path=target, rows=int(rows), files=files)
