"""The quality stage's Prefect tasks: the row suite per batch, the run's Data Docs page, the
table checks and alert state after a load, and the alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.run_log import run_logger
from newsflow.schemas.config import Config
from newsflow.schemas.suites import TABLE_SUITE, effective_thresholds
from newsflow.tasks.quality import alerts, validate
from newsflow.tasks.quality.gate import (
    QualityReport,
    checked_sources,
    data_docs_dir,
    row_check_results,
)
from newsflow.tasks.quality.gx_context import docs_index_path
from newsflow.tasks.quality.table_checks import check_tables
from newsflow.tasks.quality.validate import ValidationOutcome, validate_articles
from newsflow.tasks.warehouse.warehouse import Warehouse


@task(name="validate-articles", cache_policy=NO_CACHE)
def validate_batch(
    rows: Sequence[dict[str, Any]],
    config: Config,
    data_docs_dir: Path | None = None,
    run_id: str | None = None,
) -> ValidationOutcome:
    """The row suite over the whole batch: one Great Expectations run.

    ``[checks]`` also holds the table suite's thresholds; the row suite takes only its own.
    With ``data_docs_dir`` the validation lands in the Data Docs site, named by ``run_id``.
    """
    return validate_articles(
        list(rows),
        thresholds=config.checks,
        source_thresholds={s.name: s.checks for s in config.sources},
        expected_language={s.name: s.language for s in config.sources},
        data_docs_dir=data_docs_dir,
        run_id=run_id,
    )


@task(name="document-row-checks", cache_policy=NO_CACHE)
def document_row_checks(frames: Sequence[Any], data_docs_dir: Path, run_id: str) -> Path | None:
    """The run's row checks, every batch's rows, as one page of the Data Docs site."""
    return validate.document_row_checks(frames, data_docs_dir=data_docs_dir, run_id=run_id)


@task(name="table-checks", cache_policy=NO_CACHE)
def run_checks(
    warehouse: Warehouse,
    run_id: str,
    config: Config,
    row_tally: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    checked_run_id: str | None = None,
    now: datetime | None = None,
) -> QualityReport:
    """Table suite + row tally → ``dq_results`` (table rows) and ``alert_state``.

    ``checked_run_id`` is the ingest run whose rates are checked (default ``run_id``); the
    row suite's own ``dq_results`` rows were written per batch at load time.
    """
    now = now or datetime.now(UTC)
    sources = checked_sources(config, warehouse)
    thresholds = effective_thresholds(
        TABLE_SUITE, config.checks, {s.name: s.checks for s in config.sources}, sources
    )
    docs = data_docs_dir(config, warehouse.published)
    table = check_tables(
        warehouse,
        run_id=checked_run_id or run_id,
        thresholds=thresholds,
        data_docs_dir=docs,
        validation_name=run_id,
        now=now,
    )
    results = row_check_results(row_tally or {}) + table.results
    report = QualityReport(
        run_id=run_id,
        results=results,
        data_docs_page=table.data_docs_page,
        data_docs_index=table.data_docs_index
        or (docs_index_path(docs) if docs_index_path(docs).is_file() else None),
    )
    warehouse.save_dq_results(run_id, [r.dq_row() for r in table.results if r.status != "skip"])

    previous = warehouse.load_alert_states()
    updated = []
    for result in results:
        before = previous.get(result.key)
        after = alerts.advance(before, result, run_id, now)
        if after is None or after is before:
            continue
        updated.append(after)
        kind = alerts.transition(before, after)
        if kind:
            report.changes.append((kind, after))
    warehouse.save_alert_states(updated)
    return report


@task(name="send-alerts", cache_policy=NO_CACHE)
def announce(warehouse: Warehouse, report: QualityReport, config: Config) -> QualityReport:
    """Deliver the announcements due and emit one Prefect event per state change.

    Never raises. A message counts as delivered when a destination accepted it (or when none
    is configured and it was logged); otherwise its checks stay due and the next run tries again.
    """
    try:
        _announce(warehouse, report, config)
    except Exception as exc:  # noqa: BLE001 - alerting must never fail the load
        run_logger(alerts.log).error("alerting failed: %s: %s", type(exc).__name__, exc)
    return report


def _announce(warehouse: Warehouse, report: QualityReport, config: Config) -> None:
    notices = alerts.pending_notices(warehouse.load_alert_states().values())
    messages = alerts.build_messages(
        notices,
        run_id=report.run_id,
        data_docs_page=report.data_docs_page,
        data_docs_index=report.data_docs_index,
    )
    for message in messages:
        report.alerts.append(
            alerts.send_alert(
                message,
                config.alerts.all_urls(),
                run_id=report.run_id,
                warehouse=warehouse,
                announces=[n.state for n in notices if n.kind == message.kind],
                attempts=config.alerts.delivery_attempts,
                retry_delay_s=config.alerts.retry_delay_s,
            )
        )
    report.events = alerts.emit_events(
        report.changes, run_id=report.run_id, data_docs_page=report.data_docs_page
    )
