"""How a one-off command runs a flow: under its own temporary Prefect API, to a summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

S = TypeVar("S")


def run_to_summary(flow: Callable[..., S], **parameters: Any) -> S:
    """Run ``flow`` under :func:`~newsflow.ops.prefect_server.temporary_api` and return its
    summary, also when a critical data-quality check failed: the flow run is then Failed and
    raises a :class:`~newsflow.flows.failure.RunEndedFailed`, but its data is loaded and the
    person who ran the command wants to see what happened: a critical check failed (exit code
    1) or nothing worked (exit 4)."""
    from newsflow.flows.failure import RunEndedFailed
    from newsflow.ops.prefect_server import temporary_api

    try:
        with temporary_api():
            return flow(**parameters)
    except RunEndedFailed as failed:
        return failed.summary
