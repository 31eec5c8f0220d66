"""How a one-off command runs a flow: under its own temporary Prefect API, to a summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

S = TypeVar("S")


def run_to_summary(flow: Callable[..., S], **parameters: Any) -> S:
    """Run ``flow`` under :func:`~newsflow.ops.prefect_server.temporary_api` and return its
    summary, also when a critical data-quality check failed: the flow run is then Failed and
    raises :class:`~newsflow.tasks.quality.gate.CriticalChecksFailed`, but its data is loaded
    and the person who ran the command wants to see what happened (exit code 1). The same for
    a run in which nothing worked (:class:`~newsflow.flows.outcome.NothingWorked`, exit 4)."""
    from newsflow.flows.outcome import NothingWorked
    from newsflow.ops.prefect_server import temporary_api
    from newsflow.tasks.quality.gate import CriticalChecksFailed

    try:
        with temporary_api():
            return flow(**parameters)
    except (CriticalChecksFailed, NothingWorked) as failed:
        return failed.summary
