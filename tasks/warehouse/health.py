"""The health report's reads: the documented views and tables (``daily_articles_by_source``,
``source_health``, ``dq_results``, ``alert_state``, ``alert_log``, ``pipeline_runs``) over the
published snapshot, as the typed records of ``schemas/health.py``.

Read-only on the snapshot, like an analyst: the report never waits for a run and never blocks
one. The time window is counted back from the newest row of each table, not from the clock,
so a warehouse that has not run for a while (or a demo site with fixed dates) still shows its
last weeks instead of an empty page. The reads that grow with every run (runs, check
evaluations, articles per day, alerts) are bounded by the window and a row cap, so the report of
a warehouse that has run every 15 minutes for years costs what its window holds; the others
hold one row per source or per check and source.

A file without newsflow's tables (created but never run, or not a newsflow warehouse) reads
as an empty :class:`WarehouseHealth`; the report then says there is nothing to show yet.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from newsflow.schemas.health import (
    AlertEvent,
    CheckEvaluation,
    CheckState,
    DailyArticles,
    RunRecord,
    SourceHealth,
    WarehouseHealth,
)
from newsflow.tasks.warehouse.connection import Connection, connect_read_only

WINDOW_DAYS = 30
"""Days of history the report covers, back from the newest row."""

MAX_RUNS = 500
MAX_EVALUATIONS = 20_000
MAX_ALERTS = 50

_RUNS = f"""
SELECT run_id, flow, started_at, finished_at, status, coalesce(articles_new, 0),
       coalesce(page_errors, 0), coalesce(rejected, 0), coalesce(checks_failed, 0)
FROM pipeline_runs
WHERE started_at >= (SELECT max(started_at) FROM pipeline_runs) - to_days(CAST(? AS INTEGER))
ORDER BY started_at DESC LIMIT {MAX_RUNS}
"""

_DAILY = """
SELECT day, source, articles FROM daily_articles_by_source
WHERE day > (SELECT max(day) FROM daily_articles_by_source) - CAST(? AS INTEGER)
ORDER BY day, source
"""

_SOURCES = """
SELECT source, last_polled_at, last_success_at, coalesce(consecutive_errors, 0),
       coalesce(pages_7d, 0), page_error_rate_7d, reject_rate_7d, coalesce(articles_total, 0)
FROM source_health ORDER BY source
"""

_EVALUATIONS = f"""
SELECT "check", source, severity, success, checked_at FROM dq_results
WHERE checked_at >= (SELECT max(checked_at) FROM dq_results) - to_days(CAST(? AS INTEGER))
  AND success IS NOT NULL
ORDER BY checked_at DESC LIMIT {MAX_EVALUATIONS}
"""

_STATES = """
SELECT "check", source, severity, state, since, coalesce(failing_runs, 0) FROM alert_state
ORDER BY state = 'passing', "check", source
"""

_ALERTS = f"""
SELECT kind, title, checks, delivered, created_at FROM alert_log
ORDER BY created_at DESC LIMIT {MAX_ALERTS}
"""


class HealthUnreadable(Exception):
    """The file is not a warehouse DuckDB can read (damaged, another program's, a newer
    DuckDB's); the message names the file and gives the first line of DuckDB's words."""


def load_health(db: str | Path, *, window_days: int = WINDOW_DAYS) -> WarehouseHealth:
    """What the health report of the snapshot ``db`` shows (``FileNotFoundError`` without
    one, :class:`HealthUnreadable` when DuckDB cannot read it). The reads share one
    read-only connection, so they see one published state."""
    db = Path(db)
    if not db.is_file():
        raise FileNotFoundError(f"{db}: no such warehouse file")
    try:
        return _load(db, window_days)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise HealthUnreadable(f"{db}: cannot read the warehouse: {first}") from None


def _load(db: Path, window_days: int) -> WarehouseHealth:
    now = datetime.now(UTC)
    with connect_read_only(db) as con:
        try:
            runs = [RunRecord(*r) for r in _rows(con, _RUNS, window_days)]
        except duckdb.CatalogException:  # no pipeline_runs: never ran
            return WarehouseHealth(db=str(db), generated_at=now, window_days=window_days)
        return WarehouseHealth(
            db=str(db),
            generated_at=now,
            window_days=window_days,
            runs=runs[::-1],
            daily=[DailyArticles(*r) for r in _rows(con, _DAILY, window_days)],
            sources=[SourceHealth(*r) for r in _rows(con, _SOURCES)],
            evaluations=[CheckEvaluation(*r) for r in _rows(con, _EVALUATIONS, window_days)][::-1],
            states=[CheckState(*r) for r in _rows(con, _STATES)],
            alerts=[_alert(r) for r in _rows(con, _ALERTS)],
        )


def _rows(con: Connection, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return con.execute(sql, list(params)).fetchall()


def _alert(row: tuple[Any, ...]) -> AlertEvent:
    kind, title, checks, delivered, created_at = row
    return AlertEvent(kind, title or "", tuple(checks or ()), bool(delivered), created_at)
