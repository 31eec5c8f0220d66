"""The one way a newsflow flow runs, so that ``ingest``, ``reprocess`` and ``checks`` cannot
drift apart in how they start and end:

open the warehouse for writing → record the run → the flow's own stages → the data-quality
gate → announce → finish the run record → publish the snapshot → the final state.

Announcing comes before publishing so that the snapshot analysts read holds this run's
``alert_log`` and ``notified_state`` together with its ``dq_results``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from prefect import get_run_logger
from prefect.exceptions import MissingContextError
from prefect.runtime import flow_run

from newsflow.schemas.config import Config, load_config
from newsflow.tasks.quality import gate
from newsflow.tasks.quality.gate import QualityReport
from newsflow.tasks.quality.tasks import announce
from newsflow.tasks.warehouse.warehouse import LoadCounts, Warehouse
from newsflow.tasks.warehouse.writer import open_for_writing


@dataclass
class FlowSummary:
    """What every flow reports, for the CLI's closing summary, ``--json`` and tests."""

    run_id: str
    db: str
    status: str = "completed"
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    critical_failed: bool = False
    alerts: list[dict[str, Any]] = field(default_factory=list)
    data_docs: str | None = None
    elapsed_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=dict)  # wall time per stage

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_s[stage] = self.stage_s.get(stage, 0.0) + time.perf_counter() - started

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def counts(self) -> dict[str, int]:
        """The counts kept in ``pipeline_runs`` for this run."""
        return {"checks_failed": len(self.checks_failed)}


@dataclass
class RunSummary(FlowSummary):
    """What an ingest or reprocess run did."""

    feeds_polled: int = 0
    feed_errors: dict[str, str] = field(default_factory=dict)
    pages_fetched: int = 0
    page_errors: dict[str, str] = field(default_factory=dict)  # url → reason
    loaded: LoadCounts = field(default_factory=LoadCounts)
    rejected: dict[str, list[str]] = field(default_factory=dict)  # url → failed checks
    # Row-suite results folded per check over the batches (tasks/quality/gate.py).
    row_checks: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def counts(self) -> dict[str, int]:
        return {
            "feeds_polled": self.feeds_polled,
            "pages_fetched": self.pages_fetched,
            "page_errors": len(self.page_errors),
            "articles_new": self.loaded.new,
            "articles_updated": self.loaded.updated,
            "articles_unchanged": self.loaded.unchanged,
            "rejected": len(self.rejected),
            "checks_failed": len(self.checks_failed),
        }


@dataclass
class CheckSummary(FlowSummary):
    """What ``newsflow check`` found."""

    checked_run_id: str | None = None  # the ingest run whose rates were checked


S = TypeVar("S", bound=FlowSummary)


@dataclass
class Run:
    """One flow run in progress: the warehouse it holds, its config, its summary so far."""

    warehouse: Warehouse
    config: Config
    run_id: str
    summary: Any
    articles_changed: bool = True  # False: publish keeps the snapshot's articles as they are


def current_run_id() -> str:
    """The Prefect flow run's id (``pipeline_runs.run_id``), or a fresh one outside Prefect."""
    run_id = flow_run.get_id()
    return str(run_id) if run_id else uuid.uuid4().hex


def run_flow(
    flow_name: str,
    stages: Callable[[Run], QualityReport],
    summary_type: type[S],
    *,
    config_path: str | None,
    db: str | None,
    config: Config | None,
) -> S | Any:
    """Run ``stages`` under the warehouse's writer guards and end the run the one way.

    Returns the summary, or a Failed state carrying it when a critical check failed (a direct
    call then raises :class:`~newsflow.tasks.quality.gate.CriticalChecksFailed`)."""
    started = time.monotonic()
    config = config or load_config(config_path)
    db_path = db or config.warehouse.path
    summary = summary_type(run_id=current_run_id(), db=db_path)
    # One writer at a time: deployment limit, Prefect writer slot, DuckDB lock.
    with open_for_writing(db_path, lock_timeout_s=config.warehouse.lock_timeout_s) as warehouse:
        run = Run(warehouse=warehouse, config=config, run_id=summary.run_id, summary=summary)
        crashed = warehouse.start_run(run.run_id, flow_name)
        if crashed:  # their processes were killed: they hold nothing any more
            _logger().warning(
                "marked %d run(s) left running by a killed process as crashed: %s",
                len(crashed),
                ", ".join(crashed),
            )
        try:
            report = stages(run)
            conclude(run, report)
        except BaseException as exc:
            message = f"{type(exc).__name__}: {exc}"
            warehouse.finish_run(run.run_id, "failed", summary.counts(), message)
            raise
    summary.elapsed_s = time.monotonic() - started
    if summary.critical_failed:  # Prefect state Failed; a direct call raises with the summary
        return gate.failed_state(summary, report.failure_message)
    return summary


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The flow run's logger (its lines reach the Prefect UI), or newsflow's outside a run."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("newsflow")


def conclude(run: Run, report: QualityReport) -> None:
    """Gate → announce → finish → publish, in that order for every flow."""
    summary, warehouse = run.summary, run.warehouse
    gate.apply_to_summary(report, summary)
    with summary.timed("alerts"):
        announce(warehouse, report, run.config)  # never raises
    summary.alerts = gate.alert_summaries(report)
    warehouse.finish_run(run.run_id, summary.status, summary.counts(), report.failure_message)
    with summary.timed("publish"):
        warehouse.publish(articles_changed=run.articles_changed)
