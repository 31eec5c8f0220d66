"""The one way a newsflow flow runs, so that ``ingest``, ``reprocess`` and ``checks`` cannot
drift apart in how they start and end:

open the warehouse for writing → record the run → the flow's own stages → the data-quality
gate → announce → finish the run record → publish the snapshot → the health report → the final
state.

Announcing comes before publishing so that the snapshot analysts read holds this run's
``alert_log`` and ``notified_state`` together with its ``dq_results``; the health report
(``tasks/report/``) reads that snapshot, so it comes after, and only ever warns.

A run that fails (the warehouse cannot be opened, a DuckDB error, a full disk, a crash in a
stage) is recorded as failed and ends in a Failed state carrying
:class:`~newsflow.flows.failure.RunFailed`: one line naming the stage and the cause, never a
traceback (the CLI exits 3). What earlier batches loaded stays in the working file; the next
run publishes it (``Warehouse.publish`` compares the snapshot's watermark).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar

from prefect.runtime import flow_run

from newsflow.flows.failure import (
    CriticalChecksFailed,
    NothingWorked,
    RunFailed,
    one_line,
    quiet_disk_full_task_logs,
    stage_name,
)
from newsflow.flows.outcome import dead_run_reason
from newsflow.run_log import run_logger
from newsflow.schemas.config import Config, ConfigError, load_config
from newsflow.tasks.quality import gate
from newsflow.tasks.quality.gate import QualityReport
from newsflow.tasks.quality.tasks import announce
from newsflow.tasks.report.write import write_after_run
from newsflow.tasks.warehouse.lake_connection import LakeTarget
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
    nothing_worked: str | None = None  # why a run that completed did nothing useful (exit 4)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    data_docs: str | None = None
    elapsed_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=dict)  # wall time per stage
    # How the snapshot was written: a delta (rows removed and added) or a rebuild.
    published: dict[str, Any] | None = None

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Time ``stage``; while it runs it is the stage a failure is reported at."""
        started = time.perf_counter()
        outer = self.current_stage()
        self._stage = stage
        try:
            yield
            self._stage = outer  # an exception leaves the innermost stage named
        finally:
            self.stage_s[stage] = self.stage_s.get(stage, 0.0) + time.perf_counter() - started

    def at_stage(self, stage: str) -> None:
        """Name the stage running now, for work outside a timed stage."""
        self._stage = stage

    def current_stage(self) -> str:
        """The stage running now (or that failed): not a field, so not in ``--json``."""
        return getattr(self, "_stage", "")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def counts(self) -> dict[str, int]:
        """The counts kept in ``pipeline_runs`` for this run."""
        return {"checks_failed": len(self.checks_failed)}

    def dead_reason(self) -> str | None:
        """Why this run did nothing useful (flows/outcome.py), or None."""
        return None


@dataclass
class RunSummary(FlowSummary):
    """What an ingest or reprocess run did."""

    feeds_polled: int = 0
    feed_errors: dict[str, str] = field(default_factory=dict)  # skipped sources included
    feeds_failed: dict[str, str] = field(default_factory=dict)  # polled and got nothing usable
    pages_fetched: int = 0
    page_errors: dict[str, str] = field(default_factory=dict)  # url → reason
    # The pages fetched for new feed entries (not re-checks of known pages), and those that
    # failed: what "every fetched page failed" is judged on (flows/outcome.py).
    new_pages: int = 0
    pages_due_again: int = 0  # failed pages made due by `newsflow run --retry-failed`
    new_page_errors: dict[str, str] = field(default_factory=dict, repr=False)
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

    def dead_reason(self) -> str | None:
        return dead_run_reason(
            self.feeds_polled, self.feeds_failed, self.new_pages, self.new_page_errors
        )


@dataclass
class CheckSummary(FlowSummary):
    """What ``newsflow check`` found."""

    checked_run_id: str | None = None  # the ingest run whose rates were checked


logger = logging.getLogger("newsflow.run")

S = TypeVar("S", bound=FlowSummary)


@dataclass
class Run(Generic[S]):
    """One flow run in progress: the warehouse it holds, its config, its summary so far (of
    the flow's own summary type, so its stages see its fields)."""

    warehouse: Warehouse
    config: Config
    run_id: str
    summary: S


def current_run_id() -> str:
    """The Prefect flow run's id (``pipeline_runs.run_id``), or a fresh one outside Prefect."""
    run_id = flow_run.get_id()
    return str(run_id) if run_id else uuid.uuid4().hex


def run_flow(
    flow_name: str,
    stages: Callable[[Run[S]], QualityReport],
    summary_type: type[S],
    *,
    config_path: str | None,
    db: str | None,
    config: Config | None,
) -> S | Any:
    """Run ``stages`` under the warehouse's writer guards and end the run the one way.

    Returns the summary, or a Failed state carrying it when nothing worked or a critical check
    failed (a direct call then raises :class:`~newsflow.flows.failure.NothingWorked` or
    :class:`~newsflow.flows.failure.CriticalChecksFailed`), or a Failed state carrying
    :class:`RunFailed` when a stage raised (a direct call raises that)."""
    started = time.monotonic()
    quiet_disk_full_task_logs()  # a full disk is one line, not a task's traceback
    quiet_stopped_runs()
    config = config or load_config(config_path)
    db_path = db or config.warehouse.path
    summary = summary_type(run_id=current_run_id(), db=db_path)
    try:
        report = _run_stages(flow_name, stages, config, db_path, summary)
    except ConfigError:
        raise  # exit 2: the user's file, not the run
    except Exception as exc:
        return _failed_state(summary, exc)
    summary.elapsed_s = time.monotonic() - started
    if summary.nothing_worked:  # Prefect state Failed; a direct call raises NothingWorked
        return failed_state(NothingWorked(summary, summary.nothing_worked))
    if summary.critical_failed:  # Prefect state Failed; a direct call raises with the summary
        return failed_state(CriticalChecksFailed(summary, report.failure_message))
    return summary


def _run_stages(
    flow_name: str,
    stages: Callable[[Run[S]], QualityReport],
    config: Config,
    db_path: str,
    summary: S,
) -> QualityReport:
    """Open the warehouse, record the run, run the stages and conclude; a failure is recorded
    in ``pipeline_runs`` (as far as the warehouse still lets us) and re-raised."""
    summary.at_stage("open the warehouse")
    # One writer at a time: deployment limit, Prefect writer slot, DuckDB lock.
    with open_for_writing(
        db_path,
        lock_timeout_s=config.warehouse.lock_timeout_s,
        memory_limit=config.warehouse.memory_limit,
        lake=LakeTarget.of(config.warehouse),
    ) as warehouse:
        run = Run(warehouse=warehouse, config=config, run_id=summary.run_id, summary=summary)
        crashed = warehouse.start_run(run.run_id, flow_name)
        if crashed:  # their processes were killed: they hold nothing any more
            run_logger().warning(
                "marked %d run(s) left running by a killed process as crashed: %s",
                len(crashed),
                ", ".join(crashed),
            )
        summary.at_stage(flow_name)  # until a timed stage names itself
        try:
            report = stages(run)
            conclude(run, report)
        except BaseException as exc:
            # A full disk or a DuckDB fatal error can leave the connection unusable: the run
            # record is then best effort, and must never hide the cause.
            status, message = ended_by(exc)
            with suppress(Exception), signals_held():
                warehouse.finish_run(run.run_id, status, summary.counts(), message)
            raise
    return report


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while a stopped run records how it ended: a second Ctrl-C
    (people press it twice) or a supervisor's SIGTERM after the terminal's Ctrl-C, landing
    inside the first one's handler, would abort the record half-written and leave the run
    ``running``. Held signals are delivered on the way out (the run is stopping anyway). Only
    the main thread can do this; elsewhere nothing is held."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ended_by(exc: BaseException) -> tuple[str, str]:
    """The ``pipeline_runs`` status and message of a run a stage ended by raising ``exc``:
    ``cancelled`` when a person or a supervisor stopped it (Ctrl-C raises KeyboardInterrupt,
    and the CLI turns SIGTERM into a subclass of it whose message says so; in a run Prefect
    started, SIGTERM raises its TerminationSignal), ``failed`` for everything else. What the
    cancelled run finished stays: each batch's outcome is committed with it."""
    from prefect.exceptions import TerminationSignal

    if isinstance(exc, KeyboardInterrupt):
        return "cancelled", str(exc) or "interrupted (Ctrl-C)"
    if isinstance(exc, TerminationSignal):
        return "cancelled", "terminated (SIGTERM)"
    return "failed", one_line(exc)


#: What Prefect logs at ERROR for each flow and task run that Ctrl-C or SIGTERM stops.
_STOPPED_BY_A_SIGNAL = ("aborted by an interrupt signal", "aborted by a termination signal")


class _DropStoppedRunErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(phrase in message for phrase in _STOPPED_BY_A_SIGNAL)


def quiet_stopped_runs() -> None:
    """Keep Prefect's ``Crash detected! Execution was aborted by an interrupt signal`` and
    ``Finished in state Crashed(…)`` lines, one per flow and task run a Ctrl-C stops, off the
    terminal: the CLI says it in one line, ``pipeline_runs`` records the run ``cancelled`` and
    the Prefect state still says Crashed. Every other error still shows."""
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropStoppedRunErrors) for f in logger.filters):
            logger.addFilter(_DropStoppedRunErrors())


def _failed_state(summary: FlowSummary, exc: Exception) -> Any:
    """The Failed state of a run whose stage raised: the cause in one line, the traceback only
    in the debug log."""
    failed = RunFailed(stage_name(summary.current_stage() or "the run"), one_line(exc))
    logger.debug("run %s failed", summary.run_id, exc_info=exc)
    return failed_state(failed)


def failed_state(exc: Exception) -> Any:
    """The Failed state a flow returns to end failed with ``exc`` as its data: Prefect records
    the run as Failed without a traceback, and a direct call of the flow raises ``exc`` (a
    :class:`RunFailed`, or a :class:`~newsflow.flows.failure.RunEndedFailed` with the summary)."""
    from prefect.states import Failed

    return Failed(message=str(exc), data=exc)


def conclude(run: Run[Any], report: QualityReport) -> None:
    """Gate → announce → finish → publish → health report, in that order for every flow."""
    summary, warehouse = run.summary, run.warehouse
    gate.apply_to_summary(report, summary)
    with summary.timed("alerts"):
        announce(warehouse, report, run.config)  # never raises
    summary.alerts = gate.alert_summaries(report)
    summary.nothing_worked = summary.dead_reason()
    message = report.failure_message
    if summary.nothing_worked:
        summary.status = "failed"
        message = "; ".join(m for m in (summary.nothing_worked, message) if m)
    warehouse.finish_run(run.run_id, summary.status, summary.counts(), message)
    with summary.timed("publish"):
        warehouse.publish()
    if warehouse.last_publish:
        summary.published = asdict(warehouse.last_publish)
        if warehouse.last_lake_publish:  # kind = "ducklake": what the lake received
            summary.published["lake"] = asdict(warehouse.last_lake_publish)
    with summary.timed("report"):  # the health report beside the Data Docs; never raises
        write_after_run(run.config, warehouse.published)
