"""One-off commands print no third-party noise: ``newsflow run`` in a child
process as a user runs it, with no ``PREFECT_API_URL`` (so against the local Prefect server
one-off commands share, stopped at the end), over a small loopback site whose pages are
extracted in the run's own process.

Two messages used to end such a run on stderr: ``ERROR | htmldate.meta - impossible to clear
cache …`` from the cache reset after in-process extraction, and ``--- Error logging to API ---
All connection attempts failed`` from Prefect's log worker, drained at exit after the
temporary server had stopped."""

from __future__ import annotations

import subprocess
import sys

from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig
from newsflow.schemas.config_toml import write_config
from tests.hostile_site import article_html, english_paragraphs, rss
from tests.run_helpers import local_server_env, stop_local_server
from tests.servers import LoopbackServer

NOISE = ("impossible to clear cache", "Error logging to API", "Traceback")


def test_a_run_under_its_own_temporary_server_prints_no_noise(tmp_path):
    db = tmp_path / "news.duckdb"
    with LoopbackServer() as server:
        links = []
        for topic in ("harbour wall", "ferry fares"):
            path = f"/news/{topic.replace(' ', '-')}.html"
            server.add(path, article_html(topic.title(), english_paragraphs(topic)))
            links.append((topic.title(), server.url(path)))
        server.add("/feed.xml", rss("Quiet Times", links), content_type="application/rss+xml")
        config = Config(
            warehouse=WarehouseConfig(path=str(db)),
            fetch=FetchConfig(allow_private=[server.host_port], per_host_delay_s=0.0),
            checks={"min_rows": 1},
            sources=[SourceConfig(name="quiet-times", feed=server.url("/feed.xml"))],
        )
        path = write_config(config, tmp_path / "newsflow.toml")
        home = tmp_path / "prefect-home"
        try:
            done = subprocess.run(
                [sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(path)],
                env=local_server_env(home),  # the local server one-off commands share
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=600,
            )
        finally:
            stop_local_server(home)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 new" in done.stdout  # the run did its work
    for noise in NOISE:
        assert noise not in done.stderr, done.stderr[-3000:]
