"""Failed pages come back, and entries a feed listed once are never lost: real runs over a
loopback site whose feed answers 304 once it has been read.

The feed sends an ETag and then answers every conditional poll with 304, so the second run
learns nothing from the feed: whatever it fetches it knows from the warehouse alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from newsflow.cli.main import main
from newsflow.cli.output import EXIT_BAD_CONFIG
from newsflow.flows.ingest import ingest
from newsflow.flows.pipeline import new_entries
from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig
from newsflow.schemas.config_toml import write_config
from newsflow.schemas.records import FeedEntry
from newsflow.tasks.fetch.feeds import FeedPoll
from newsflow.tasks.warehouse.warehouse import Warehouse
from tests.hostile_site import article_html, english_paragraphs, rss
from tests.servers import LoopbackServer, Response

ETAG = '"feed-v1"'


def _site(server: LoopbackServer, flaky_answers: list[Response]) -> str:
    """A feed of two stories; ``/news/flaky.html`` answers ``flaky_answers`` in turn."""
    links = [("Steady", server.url("/news/steady.html")), ("Flaky", server.url("/news/flaky.html"))]
    body = rss("news", links)

    def feed(request):
        if request.headers.get("if-none-match") == ETAG:
            return Response(304, content_type=None)
        return Response(200, body, headers={"ETag": ETAG}, content_type="application/rss+xml")

    server.route("/news.xml", feed)
    for name, paragraphs in (("steady", "harbour"), ("flaky", "ferry")):
        html = article_html(name.title(), english_paragraphs(paragraphs))
        if name == "steady":
            server.add(f"/news/{name}.html", html)
        else:
            server.sequence(f"/news/{name}.html", [*flaky_answers, Response(200, html)])
    return server.url("/news.xml")


def _config(db: str, server: LoopbackServer, feed: str) -> Config:
    return Config(
        warehouse=WarehouseConfig(path=db),
        fetch=FetchConfig(
            allow_private=[server.host_port],
            per_host_delay_s=0.0,
            retries=0,  # no retry inside the run: the next run is the retry under test
            page_retry_after_min=0.001,
        ),
        sources=[SourceConfig(name="news", feed=feed)],
    )


def _articles(db: str) -> list[str]:
    with duckdb.connect(db, read_only=True) as con:
        return [r[0] for r in con.execute("SELECT url FROM articles ORDER BY url").fetchall()]


def _flaky_page(db: str) -> tuple:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(
            "SELECT status, attempts, next_attempt_at IS NOT NULL FROM raw_pages "
            "WHERE url LIKE '%flaky%'"
        ).fetchone()


def test_a_page_that_answered_503_is_loaded_by_a_later_run(prefect_harness, tmp_path):
    db = str(tmp_path / "news.duckdb")
    with LoopbackServer() as server:
        config = _config(db, server, _site(server, [Response(503)]))
        first = ingest(config=config, db=db)
        assert [u.rsplit("/", 1)[1] for u in _articles(db)] == ["steady.html"]
        assert _flaky_page(db) == (503, 1, True)  # its next attempt is scheduled
        assert first.page_errors

        second = ingest(config=config, db=db)  # the feed answers 304: nothing listed
        assert [u.rsplit("/", 1)[1] for u in _articles(db)] == ["flaky.html", "steady.html"]
        assert _flaky_page(db) == (200, 2, False)
        assert server.hits("/news/flaky.html") == 2 and server.hits("/news/steady.html") == 1
        assert second.loaded.new == 1

        ingest(config=config, db=db)  # nothing is due any more
        assert server.hits("/news/flaky.html") == 2


def test_a_page_that_keeps_failing_gives_up_then_comes_back_on_demand(prefect_harness, tmp_path):
    db = str(tmp_path / "news.duckdb")
    with LoopbackServer() as server:
        config = _config(db, server, _site(server, [Response(503)] * 2))
        config.fetch = config.fetch.model_copy(update={"page_max_attempts": 2})
        for _ in range(3):
            ingest(config=config, db=db)
        assert server.hits("/news/flaky.html") == 2  # the third run does not ask
        assert _flaky_page(db) == (503, 2, False)  # final: no next attempt
        with duckdb.connect(db.replace(".duckdb", ".work.duckdb"), read_only=True) as con:
            state = con.execute(
                "SELECT state FROM seen_entries WHERE url LIKE '%flaky%'"
            ).fetchone()
        assert state == ("failed",)
        # The operator fixed the cause: `newsflow run --retry-failed --source news`
        path = write_config(config, tmp_path / "newsflow.toml")
        assert main(["run", "--config", str(path), "--source", "news"]) == EXIT_BAD_CONFIG
        assert main(["run", "--config", str(path), "--retry-failed", "--source", "x"]) == 2
        assert server.hits("/news/flaky.html") == 2
        assert main(["run", "--config", str(path), "--retry-failed", "--source", "news"]) == 0
        assert server.hits("/news/flaky.html") == 3
    assert [u.rsplit("/", 1)[1] for u in _articles(db)] == ["flaky.html", "steady.html"]
    assert _flaky_page(db) == (200, 1, False)  # a fresh schedule: the first of new attempts


def _poll(when: datetime, status: int, entries: list[FeedEntry]) -> FeedPoll:
    return FeedPoll(
        source="news",
        feed_url="https://news.example/feed",
        fetched_at=when,
        status=status,
        etag=ETAG,
        last_modified=None,
        bytes=0,
        elapsed_ms=1,
        entries=entries,
        error=None,
    )


def test_entries_chosen_by_a_killed_run_are_fetched_by_the_next(tmp_path):
    """The feed's ETag is saved with the poll; a run killed before fetching leaves the entries
    pending, and the next run, whose poll answers 304, still has them."""
    now = datetime.now(UTC)
    entries = [
        FeedEntry(source="news", entry_id=f"e{i}", url=f"https://news.example/{i}", title=f"T{i}")
        for i in range(3)
    ]
    listed = _poll(now, 200, entries)
    with Warehouse.open(tmp_path / "news.duckdb", lock_timeout_s=5) as warehouse:
        chosen, per_source = new_entries(warehouse, [listed], now)
        assert chosen == entries and per_source == {"news": 3}
        warehouse.record_feed_polls("r1", [listed], per_source, chosen)
        # killed here: no page fetched
        unchanged = _poll(now + timedelta(minutes=15), 304, [])
        again, per_source = new_entries(warehouse, [unchanged], now + timedelta(minutes=15))
    assert [e.entry_id for e in again] == ["e0", "e1", "e2"]
    assert [e.title for e in again] == ["T0", "T1", "T2"]
    assert per_source == {"news": 0}  # none listed by the feed this time
