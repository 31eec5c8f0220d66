"""A light command loads neither Prefect, DuckDB nor requests (newsflow/cli/main.py): they cost
seconds at start, and ``newsflow extract`` or ``--help`` needs none of them.

Run in a child process, since this test session has long imported all three."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from newsflow.cli.main import EXPECTED_FAILURES

HEAVY = ("prefect", "duckdb", "requests")

PROBE = """
import sys
from newsflow.cli.main import main
try:
    main({argv!r})
except SystemExit:
    pass
print("loaded:", [m for m in {heavy!r} if m in sys.modules])
"""


@pytest.mark.parametrize("argv", [["extract"], ["extract", "--help"], ["--help"], []])
def test_a_light_command_loads_no_heavy_library(argv):
    probe = PROBE.format(argv=argv, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.splitlines()[-1] == "loaded: []"


@pytest.mark.parametrize(("module", "name", "code"), EXPECTED_FAILURES)
def test_every_expected_failure_names_a_real_exception(module, name, code):
    """The CLI finds these classes by name; a renamed one would turn an exit code into a
    traceback."""
    kind = getattr(importlib.import_module(module), name)
    assert issubclass(kind, Exception)
    assert code in (2, 3)
