"""One line per finished run on the terminal of ``newsflow serve``.

Served runs execute in subprocesses that import the flows afresh, so the serve process learns
how a run ended from the Prefect API, like any other client. An ingest run's counts come from
the ``pipeline_runs`` table of the published snapshot (``run_id`` is the flow run id), read
through :func:`newsflow.tasks.warehouse.reader.run_counts` as an analyst would.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from newsflow.cli.output import note
from newsflow.tasks.warehouse.reader import run_counts

_TERMINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


class RunReporter:
    """Context manager: a background thread polling the API for finished runs of
    ``deployments`` (``flow-name/deployment-name``) and printing a line for each."""

    def __init__(
        self, deployments: list[str], *, db: str | None, poll_s: float = 3.0, out: Any = None
    ) -> None:
        self.deployments = deployments
        self.db = db
        self.poll_s = poll_s
        self.out = out or sys.stdout
        self.since = datetime.now(UTC)
        self._stop = threading.Event()
        self._reported: set[str] = set()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunReporter:
        # Prefect's settings (the API URL) live in context variables: carry them over.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._loop,), name="newsflow-run-report", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        ids: list[Any] = []
        while not self._stop.wait(self.poll_s):
            try:
                ids = ids or self._deployment_ids()
                if not ids:
                    continue  # serve has not registered the deployments yet
                for line in self.poll(ids):
                    print(line, file=self.out, flush=True)
            except Exception as exc:  # reporting must never stop the serving
                note(f"run report: {type(exc).__name__}: {exc}")

    def _deployment_ids(self) -> list[Any]:
        from prefect.client.orchestration import get_client
        from prefect.exceptions import ObjectNotFound

        with get_client(sync_client=True) as client:
            try:
                return [client.read_deployment_by_name(name).id for name in self.deployments]
            except ObjectNotFound:  # the first poll can come before serve registers them
                return []

    def poll(self, deployment_ids: list[Any]) -> list[str]:
        """Lines for runs of ``deployment_ids`` that finished since the last poll."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterDeploymentId,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.sorting import FlowRunSort

        finished = FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=deployment_ids),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(_TERMINAL))),
        )
        lines = []
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=finished, sort=FlowRunSort.END_TIME_DESC, limit=20
            )
            names = {}
            for run in reversed(runs):
                if str(run.id) in self._reported or (run.end_time and run.end_time < self.since):
                    continue
                self._reported.add(str(run.id))
                if run.flow_id not in names:
                    names[run.flow_id] = client.read_flow(run.flow_id).name
                lines.append(self.describe(run, names[run.flow_id]))
        return lines

    def describe(self, run: Any, flow_name: str) -> str:
        state = run.state
        stamp = (run.end_time or datetime.now(UTC)).astimezone().strftime("%H:%M:%S")
        took = f" in {run.total_run_time.total_seconds():.1f} s" if run.total_run_time else ""
        detail = ""
        counts = run_counts(self.db, str(run.id)) if self.db else None
        if state is not None and state.message and not state.is_completed():
            detail = f": {state.message.splitlines()[0][:300]}"
        elif counts and counts["flow"] == "checks":
            failed = counts["checks_failed"]
            detail = f": {failed} check(s) failed" if failed else ": all checks passed"
        elif counts:
            detail = (
                f": {counts['articles_new']} new, {counts['articles_updated']} updated, "
                f"{counts['articles_unchanged']} unchanged articles; {counts['pages_fetched']} "
                f"pages fetched, {counts['rejected']} rejected"
            )
        name = state.name if state is not None else "?"
        return f"[{stamp}] {flow_name} run {run.name!r}: {name}{took}{detail}"
