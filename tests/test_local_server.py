"""The local Prefect server one-off commands share (newsflow/ops/prefect_server.py): started by
the first command of a ``$PREFECT_HOME``, reused by the later ones, one even when two start at
once, stopped by ``newsflow server stop`` or after its idle timeout, and never stopped under a
command using it. Real processes throughout: each command is a child Python process running a
real flow against the server, with a ``$PREFECT_HOME`` of the test's own; every test stops the
server it started (the ``home`` fixture), so the suite leaves none behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from newsflow.ops.prefect_server import STATE_FILE, healthy, local_server
from tests.run_helpers import local_server_env, stop_local_server

COMMAND = textwrap.dedent(
    """
    import json, sys, time
    from newsflow.ops.prefect_server import temporary_api

    with temporary_api() as url:
        from prefect import flow

        @flow
        def add(a: int, b: int) -> int:
            return a + b

        print(json.dumps({"url": url, "result": add(2, 3)}), flush=True)
        time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
    """
)


@pytest.fixture
def home(tmp_path: Path):
    home = tmp_path / "prefect-home"
    home.mkdir()
    yield home
    stop_local_server(home)


def _command(home: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", COMMAND, *args],
        env=local_server_env(home, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _newsflow(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsflow.cli.main", *args],
        env=local_server_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _eventually(condition, what: str, within_s: float = 120.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.2)


def test_the_first_command_starts_it_later_ones_reuse_it_stop_stops_it(home):
    first = _result(_command(home))
    server = local_server(home)
    assert server is not None and server.url == first["url"] and first["result"] == 5
    assert healthy(server.url)  # outlived the command that started it, deliberately
    second = _result(_command(home))
    assert second["url"] == first["url"]
    assert local_server(home) == server  # the same processes, not a new start

    status = _newsflow(home, "server", "status")
    assert status.returncode == 0
    assert server.url in status.stdout and "idle" in status.stdout

    stopped = _newsflow(home, "server", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped the local Prefect server at {server.url}" in stopped.stderr
    assert _gone(server.pid) and _gone(server.server_pid)
    assert not healthy(server.url, timeout_s=1.0)
    assert not (home / STATE_FILE).exists()
    assert "no local Prefect server running" in _newsflow(home, "server", "status").stdout


def test_two_commands_starting_at_once_get_one_server(home):
    both = [_command(home), _command(home)]
    urls = {_result(proc)["url"] for proc in both}
    assert len(urls) == 1
    uvicorns = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _mentions(p, str(home))]
    assert len(uvicorns) == 2, uvicorns  # one supervisor and its one server


def _mentions(proc: Path, text: str) -> bool:
    try:
        environ = (proc / "environ").read_bytes()
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return False
    own = f"PREFECT_HOME={text}".encode() in environ.split(b"\0")
    return own and (b"uvicorn" in cmdline or b"newsflow.ops.prefect_server" in cmdline)


def test_an_idle_server_stops_by_itself(home):
    """Idle timeout 3 s: gone soon after the command, state file removed with it."""
    _result(_command(home, NEWSFLOW_SERVER_IDLE_MIN="0.05"))
    state = json.loads((home / STATE_FILE).read_text())
    _eventually(lambda: _gone(state["pid"]) and _gone(state["server_pid"]), "idle stop")
    assert not (home / STATE_FILE).exists()


def test_it_is_not_stopped_under_a_command_and_a_killed_command_lets_go(home):
    """A command using the server holds it: ``server stop`` refuses (exit 1) and the idle
    timeout waits. Killed with -9, the command leaves nothing holding it: the server stops
    once idle, as if the command had ended normally."""
    holder = _command(home, "600", NEWSFLOW_SERVER_IDLE_MIN="0.05")
    line = holder.stdout.readline()
    url = json.loads(line)["url"]
    server = local_server(home)
    assert server is not None and server.in_use()
    time.sleep(5)  # past the idle timeout: still there, because it is in use
    assert healthy(url)
    refused = _newsflow(home, "server", "stop")
    assert refused.returncode == 1
    assert "in use by a running newsflow command" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "in use" in _newsflow(home, "server", "status").stdout

    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate(timeout=60)
    _eventually(lambda: _gone(server.pid) and _gone(server.server_pid), "stop after the kill")
