"""The temporary Prefect API a one-off CLI command starts for itself with
``NEWSFLOW_PREFECT_SERVER=temporary`` (the opt-out of the shared local server, which
tests/test_local_server.py covers).

Run in a child process with no ``PREFECT_API_URL``, as a user's ``newsflow run`` would be: a
flow completes against the server, the command's own process never imports the server
application, and the server is gone when the command ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from newsflow.demo.config import demo_config
from newsflow.ops.prefect_server import healthy
from newsflow.schemas.config_toml import write_config
from tests.run_helpers import local_server_env, stop_local_server

CHILD = textwrap.dedent(
    """
    import json, sys
    from prefect import flow
    from newsflow.ops.prefect_server import temporary_api

    @flow
    def add(a: int, b: int) -> int:
        return a + b

    with temporary_api() as url:
        result = add(2, 3)
        from prefect.settings import get_current_settings
        client_url = str(get_current_settings().api.url)
    print(json.dumps({
        "url": url,
        "client_url": client_url,
        "result": result,
        "server_app_imported": "prefect.server.api.server" in sys.modules,
    }))
    """
)


def test_run_against_a_temporary_server_started_without_importing_it(tmp_path):
    env = local_server_env(tmp_path / "prefect-home", NEWSFLOW_PREFECT_SERVER="temporary")
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["result"] == 5
    assert out["url"].startswith("http://127.0.0.1:") and out["url"].endswith("/api")
    assert out["client_url"] == out["url"]  # the flow ran against the server started here
    assert out["server_app_imported"] is False
    assert not healthy(out["url"], timeout_s=1.0)  # stopped with the command
    assert (tmp_path / "prefect-home" / "newsflow-temporary-server.log").exists()


def test_a_configured_api_is_used_as_is():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from newsflow.ops.prefect_server import temporary_api

    nobody = "http://127.0.0.1:9/api"
    with temporary_settings(updates={PREFECT_API_URL: nobody}), temporary_api() as url:
        assert url == nobody  # used as configured: nothing started, nothing probed


@pytest.mark.parametrize(
    ("mode", "log_name"),
    [("temporary", "newsflow-temporary-server.log"), ("shared", "newsflow-local-server.log")],
)
def test_a_server_that_does_not_come_up_is_one_clear_error(tmp_path, mode, log_name):
    """``newsflow run`` when the server it starts does not answer in time: exit 3, one line
    naming the server's log, no traceback, and the server process stopped."""
    config = write_config(demo_config("http://127.0.0.1:9", db="n.duckdb"), tmp_path / "n.toml")
    home = tmp_path / "prefect-home"
    env = local_server_env(home, NEWSFLOW_PREFECT_SERVER=mode)
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "1"  # too short to start
    try:
        done = subprocess.run(
            [sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(config)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 3, done.stderr[-3000:]
        assert "Traceback" not in done.stderr
        log = home / log_name
        assert "did not answer at http://127.0.0.1:" in done.stderr and str(log) in done.stderr
        errors = [line for line in done.stderr.splitlines() if "error:" in line]
        assert len(errors) == 1, done.stderr
        assert not (tmp_path / "n.duckdb").exists()  # nothing ran
        assert not _uvicorn_of(home)  # the server that did not come up is stopped
    finally:
        stop_local_server(home)


def _uvicorn_of(home) -> list[int]:  # noqa: ANN001
    """Live server processes started for ``home`` (by their environment)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if f"PREFECT_HOME={home}".encode() in environ and b"uvicorn" in cmdline:
            found.append(int(proc.name))
    return found
