"""The ``checks`` flow: the table suite on demand (``newsflow check``), and deployable.

It checks the warehouse as it is now: freshness and duplicate URLs over everything loaded, and
the rates and volume of the latest ingest run. It writes ``dq_results`` and ``alert_state``
under the same writer guards as an ingest run (so it never builds Data Docs while a run does),
publishes a fresh snapshot, alerts on state changes only, and ends Failed when a critical check
fails. Schedule it between ingest runs to notice a source going stale without waiting for
the next load (``deploy/prefect.yaml`` runs it hourly).
"""

from __future__ import annotations

from prefect import flow

from newsflow.flows.scaffold import CheckSummary, Run, run_flow
from newsflow.schemas.config import Config
from newsflow.tasks.quality.gate import QualityReport
from newsflow.tasks.quality.tasks import run_checks


@flow(name="newsflow-checks", log_prints=False)
def checks(
    config_path: str | None = None, db: str | None = None, config: Config | None = None
) -> CheckSummary:
    """Run the table-level data-quality checks now and alert as configured."""
    return run_flow(
        "checks", check_stages, CheckSummary, config_path=config_path, db=db, config=config
    )


def check_stages(run: Run[CheckSummary]) -> QualityReport:
    run.summary.checked_run_id = run.warehouse.latest_ingest_run()
    return run_checks(
        run.warehouse, run.run_id, run.config, checked_run_id=run.summary.checked_run_id
    )
