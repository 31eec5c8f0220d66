"""Ctrl-C in a one-off command: ``newsflow run`` as a real process against the local Prefect
server, interrupted with SIGINT (what a terminal's Ctrl-C sends to the whole foreground process
group) while it fetches from a slow loopback site. One line, exit 130, no traceback, and the
run in flight recorded as ``cancelled`` in ``pipeline_runs`` with what it had finished kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig
from newsflow.schemas.config_toml import write_config
from tests.hostile_site import article_html, english_paragraphs, rss
from tests.run_helpers import ctrl_c_reaches_it, local_server_env, stop_local_server
from tests.servers import LoopbackServer, Response

PAGES = 40


@pytest.fixture
def slow_site():
    with LoopbackServer() as server:
        links = []
        for n in range(PAGES):
            path = f"/news/story-{n}.html"
            html = article_html(f"Story {n}", english_paragraphs(f"harbour story {n}"))

            def page(_req, html=html):  # noqa: ANN001
                time.sleep(0.3)  # a run lasts long enough to be interrupted mid-fetch
                return Response(200, html)

            server.route(path, page)
            links.append((f"Story {n}", server.url(path)))
        server.add("/feed.xml", rss("Slow Times", links), content_type="application/rss+xml")
        yield server


def _pages_served(server: LoopbackServer) -> int:
    return sum(1 for r in server.requests if r.path.startswith("/news/"))


def test_ctrl_c_in_run_is_one_line_and_the_run_is_cancelled(slow_site, tmp_path: Path):
    db = tmp_path / "news.duckdb"
    config = Config(
        warehouse=WarehouseConfig(path=str(db)),
        fetch=FetchConfig(allow_private=[slow_site.host_port], per_host_delay_s=0.0, batch_size=5),
        checks={"min_rows": 1},
        sources=[SourceConfig(name="slow-times", feed=slow_site.url("/feed.xml"))],
    )
    path = write_config(config, tmp_path / "newsflow.toml")
    home = tmp_path / "prefect-home"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(path)],
            env=local_server_env(home),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
            preexec_fn=ctrl_c_reaches_it,
        )
        deadline = time.monotonic() + 300
        while _pages_served(slow_site) < 25:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never fetched"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # never left behind
            proc.communicate()
            raise
    finally:
        stop_local_server(home)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert errors == ["newsflow: error: interrupted"], err[-3000:]
    with duckdb.connect(str(tmp_path / "news.work.duckdb"), read_only=True) as con:
        runs = con.execute("SELECT status, message FROM pipeline_runs").fetchall()
        articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert runs == [("cancelled", "interrupted (Ctrl-C)")]
    assert 0 < articles < PAGES  # the batches finished before Ctrl-C are kept


def test_ctrl_c_in_serve_stops_it_and_cancels_the_run_in_flight(slow_site, tmp_path: Path):
    """The terminal's Ctrl-C reaches serve and the run's own process alike; serve stops the
    run itself (SIGTERM), so the run ends between statements and records ``cancelled``
    instead of dying mid-query as ``failed``, and serve ends without a traceback."""
    from newsflow.ops.prefect_server import free_port

    db = tmp_path / "news.duckdb"
    config = Config(
        warehouse=WarehouseConfig(path=str(db)),
        fetch=FetchConfig(allow_private=[slow_site.host_port], per_host_delay_s=0.0, batch_size=5),
        checks={"min_rows": 1},
        sources=[SourceConfig(name="slow-times", feed=slow_site.url("/feed.xml"))],
    )
    path = write_config(config, tmp_path / "newsflow.toml")
    command = [sys.executable, "-m", "newsflow.cli.main", "serve", "--config", str(path)]
    command += ["--interval-s", "15", "--api-port", str(free_port())]  # first run within 15 s
    proc = subprocess.Popen(
        command,
        env=local_server_env(tmp_path / "prefect-home"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        preexec_fn=ctrl_c_reaches_it,
    )
    try:
        deadline = time.monotonic() + 300
        while _pages_served(slow_site) < 10:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the served run never fetched"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # never left behind
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "ERROR" not in err, err[-3000:]
    assert "stopped; schedules paused" in err
    with duckdb.connect(str(tmp_path / "news.work.duckdb"), read_only=True) as con:
        runs = con.execute("SELECT status FROM pipeline_runs").fetchall()
    assert runs == [("cancelled",)]
