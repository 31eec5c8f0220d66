"""The ``checks`` flow: the table suite on demand (``newsflow check``), and deployable.

It checks the warehouse as it is now: freshness and duplicate URLs over everything loaded, and
the rates and volume of the latest ingest run. It writes ``dq_results`` and ``alert_state``
under the same writer guards as an ingest run (so it never builds Data Docs while a run does),
publishes a fresh snapshot, alerts on state changes only, and ends Failed when a critical check
fails. Schedule it between ingest runs to notice a source going stale without waiting for
the next load, e.g. ``checks.serve(name="newsflow-checks", cron="0 * * * *")``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from prefect import flow

from newsflow.flows import quality
from newsflow.flows.ingest import current_run_id
from newsflow.flows.writer import open_for_writing
from newsflow.schemas.config import Config, load_config
from newsflow.tasks.table_checks import latest_ingest_run


@dataclass
class CheckSummary:
    """What ``newsflow check`` found, for the CLI and for tests."""

    run_id: str
    db: str
    checked_run_id: str | None = None  # the ingest run whose rates were checked
    status: str = "completed"
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    critical_failed: bool = False
    alerts: list[dict[str, Any]] = field(default_factory=list)
    data_docs: str | None = None
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@flow(name="newsflow-checks", log_prints=False)
def checks(
    config_path: str | None = None, db: str | None = None, config: Config | None = None
) -> CheckSummary:
    """Run the table-level data-quality checks now and alert as configured."""
    started = time.monotonic()
    config = config or load_config(config_path)
    db_path = db or config.warehouse.path
    summary = CheckSummary(run_id=current_run_id(), db=db_path)
    with open_for_writing(db_path, lock_timeout_s=config.warehouse.lock_timeout_s) as warehouse:
        warehouse.start_run(summary.run_id, "checks")
        try:
            summary.checked_run_id = latest_ingest_run(warehouse.con)
            report = quality.run_checks(
                warehouse, summary.run_id, config, checked_run_id=summary.checked_run_id
            )
            quality.apply_to_summary(report, summary)
            quality.announce(warehouse, report, config)  # never raises
            summary.alerts = quality.alert_summaries(report)
            counts = {"checks_failed": len(summary.checks_failed)}
            warehouse.finish_run(summary.run_id, summary.status, counts, report.failure_message)
            warehouse.publish(articles_changed=False)  # checks never touch articles
        except BaseException as exc:
            warehouse.finish_run(summary.run_id, "failed", {}, f"{type(exc).__name__}: {exc}")
            raise
    summary.elapsed_s = time.monotonic() - started
    if summary.critical_failed:
        return quality.failed_state(summary, report.failure_message)
    return summary
