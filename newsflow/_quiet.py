"""Telemetry off and logs quiet before Prefect or Great Expectations are imported.

Users should not have to remember exports: importing ``newsflow`` sets these defaults, and
an explicit value in the environment still wins.
"""

import os

_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_CLI_PROMPT": "false",
    "TQDM_DISABLE": "1",
    # The temporary API server migrates its database on first start: give a slow disk time.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}

for _key, _value in _DEFAULTS.items():
    os.environ.setdefault(_key, _value)
