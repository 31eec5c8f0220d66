"""deploy/prefect.yaml on a real Prefect server, run by a real process worker.

A ``prefect server start`` on a free loopback port with its own PREFECT_HOME; the work pool
created and the ingest deployed with the Prefect CLI from ``deploy/prefect.yaml``; a process
worker started in another directory with ``NEWSFLOW_HOME`` pointing at a folder that holds a
``newsflow.toml`` for the demo site (served by this test on loopback). One triggered run must
end Completed and leave the demo's articles in the warehouse, which the config names with a
relative path: proof that the worker ran the flow in ``$NEWSFLOW_HOME``.

The server runs without its scheduler, so no cron tick can add a run of its own; the schedule
is checked on the deployment record instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import duckdb
import pytest
import requests

from newsflow.cli.serve import INGEST_CRON
from newsflow.demo.config import demo_config
from newsflow.ops.prefect_server import free_port, wait_healthy
from newsflow.schemas.config_toml import write_config
from newsflow.tasks.warehouse.warehouse import working_path
from newsflow.tasks.warehouse.writer import writer_limit_name

pytestmark = pytest.mark.server

REPO = Path(__file__).resolve().parents[1]
PREFECT = [sys.executable, "-m", "prefect"]
CLI_TIMEOUT_S = 120
RUN_TIMEOUT_S = 240


def _env(home: Path, **extra: str) -> dict[str, str]:
    """A clean Prefect environment: nothing inherited from this test session's harness."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_UI_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_CLI_PROMPT="false",
        PREFECT_LOGGING_LEVEL="INFO",
    )
    env.update(extra)
    return env


def _start(args: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole below
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group this test started, SIGKILL it if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
    with suppress(ProcessLookupError):  # children (a flow-run subprocess) share the group
        os.killpg(process.pid, signal.SIGKILL)


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [*PREFECT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _tail(path: Path, lines: int = 60) -> str:
    return (
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Prefect server (SQLite in a temporary PREFECT_HOME) on a free loopback port."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    log = home / "server.log"
    env = _env(
        home,
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false",
    )
    process = _start(
        [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, log, home
    )
    try:
        wait_healthy(api, process, log, timeout_s=150)
        yield {"api": api, "home": home, "env": _env(home, PREFECT_API_URL=api)}
    finally:
        _stop(process)


def test_worker_runs_the_deployed_ingest(server, demo_site, tmp_path):
    env = server["env"]
    api = server["api"]

    # The folder a worker machine keeps its config and warehouse in.
    newsflow_home = tmp_path / "newsflow-home"
    write_config(demo_config(demo_site.base_url, db="news.duckdb"), newsflow_home / "newsflow.toml")

    # Deploy from a copy of deploy/prefect.yaml, so nothing can rewrite the repository's file.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "deploy" / "prefect.yaml", project / "prefect.yaml")
    _cli(["work-pool", "create", "newsflow", "--type", "process"], env, project)
    _cli(
        ["--no-prompt", "deploy", "--prefect-file", "prefect.yaml", "--name", "ingest"],
        env,
        project,
    )

    deployment = requests.get(f"{api}/deployments/name/newsflow-ingest/ingest", timeout=10).json()
    assert deployment["entrypoint"] == "newsflow.flows.ingest:ingest"
    assert deployment["work_pool_name"] == "newsflow"
    assert deployment["parameters"] == {"config_path": "newsflow.toml"}
    assert [s["schedule"].get("cron") for s in deployment["schedules"]] == [INGEST_CRON]
    assert deployment["global_concurrency_limit"]["limit"] == 1
    assert deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert deployment["pull_steps"] == [{"newsflow.ops.deploy_steps.enter_newsflow_home": {}}]

    elsewhere = tmp_path / "worker-cwd"  # the worker starts anywhere; the pull step moves it
    elsewhere.mkdir()
    worker_log = tmp_path / "worker.log"
    worker = _start(
        [*PREFECT, "worker", "start", "--pool", "newsflow", "--type", "process", "--limit", "1"],
        {**env, "NEWSFLOW_HOME": str(newsflow_home), "PREFECT_WORKER_QUERY_SECONDS": "2"},
        worker_log,
        elsewhere,
    )
    try:
        created = requests.post(
            f"{api}/deployments/{deployment['id']}/create_flow_run", json={}, timeout=10
        )
        created.raise_for_status()
        run_id = created.json()["id"]
        state = _wait_for_end(api, run_id, worker)
    finally:
        _stop(worker)
    assert state["type"] == "COMPLETED", f"{state}\n--- worker log ---\n{_tail(worker_log)}"

    warehouse = newsflow_home / "news.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        runs = con.execute("SELECT run_id, flow, status FROM pipeline_runs").fetchall()
        sources = {s for (s,) in con.execute("SELECT DISTINCT source FROM articles").fetchall()}
    assert articles >= 25
    assert sources == {"harbor-gazette", "valley-courier", "north-star-wire"}
    assert runs == [(run_id, "ingest", "completed")]
    assert not (elsewhere / "news.duckdb").exists()

    # The run held the warehouse writer slot and gave it back.
    slot = writer_limit_name(working_path(warehouse))
    limit = requests.get(f"{api}/v2/concurrency_limits/{slot}", timeout=10).json()
    assert (limit["limit"], limit["active_slots"]) == (1, 0)


def _wait_for_end(api: str, run_id: str, worker: subprocess.Popen[bytes]) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    state: dict = {}
    while time.monotonic() < deadline:
        state = requests.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["state"] or {}
        if state.get("type") in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return state
        assert worker.poll() is None, "the worker exited"
        time.sleep(1)
    raise AssertionError(f"flow run {run_id} did not finish within {RUN_TIMEOUT_S} s: {state}")
