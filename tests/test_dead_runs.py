"""A run in which nothing worked says so: real runs over loopback sites.

Every page a 404, or every feed refused by the address guard: the run still records what it
saw and publishes, but ends with exit code 4, Prefect state Failed and one line saying why,
instead of "completed" and exit 0. The healthy demo still exits 0 (tests/test_ingest_demo.py
and the demo warehouse below), and the ``page_error_rate`` table check fails for the source
whose pages all failed while passing for the demo's sources.
"""

from __future__ import annotations

import duckdb
import pytest

from newsflow.cli.main import main
from newsflow.cli.output import EXIT_NOTHING_WORKED
from newsflow.flows.ingest import ingest
from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig
from newsflow.schemas.config_toml import write_config
from tests.hostile_site import rss
from tests.servers import LoopbackServer
from tests.warehouse_demo import demo_warehouse

PAGES = 6  # at least min_rows (5), so page_error_rate is evaluated


def _feed_of_missing_pages(server: LoopbackServer, name: str) -> str:
    """A feed whose every entry is a page the server does not have (404)."""
    links = [(f"Story {i}", server.url(f"/{name}/story-{i}.html")) for i in range(PAGES)]
    server.add(f"/{name}.xml", rss(name, links), content_type="application/rss+xml")
    return server.url(f"/{name}.xml")


def _config(db: str, server: LoopbackServer, feeds: dict[str, str], *, allowed: bool) -> Config:
    return Config(
        warehouse=WarehouseConfig(path=db),
        fetch=FetchConfig(
            allow_private=[server.host_port] if allowed else [],
            per_host_delay_s=0.0,
            retries=0,
        ),
        sources=[SourceConfig(name=name, feed=url) for name, url in feeds.items()],
    )


def _run_cli(tmp_path, config: Config, capsys) -> tuple[int, str, str]:
    path = write_config(config, tmp_path / "newsflow.toml")
    code = main(["run", "--config", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def _dq(db: str, check: str) -> dict[str, bool]:
    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute(
            'SELECT source, success FROM dq_results WHERE "check" = ?', [check]
        ).fetchall()
    return dict(rows)


def _last_run(db: str) -> tuple[str, str]:
    with duckdb.connect(db, read_only=True) as con:
        return con.execute(
            "SELECT status, message FROM pipeline_runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()


def test_every_page_404_exits_4_with_one_line_and_fails_page_error_rate(
    prefect_harness, tmp_path, capsys
):
    db = str(tmp_path / "news.duckdb")
    with LoopbackServer() as server:
        feeds = {"ghost-town": _feed_of_missing_pages(server, "ghost-town")}
        code, out, err = _run_cli(tmp_path, _config(db, server, feeds, allowed=True), capsys)
    assert code == EXIT_NOTHING_WORKED == 4
    lines = [line for line in err.splitlines() if line.startswith("newsflow: error:")]
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"newsflow: error: nothing worked in this run: every page failed ({PAGES} of {PAGES}): "
    )
    assert "404" in lines[0]
    assert "Traceback" not in err
    assert "newsflow run " in out and "failed" in out  # the summary is printed all the same
    # Nothing lost: every page is recorded with its reason, and the run with why it failed.
    with duckdb.connect(db, read_only=True) as con:
        pages = con.execute("SELECT count(*) FROM raw_pages WHERE error IS NOT NULL").fetchone()
    assert pages == (PAGES,)
    status, message = _last_run(db)
    assert status == "failed" and message.startswith("every page failed (6 of 6)")
    # The per-source table check sees it too (reject_rate, counting 200s only, cannot).
    assert _dq(db, "page_error_rate") == {"ghost-town": False}
    assert "ghost-town" not in _dq(db, "reject_rate")  # no page answered 200: skipped


def test_every_feed_blocked_by_the_address_guard_exits_4(prefect_harness, tmp_path, capsys):
    db = str(tmp_path / "news.duckdb")
    with LoopbackServer() as server:
        feeds = {name: _feed_of_missing_pages(server, name) for name in ("north", "south")}
        code, _out, err = _run_cli(tmp_path, _config(db, server, feeds, allowed=False), capsys)
        assert server.hits("/north.xml") == server.hits("/south.xml") == 0  # never requested
    assert code == 4
    (line,) = [line for line in err.splitlines() if line.startswith("newsflow: error:")]
    assert line.startswith(
        "newsflow: error: nothing worked in this run: every feed failed (2 of 2): "
    )
    assert "allow_private" in line or "address" in line, line
    status, message = _last_run(db)
    assert status == "failed" and message.startswith("every feed failed (2 of 2)")


def test_the_flow_run_of_a_dead_run_is_failed_in_prefect(prefect_harness, tmp_path):
    db = str(tmp_path / "news.duckdb")
    with LoopbackServer() as server:
        config = _config(db, server, {"gone": _feed_of_missing_pages(server, "gone")}, allowed=True)
        state = ingest(config=config, db=db, return_state=True)
    assert state.is_failed()
    assert state.message.startswith(f"every page failed ({PAGES} of {PAGES})")


def test_a_run_where_some_feeds_work_is_not_dead(prefect_harness, tmp_path, capsys):
    """Five pages of six 404, one loads: the run worked, so it is not dead, but the source's
    page_error_rate (critical) fails: exit 1, as for any failed critical check."""
    from tests.hostile_site import article_html, english_paragraphs

    db = str(tmp_path / "news.duckdb")
    with LoopbackServer() as server:
        feeds = {"mostly-gone": _feed_of_missing_pages(server, "mostly-gone")}
        server.add(
            "/mostly-gone/story-0.html",
            article_html("Story 0 stands", english_paragraphs("harbour wall")),
        )
        code, _out, err = _run_cli(tmp_path, _config(db, server, feeds, allowed=True), capsys)
    assert code == 1, err  # page_error_rate (5 of 6 failed) is critical, but the run worked
    assert "nothing worked" not in err
    assert _dq(db, "page_error_rate") == {"mostly-gone": False}


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory):
    return demo_warehouse(tmp_path_factory)


def test_the_demo_passes_page_error_rate(demo):
    from newsflow.cli.output import exit_code

    assert demo.first.nothing_worked is None and demo.first.status == "completed"
    assert exit_code(demo.first) == exit_code(demo.second) == 0  # what `newsflow demo` exits
    with demo.connect() as con:
        rows = con.execute(
            "SELECT source, success FROM dq_results WHERE \"check\" = 'page_error_rate' "
            "AND run_id = ?",
            [demo.first.run_id],
        ).fetchall()
    assert rows and all(success for _, success in rows), rows


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((2, {"a": "blocked", "b": "blocked"}, 0, {}), "every feed failed (2 of 2): blocked"),
        ((2, {"a": "x"}, 3, {"u1": "404", "u2": "404", "u3": "500"}), "every page failed (3 of 3)"),
        ((0, {}, 0, {}), None),  # every source skipped (paused, gone, Retry-After)
        ((2, {}, 0, {}), None),  # every feed unchanged: a quiet tick
        ((2, {"a": "x"}, 3, {"u1": "404"}), None),  # some pages loaded
    ],
)
def test_dead_run_reason(args, says):
    from newsflow.flows.outcome import dead_run_reason

    reason = dead_run_reason(*args)
    assert reason == says if says is None else reason.startswith(says)


def test_the_commonest_reason_is_named_with_the_count_of_others():
    from newsflow.flows.outcome import dead_run_reason

    reason = dead_run_reason(0, {}, 3, {"u1": "http_404", "u2": "http_404", "u3": "http_500"})
    assert reason == "every page failed (3 of 3): http_404 (and 1 with other reasons)"


@pytest.mark.parametrize("kind", ["CriticalChecksFailed", "NothingWorked"])
def test_a_run_ended_failed_carries_its_summary_through_the_failed_state(kind):
    """Both ways a run ends failed share one class and one state helper: the state is Failed
    with the message, and its result (what a direct call raises) is the exception, pickled and
    back (as Prefect may store it) with its class, message and summary."""
    import pickle

    from newsflow.flows import failure
    from newsflow.flows.scaffold import RunSummary, failed_state

    summary = RunSummary(run_id="r1", db="news.duckdb")
    exc = getattr(failure, kind)(summary, "every page failed (3 of 3)")
    state = failed_state(exc)
    assert state.is_failed() and state.message == "every page failed (3 of 3)"
    with pytest.raises(failure.RunEndedFailed) as raised:
        state.result()
    assert raised.value is exc
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and str(back) == str(exc)
    assert back.summary.run_id == "r1"


def test_a_critical_check_failure_has_a_default_message():
    from newsflow.flows.failure import CriticalChecksFailed

    assert str(CriticalChecksFailed(None, None)) == "critical data-quality checks failed"


def test_which_polls_gave_nothing():
    from dataclasses import replace
    from datetime import UTC, datetime

    from newsflow.schemas.records import FeedEntry
    from newsflow.tasks.fetch.feeds import skipped_poll

    now = datetime.now(UTC)
    skipped = skipped_poll("a", "http://a.example/feed", "paused", now)
    entry = FeedEntry(source="a", entry_id="e1", url="http://a.example/1", title="t")
    failed = replace(skipped, skipped=False, status=500, error="http_500")
    assert not skipped.gave_nothing  # not polled at all
    assert failed.gave_nothing
    assert not replace(failed, status=304).gave_nothing  # unchanged: it worked
    assert not replace(failed, entries=[entry]).gave_nothing  # entries despite an error note


def test_only_first_tries_count_for_the_dead_run_rule():
    from newsflow.flows.pipeline import first_try_errors
    from newsflow.schemas.records import FeedEntry

    entries = [
        FeedEntry(source="a", entry_id=f"e{i}", url=f"http://a.example/{i}", title="t")
        for i in range(3)
    ]
    errors = {"http://a.example/0": "http_404", "http://a.example/2": "http_500"}
    assert first_try_errors(entries, {("a", "e2")}, errors) == (
        2,
        {"http://a.example/0": "http_404"},
    )
