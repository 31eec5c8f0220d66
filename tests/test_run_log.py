"""``run_logger`` (newsflow/run_log.py): the one "log to the flow run if there is one" helper of
the alerts, the snapshot and the writer slot."""

from __future__ import annotations

import logging
import subprocess
import sys

from prefect import flow

from newsflow.run_log import run_logger

FALLBACK = logging.getLogger("newsflow.test-run-log")


def test_inside_a_flow_run_it_is_the_run_logger(prefect_harness):
    @flow(name="run-log-probe")
    def probe() -> object:
        return run_logger(FALLBACK)

    got = probe()
    assert got is not FALLBACK
    assert got.extra.get("flow_run_id")  # Prefect's adapter: the message goes with the run


def test_outside_a_flow_run_it_is_the_fallback():
    assert run_logger(FALLBACK) is FALLBACK
    assert run_logger() is logging.getLogger("newsflow.run")


def test_without_prefect_loaded_it_does_not_load_prefect():
    probe = (
        "import logging, sys\n"
        "from newsflow.run_log import run_logger\n"
        "fallback = logging.getLogger('x')\n"
        "print(run_logger(fallback) is fallback, 'prefect' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["True", "False"]
