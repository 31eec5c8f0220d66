"""How a one-off command runs a flow: against a local Prefect API, to a summary."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TypeVar

S = TypeVar("S")


def run_to_summary(flow: Callable[..., S] | str, **parameters: Any) -> S:
    """Run ``flow`` under :func:`~newsflow.ops.prefect_server.temporary_api` and return its
    summary, also when a critical data-quality check failed: the flow run is then Failed and
    raises a :class:`~newsflow.flows.failure.RunEndedFailed`, but its data is loaded and the
    person who ran the command wants to see what happened: a critical check failed (exit code
    1) or nothing worked (exit 4).

    ``flow`` may be named (``"newsflow.flows.ingest:ingest"``): it is then imported only once
    the API is found or started, so a command says what it waits for (a server starting) within
    its first seconds instead of after the flows' imports (Prefect, GX, trafilatura). On a
    terminal a spinner names the wait from the first second."""
    from newsflow.cli import console

    with ExitStack() as stack:
        with console.waiting("connecting to the Prefect API"):
            from newsflow.flows.failure import RunEndedFailed
            from newsflow.ops.prefect_server import temporary_api

            stack.enter_context(temporary_api(note=console.note))
            if isinstance(flow, str):
                console.waiting_on("loading the pipeline")
                module, _, attr = flow.partition(":")
                flow = getattr(importlib.import_module(module), attr)
        try:
            return flow(**parameters)  # type: ignore[operator]
        except RunEndedFailed as failed:
            return failed.summary
