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
}

for _key, _value in _DEFAULTS.items():
    os.environ.setdefault(_key, _value)
