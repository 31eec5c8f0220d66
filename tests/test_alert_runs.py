"""Alerts end to end: real ingest runs (Prefect, GX, DuckDB) over a site on loopback, alerts
delivered through apprise's ``json://`` scheme to a receiver on loopback.

One module-scoped sequence of runs over one warehouse, each run changing one thing:

A. the feed only has articles six weeks old        → freshness fails: one "failed" alert
B. nothing changes                                 → still failing: nothing sent
C. a fresh article appears                         → recovered: one "recovered" alert
D. an article without author, receiver down        → authors_null_rate fails, delivery fails
                                                     (retried, logged), the run and its load
                                                     are intact, and the alert stays due
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from uuid import UUID

import duckdb
import pytest

from newsflow.flows.ingest import ingest
from newsflow.schemas.config import (
    AlertsConfig,
    Config,
    FetchConfig,
    SourceConfig,
    WarehouseConfig,
)
from tests.servers import LoopbackServer, Response, wait_until

NOW = datetime.now(UTC)
SOURCE = "tideline"


def paragraph(topic: str, n: int) -> str:
    return (
        f"The {topic} committee met for the {n}th time this autumn to review the harbour budget, "
        f"the ferry timetable and the repairs to the north pier, item {n} on a long agenda."
    )


def article_html(slug: str, title: str, author: str | None, published: datetime) -> str:
    body = "\n".join(f"<p>{paragraph(slug, i)}</p>" for i in range(1, 7))
    byline = f'<p class="byline">By <span class="author">{author}</span></p>' if author else ""
    meta = f'<meta name="author" content="{author}">' if author else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>{meta}
<meta property="article:published_time" content="{published.isoformat()}">
</head><body><main><article><h1>{title}</h1>{byline}
<time datetime="{published.isoformat()}">{published:%d %B %Y}</time>
<div class="body">{body}</div></article></main></body></html>"""


class Site:
    """A one-feed news site whose feed the test edits between runs."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.items: list[tuple[str, str, str | None, datetime]] = []
        server.route("/feed.xml", self._feed)

    def publish(self, slug: str, title: str, author: str | None, published: datetime) -> None:
        self.items.append((slug, title, author, published))
        self.server.add(f"/news/{slug}.html", article_html(slug, title, author, published))

    def _feed(self, _request: object) -> Response:
        entries = "".join(
            f"<item><title>{title}</title><link>{self.server.url(f'/news/{slug}.html')}</link>"
            f"<guid>{slug}</guid><pubDate>{format_datetime(when)}</pubDate></item>"
            for slug, title, _author, when in self.items
        )
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Tideline</title>'
            f"<link>{self.server.url('/')}</link><description>t</description>{entries}"
            "</channel></rss>"
        )
        return Response(200, body, content_type="application/rss+xml")

    def url(self, slug: str) -> str:
        return self.server.url(f"/news/{slug}.html")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_config(db: str, site: LoopbackServer, alert_url: str) -> Config:
    return Config(
        warehouse=WarehouseConfig(path=db),
        # runs seconds apart stand for scheduled ticks: every source polled at every run
        fetch=FetchConfig(allow_private=[site.host_port], per_host_delay_s=0.0, polling="fixed"),
        alerts=AlertsConfig(urls=[alert_url], delivery_attempts=2, retry_delay_s=0.05),
        # One article is enough to judge a rate in these small runs.
        checks={"min_rows": 1},
        sources=[SourceConfig(name=SOURCE, feed=site.url("/feed.xml"), language="en")],
    )


def alerts_received(receiver: LoopbackServer) -> list[dict]:
    return [json.loads(r.body) for r in receiver.requests if r.method == "POST"]


@pytest.fixture(scope="module")
def runs(prefect_harness, tmp_path_factory):
    db = str(tmp_path_factory.mktemp("alerts") / "news.duckdb")
    out: dict = {"db": db}
    with LoopbackServer() as server, LoopbackServer() as receiver:
        receiver.add("/hook", b"ok", content_type="text/plain")
        hook = f"json://{receiver.host_port}/hook"
        site = Site(server)
        config = make_config(db, server, hook)
        site.publish("pier-repairs", "Pier repairs approved", "Ada Quill", NOW - timedelta(days=42))
        site.publish("ferry-fares", "Ferry fares frozen", "Ben Hale", NOW - timedelta(days=41))

        out["A"] = ingest(config=config, db=db)
        out["A_alerts"] = alerts_received(receiver)
        out["docs_after_A"] = out["A"].data_docs

        out["B"] = ingest(config=config, db=db)
        out["B_alerts"] = alerts_received(receiver)

        site.publish("lifeboat-day", "Lifeboat open day", "Cy Marr", NOW - timedelta(hours=2))
        out["C"] = ingest(config=config, db=db)
        out["C_alerts"] = alerts_received(receiver)

        down = make_config(db, server, f"json://127.0.0.1:{closed_port()}/hook")
        site.publish("harbour-fog", "Fog closes the harbour", None, NOW - timedelta(hours=1))
        out["D"] = ingest(config=down, db=db)
        out["D_alerts"] = alerts_received(receiver)
        with duckdb.connect(db, read_only=True) as con:
            out["D_articles"] = {r[0] for r in con.execute("SELECT url FROM articles").fetchall()}
        out["site"] = site
    return out


@pytest.fixture
def con(runs):
    with duckdb.connect(runs["db"], read_only=True) as connection:
        yield connection


def test_a_failing_check_sends_one_json_alert(runs):
    [alert] = runs["A_alerts"]
    assert alert["type"] == "warning"  # freshness is a warning: alert only
    assert alert["title"] == f"newsflow: 1 data-quality check failed (warning) — {SOURCE}"
    body = alert["message"]
    assert f"[WARNING] freshness — source {SOURCE}" in body
    assert "observed: newest article " in body
    assert "expected: newest article at most 48 h old" in body
    assert "count: 2 articles from this source in the warehouse" in body
    assert runs["site"].url("ferry-fares") in body  # the newest article, as sample URL
    assert f"run: {runs['A'].run_id}" in body
    assert f"Data Docs: {runs['A'].data_docs}" in body
    assert runs["A"].status == "completed" and not runs["A"].critical_failed
    assert runs["A"].checks_failed == [f"freshness [{SOURCE}]"]


def test_the_same_failure_again_sends_nothing(runs):
    assert len(runs["B_alerts"]) == 1
    assert runs["B"].checks_failed == [f"freshness [{SOURCE}]"]
    assert runs["B"].alerts == []


def test_recovery_sends_one_recovery_alert(runs):
    assert len(runs["C_alerts"]) == 2
    recovered = runs["C_alerts"][-1]
    assert recovered["type"] == "success"
    assert recovered["title"] == f"newsflow: 1 data-quality check recovered — {SOURCE}"
    assert f"[RECOVERED] freshness — source {SOURCE}" in recovered["message"]
    assert f"run: {runs['C'].run_id}" in recovered["message"]
    assert runs["C"].checks_failed == []


def test_a_receiver_that_is_down_breaks_nothing(runs, con):
    d = runs["D"]
    assert d.status == "completed"
    assert d.loaded.new == 1
    assert runs["site"].url("harbour-fog") in runs["D_articles"]
    assert d.checks_failed == [f"authors_null_rate [{SOURCE}]"]
    [alert] = d.alerts
    assert (alert["destinations"], alert["delivered"]) == (1, False)
    assert alert["errors"] and all(alert["errors"])
    assert len(runs["D_alerts"]) == 2  # nothing reached the (other) receiver either
    logged = con.execute(
        "SELECT delivered, attempts, error FROM alert_log WHERE run_id = ?", [d.run_id]
    ).fetchone()
    assert logged[0] is False and logged[1] == 2 and "json://127.0.0.1" in logged[2]
    status = con.execute("SELECT status FROM pipeline_runs WHERE run_id = ?", [d.run_id]).fetchone()
    assert status == ("completed",)


def test_an_undelivered_alert_stays_due(runs, con):
    [alert] = runs["D"].alerts
    assert f"[WARNING] authors_null_rate — source {SOURCE}" in alert["body"]
    assert "observed: 100% of articles without authors (1 of 1)" in alert["body"]
    assert runs["site"].url("harbour-fog") in alert["body"]
    state = con.execute(
        "SELECT state, notified_state, since_run_id FROM alert_state "
        "WHERE \"check\" = 'authors_null_rate' AND source = ?",
        [SOURCE],
    ).fetchone()
    # Announced state still 'passing' (never announced): the next run sends it again.
    assert state == ("failing", None, runs["D"].run_id)


def test_table_results_and_alert_state_are_recorded(runs, con):
    rows = con.execute(
        "SELECT run_id, success FROM dq_results "
        "WHERE suite = 'articles_table' AND \"check\" = 'freshness' AND source = ? "
        "ORDER BY checked_at",
        [SOURCE],
    ).fetchall()
    # Run B was an idle tick (every feed 304): the table suite was not evaluated again, its
    # verdict stood (see test_the_same_failure_again_sends_nothing), so it wrote no rows.
    assert [ok for _, ok in rows] == [False, True, True]
    assert [run for run, _ in rows] == [runs[k].run_id for k in "ACD"]
    fresh = con.execute(
        "SELECT state, notified_state, since_run_id FROM alert_state "
        "WHERE \"check\" = 'freshness' AND source = ?",
        [SOURCE],
    ).fetchone()
    assert fresh == ("passing", "passing", runs["C"].run_id)
    kinds = con.execute("SELECT kind, delivered FROM alert_log ORDER BY created_at").fetchall()
    assert kinds == [("failed", True), ("recovered", True), ("failed", False)]
    described = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name IN ('alert_state', 'alert_log') "
        "AND (comment IS NULL OR comment = '')"
    ).fetchone()
    assert described == (0,)


def test_data_docs_show_the_latest_validation(runs):
    from pathlib import Path

    first, last = Path(runs["docs_after_A"]), Path(runs["D"].data_docs)
    assert first.is_file() and last.is_file() and first != last
    assert runs["D"].run_id in str(last)
    index = (last.parents[4] / "index.html").read_text("utf-8")
    assert runs["D"].run_id in index and runs["A"].run_id in index
    page = last.read_text("utf-8")
    assert "articles_table" in page and runs["D"].run_id in page
    assert "at most max_authors_null_rate have no author" in page  # D's failing check, rendered
    assert "1 unexpected values found" in page
    row_pages = list((last.parents[4] / "validations" / "articles_row").rglob("*.html"))
    assert row_pages  # batches validated by the row suite land in the same site


def test_state_changes_are_prefect_events(runs):
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

    wanted = {"newsflow.dq.failed": 2, "newsflow.dq.recovered": 1}
    window = EventOccurredFilter(since=NOW - timedelta(minutes=1))
    found: dict[str, list] = {}

    def seen() -> bool:
        with get_client(sync_client=True) as client:
            page = client.read_events(
                EventFilter(occurred=window, event=EventNameFilter(prefix=["newsflow.dq."])),
                limit=50,
            )
        found.clear()
        for event in page.events:
            if event.resource.get("newsflow.source") == SOURCE:
                found.setdefault(event.event, []).append(event)
        return {k: len(v) for k, v in found.items()} == wanted

    assert wait_until(seen, timeout_s=20), found
    [recovered] = found["newsflow.dq.recovered"]
    assert recovered.resource.id == f"newsflow.dq.articles_table.freshness.{SOURCE}"
    assert recovered.payload["run_id"] == runs["C"].run_id
    flow_run = recovered.related[0]
    assert flow_run.id == f"prefect.flow-run.{UUID(runs['C'].run_id)}"
