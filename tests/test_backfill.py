"""``newsflow backfill`` over a loopback site with a sitemap index, a gzip news sitemap, an
old-style sitemap without dates and one last modified years ago (tests/sitemap_site.py): real
HTTP, real Prefect flows, a real DuckDB file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from newsflow.flows.backfill import backfill
from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig
from newsflow.schemas.config_toml import write_config
from newsflow.tasks.warehouse.warehouse import working_path
from newsflow.tasks.warehouse.writer import writer_limit_name
from tests.servers import LoopbackServer
from tests.sitemap_site import SitemapSite, build_site


@pytest.fixture
def site() -> Iterator[SitemapSite]:
    server = LoopbackServer()
    built = build_site(server)
    server.start()
    yield built
    server.stop()


def site_config(db: Path, site: SitemapSite, **fetch: object) -> Config:
    return Config(
        warehouse=WarehouseConfig(path=str(db)),
        fetch=FetchConfig(
            allow_private=[site.server.host_port], per_host_delay_s=0.0, retries=0, **fetch
        ),
        checks={"freshness_hours": 100000},
        sources=[SourceConfig(name="site", feed=site.server.url("/feed.xml"))],
    )


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(working_path(db)), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_backfill_loads_every_in_window_article_once_and_a_rerun_adds_nothing(
    prefect_harness, tmp_path, site
):
    db = tmp_path / "w.duckdb"
    config = site_config(db, site)
    summary = backfill(source="site", since=site.since.date().isoformat(), config=config)

    expected = site.in_window()
    assert summary.urls_queued == len(expected)
    loaded = rows(db, "SELECT url, origin, version FROM articles")
    assert {u for u, _o, _v in loaded} == expected
    assert {(o, v) for _u, o, v in loaded} == {("backfill", 1)}
    assert rows(db, "SELECT DISTINCT origin FROM raw_pages") == [("backfill",)]
    # Only in-window pages of this site were requested: not the stale one, not the undated
    # archive (a window is set), not the sitemap last modified in 2019, nothing elsewhere.
    assert sorted(site.page_requests()) == sorted(
        u.removeprefix(site.server.origin) for u in expected
    )
    assert "/sitemaps/old.xml" not in [r.path for r in site.server.requests]

    site.server.requests.clear()
    again = backfill(source="site", since=site.since.date().isoformat(), config=config)
    assert again.already_done and again.pages_fetched == 0
    assert site.server.requests == []  # a finished backfill asks nothing of the site
    assert rows(db, "SELECT count(*) FROM articles") == [(len(expected),)]
    with duckdb.connect(str(db), read_only=True) as con:  # the analysts' snapshot
        jobs = con.execute("SELECT urls_queued, finished_at IS NOT NULL FROM backfill_jobs")
        assert jobs.fetchall() == [(len(expected), True)]
        assert con.execute("SELECT DISTINCT origin FROM articles").fetchall() == [("backfill",)]


def test_the_page_date_wins_then_the_sitemap_date_and_lastmod_is_flagged_not_guessed(
    prefect_harness, tmp_path, site
):
    db = tmp_path / "w.duckdb"
    backfill(source="site", since=site.since.date().isoformat(), config=site_config(db, site))
    found = {
        url: (published, source, flags)
        for url, published, source, flags in rows(
            db, "SELECT url, published_at, published_at_source, quality_flags FROM articles"
        )
    }
    for slug, (sitemap_date, page_date) in site.news.items():
        if site.url(slug) not in found:
            continue
        published, source, flags = found[site.url(slug)]
        assert published == (page_date or sitemap_date), slug
        assert (source == "sitemap") == (page_date is None), (slug, source)
        assert "date_from_lastmod_only" not in flags
    # Only a lastmod in the sitemap: the page's date when it has one, else no date and a flag.
    assert found[site.url("m1")][:2] == (site.lastmod_only["m1"], found[site.url("m1")][1])
    assert found[site.url("m1")][1] not in (None, "sitemap")
    assert found[site.url("m0")][:2] == (None, None)
    assert "date_from_lastmod_only" in found[site.url("m0")][2]


def test_an_open_window_also_loads_undated_sitemap_urls(prefect_harness, tmp_path, site):
    db = tmp_path / "w.duckdb"
    summary = backfill(source="site", config=site_config(db, site))
    urls = {u for (u,) in rows(db, "SELECT url FROM articles")}
    undated = {site.url(s) for s in [*site.archive, *site.old]}
    assert undated <= urls  # old-style sitemaps without any date are read too
    assert summary.urls_listed == len(site.news) + len(undated) + len(site.lastmod_only)
    # No date anywhere: the article has none, rather than a guess.
    missing = rows(db, "SELECT url FROM articles WHERE published_at IS NULL")
    assert {u for (u,) in missing} == undated | {site.url("m0")}


def test_max_takes_the_newest_and_a_feed_run_does_not_take_backfill_entries(
    prefect_harness, tmp_path, site
):
    db = tmp_path / "w.duckdb"
    summary = backfill(
        source="site",
        since=site.since.date().isoformat(),
        max_items=2,
        config=site_config(db, site),
    )
    assert summary.urls_queued == 2
    # newest by sitemap date: the lastmod-only pages (2 days ago) and the newest news item
    # (1 day 3 hours ago) tie-break by URL, all descending
    dated = {site.url(s): d for s, (d, _p) in site.news.items()}
    dated |= {
        site.url(s): (site.now - timedelta(days=2)).replace(hour=0, minute=0, second=0)
        for s in site.lastmod_only
    }
    newest = sorted(dated, key=lambda u: (dated[u], u), reverse=True)[:2]
    assert {u for (u,) in rows(db, "SELECT url FROM articles")} == set(newest)


def _spawn_backfill(config_file: Path, since: str, api: str) -> subprocess.Popen:
    """``newsflow backfill`` in its own session, so a kill reaches only it."""
    newsflow = Path(sys.executable).with_name("newsflow")
    return subprocess.Popen(
        [
            str(newsflow),
            "backfill",
            "--source",
            "site",
            "--since",
            since,
            "--config",
            str(config_file),
            "--json",
        ],
        env={**os.environ, "PREFECT_API_URL": api, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _disable_writer_slot(api: str, db: Path) -> None:
    """The killed process cannot give its writer slot back; DuckDB's lock is the guard here
    (as in tests/test_faults.py)."""
    name = writer_limit_name(working_path(db))
    answer = httpx.post(
        f"{api}/v2/concurrency_limits/",
        json={"name": name, "limit": 1, "active": False},
        timeout=10,
    )
    if answer.status_code != 409:
        answer.raise_for_status()


def test_a_backfill_killed_midway_resumes_and_loads_each_article_once(prefect_harness, tmp_path):
    from prefect.settings import PREFECT_API_URL

    api = str(PREFECT_API_URL.value())
    server = LoopbackServer()
    site = build_site(server, n_news=24, page_delay_s=0.05)
    server.start()
    try:
        db = tmp_path / "w.duckdb"
        config = site_config(db, site, batch_size=4)
        config_file = write_config(config, tmp_path / "newsflow.toml")
        _disable_writer_slot(api, db)
        since = site.since.date().isoformat()
        expected = site.in_window()

        proc = _spawn_backfill(config_file, since, api)
        deadline = time.monotonic() + 300
        while len(site.page_requests()) < 10:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the backfill never got going"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        killed_at = len(site.page_requests())
        assert killed_at < len(expected)  # killed midway, not after the end

        resumed = _spawn_backfill(config_file, since, api)
        out, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, err.decode()[-3000:]
        summary = json.loads(out)
        assert summary["resumed"] and summary["remaining"] == 0

        assert {u for (u,) in rows(db, "SELECT url FROM articles")} == expected
        # each article loaded once: one version each, and no page fetched again once its
        # outcome was stored (only the batch in flight at the kill may be asked twice)
        assert rows(db, "SELECT count(*), max(version) FROM article_versions") == [
            (len(expected), 1)
        ]
        requests = site.page_requests()
        assert set(requests) == {u.removeprefix(server.origin) for u in expected}
        assert len(requests) - len(set(requests)) <= 2 * config.fetch.batch_size
        statuses = [s for (s,) in rows(db, "SELECT status FROM pipeline_runs ORDER BY started_at")]
        assert statuses == ["crashed", "completed"]

        again = _spawn_backfill(config_file, since, api)
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0 and json.loads(out)["already_done"], err.decode()[-2000:]
        assert rows(db, "SELECT count(*) FROM articles") == [(len(expected),)]
    finally:
        server.stop()


def test_bad_arguments_are_one_line_errors_with_exit_2(tmp_path, site, capsys):
    from newsflow.cli.main import main

    config_file = write_config(site_config(tmp_path / "w.duckdb", site), tmp_path / "n.toml")
    base = ["backfill", "--config", str(config_file)]
    assert main([*base, "--source", "nope"]) == 2
    assert main([*base, "--source", "site", "--since", "last week"]) == 2
    assert main([*base, "--source", "site", "--since", "2026-11-02", "--until", "2026-11-01"]) == 2
    assert main([*base, "--source", "site", "--max", "0"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 4 and all(line.startswith("newsflow: error: ") for line in errors)
    assert "Traceback" not in "\n".join(errors)
    assert site.server.requests == []  # nothing was asked of the site
