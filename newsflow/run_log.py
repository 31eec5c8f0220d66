"""Log to the flow run when there is one: the message then shows with the run (in the Prefect
UI and on the CLI's terminal); outside a run it goes to the caller's own Python logger.

A root module, beside :mod:`newsflow.progress`, so that every layer (stages, warehouse, flows)
may use it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

_RUN = logging.getLogger("newsflow.run")


def run_logger(fallback: logging.Logger = _RUN) -> Any:
    """The flow run's logger inside a run, else ``fallback``.

    Without Prefect loaded there can be no flow run, so Prefect is not imported for nothing
    (a light CLI command that logs a warning stays light)."""
    if "prefect" not in sys.modules:
        return fallback
    try:
        from prefect.logging import get_run_logger

        return get_run_logger()
    except Exception:  # noqa: BLE001 - outside a flow run (MissingContextError)
        return fallback
