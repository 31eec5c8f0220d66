"""Pull steps for ``deploy/prefect.yaml``: run on the worker, in the run's own process, just
before the flow is imported.

Why not Prefect's ``set_working_directory`` with ``{{ $NEWSFLOW_HOME }}``: ``prefect deploy``
already substitutes ``{{ $VAR }}`` from the *deploying* shell when the variable is set there, so
one engineer's local path would end up in the deployment for every worker. These steps read
the worker's environment when the run starts, and say what is missing when it is.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "NEWSFLOW_HOME"


class NewsflowHomeError(RuntimeError):
    """The worker has no usable NEWSFLOW_HOME; the message says what to set."""


def enter_newsflow_home() -> dict[str, str]:
    """Change into ``$NEWSFLOW_HOME``, the worker's folder for newsflow.toml and the warehouse.

    Returns ``{"directory": ...}``, the output Prefect uses as the run's working directory.
    """
    value = os.environ.get(HOME_VARIABLE, "").strip()
    if not value:
        raise NewsflowHomeError(
            f"{HOME_VARIABLE} is not set on this worker: set it, in the worker's environment, to "
            "the folder that holds newsflow.toml (see deploy/README.md)"
        )
    home = Path(value).expanduser()
    if not home.is_dir():
        raise NewsflowHomeError(f"{HOME_VARIABLE}={value}: no such directory on this worker")
    os.chdir(home)
    return {"directory": os.getcwd()}


def set_environment(**variables: str) -> dict[str, list[str]]:
    """Export ``variables`` into the environment of the run about to start.

    Prefect resolves ``{{ prefect.blocks.secret.NAME }}`` in a pull step's inputs on the worker
    when the run starts, so a secret kept in a Secret block reaches the run (e.g. as
    ``NEWSFLOW_ALERT_URLS``) without being stored in the deployment, the work pool or the image.
    The output names the variables, never their values.
    """
    for name, value in variables.items():
        os.environ[name] = str(value)
    return {"variables": sorted(variables)}
