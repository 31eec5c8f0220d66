"""The hostile-input suite: real ingest flow runs over a loopback site where every feed and page
misbehaves on purpose (tests/hostile_site.py), next to one healthy source.

For every case: the run completes, the case is recorded with a clear reason (``feed_fetches.error``,
``raw_pages.error``), and the healthy source loads normally in the same run. Four runs into one
warehouse show the lifecycle: run 2 skips what asked to wait or is gone and pauses what failed
twice (``pause_after_errors = 2`` here), run 3 skips the paused sources and polls a moved feed at
its new URL (``redirect_adopt_after = 2``), and run 4 is ``newsflow run --reset-source`` bringing
a gone and a paused source back. Deadlines are 2 s, so the slow-drip cases cost seconds, not
minutes. Nothing leaves loopback; the ``forbidden`` server, which redirects point at, must never
see a request.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from newsflow.cli.main import main
from newsflow.flows.ingest import ingest
from newsflow.schemas.config_toml import write_config
from tests.hostile_site import (
    BAD_PORT_LINK,
    FEED_CASES,
    HEALTHY_SOURCE,
    PAGE_CASES,
    PAGES_SOURCE,
    Case,
    HostileSite,
)
from tests.servers import LoopbackServer, loopback_server_fixture  # noqa: F401

RUNS = 4  # runs 1-3 through the flow, run 4 through `newsflow run --reset-source ...`
#: Feed cases whose recorded reason is a warning: the poll succeeded and gave entries.
USABLE_WARNINGS = ("malformed but usable", "no_link")
RESET = ("feed-410", "feed-500")


def _hits_by_path(site: HostileSite) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for name, srv in (
        ("main", site.main),
        ("throttler", site.throttler),
        ("healthy", site.healthy),
    ):
        for req in list(srv.requests):
            counts[(name, req.path)] = counts.get((name, req.path), 0) + 1
    return counts


@pytest.fixture(scope="module")
def hostile(prefect_harness, tmp_path_factory):
    """Four ingest runs over the hostile site; what each run recorded and what each server saw.

    Run 4 is the CLI re-enabling a gone and a paused source (``--reset-source``)."""
    tmp = tmp_path_factory.mktemp("hostile")
    db = tmp / "newsflow.duckdb"
    with HostileSite() as site:
        config = site.config(str(db))
        toml = write_config(config, tmp / "newsflow.toml")
        runs, hits, healthy_requests = [], [], []
        for run in range(RUNS):
            before = len(site.healthy.requests)
            if run < 3:
                runs.append(ingest(config=config, db=str(db)).run_id)
            else:
                resets = [arg for name in RESET for arg in ("--reset-source", name)]
                assert main(["run", "--config", str(toml), "--json", *resets]) == 0
                with duckdb.connect(str(db), read_only=True) as con:
                    runs.append(
                        con.execute(
                            "SELECT run_id FROM pipeline_runs ORDER BY started_at DESC LIMIT 1"
                        ).fetchone()[0]
                    )
            hits.append(_hits_by_path(site))
            healthy_requests.append(list(site.healthy.requests)[before:])
        unknown_exit = main(["run", "--config", str(toml), "--reset-source", "no-such-source"])
        forbidden_requests = list(site.forbidden.requests)
    con = duckdb.connect(str(db), read_only=True)
    yield {
        "site": site,
        "runs": runs,
        "hits": hits,
        "healthy_requests": healthy_requests,
        "forbidden_requests": forbidden_requests,
        "unknown_exit": unknown_exit,
        "con": con,
    }
    con.close()


def _feed_row(hostile, run: int, source: str) -> tuple:
    row = (
        hostile["con"]
        .execute(
            "SELECT status, entries, error, feed_url FROM feed_fetches "
            "WHERE run_id = ? AND source = ?",
            [hostile["runs"][run], source],
        )
        .fetchone()
    )
    assert row is not None, f"no feed_fetches row for {source} in run {run + 1}"
    return row


def _page_error(hostile, case: Case) -> tuple[int | None, str | None]:
    url = hostile["site"].case_url(case)
    row = (
        hostile["con"]
        .execute("SELECT status, error FROM raw_pages WHERE url = ?", [url])
        .fetchone()
    )
    assert row is not None, f"no raw_pages row for {url}"
    return row


def _hits(hostile, run: int, server: str, path: str) -> int:
    """Requests for ``path`` during run ``run`` (0-based) alone."""
    now = hostile["hits"][run].get((server, path), 0)
    before = hostile["hits"][run - 1].get((server, path), 0) if run else 0
    return now - before


# -- every run completes; the healthy source is untouched ---------------------------------------


def test_every_run_completes(hostile):
    statuses = hostile["con"].execute("SELECT status FROM pipeline_runs").fetchall()
    assert statuses == [("completed",)] * RUNS


def test_the_healthy_source_loads_normally(hostile):
    con = hostile["con"]
    rows = con.execute(
        "SELECT url, title, text FROM articles WHERE source = ? ORDER BY url", [HEALTHY_SOURCE]
    ).fetchall()
    expected = sorted(hostile["site"].healthy_articles(), key=lambda a: a[1])
    assert [(u, t) for u, t, _ in rows] == [(u, t) for t, u in expected]
    for _, _, text in rows:
        assert text.count("\n") == 4 and "Paragraph 5 about" in text
    assert _feed_row(hostile, 0, HEALTHY_SOURCE)[:3] == (200, 2, None)


def test_second_poll_of_an_unchanged_feed_is_conditional_and_does_no_page_work(hostile):
    second = hostile["healthy_requests"][1]
    assert [r.path for r in second] == ["/feed.xml"]  # no page, not even robots.txt
    assert second[0].headers["if-none-match"].startswith('"')
    assert _feed_row(hostile, 1, HEALTHY_SOURCE)[:3] == (304, 0, None)
    assert (
        not hostile["con"]
        .execute(
            "SELECT count(*) FROM articles WHERE source = ? AND run_id = ?",
            [HEALTHY_SOURCE, hostile["runs"][1]],
        )
        .fetchone()[0]
    )


def test_no_request_ever_reached_the_forbidden_server(hostile):
    assert hostile["forbidden_requests"] == []


# -- each hostile feed ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", FEED_CASES, ids=lambda c: c.name)
def test_feed_case_is_recorded_with_a_reason(hostile, case: Case):
    status, entries, error, _ = _feed_row(hostile, 0, case.name)
    if case.expect is None:
        assert error is None and entries >= 1
    else:
        assert error is not None and error.startswith(case.expect), error
        if not case.expect.startswith(USABLE_WARNINGS):
            assert entries == 0


def test_malformed_feed_with_entries_is_used(hostile):
    titles = (
        hostile["con"]
        .execute("SELECT title FROM articles WHERE source = 'feed-malformed-usable'")
        .fetchall()
    )
    assert titles == [("Story listed by a malformed feed",)]


def test_malformed_links_are_recorded_once_and_the_feed_still_loads(hostile):
    """A port out of range and a broken IPv6 literal in one feed: every run completes (see
    test_every_run_completes), the good entry loads, the bad-port page is recorded with its
    reason without a request, and later runs do not try it again."""
    con = hostile["con"]
    status, entries, error, _ = _feed_row(hostile, 0, "feed-bad-links")
    assert (status, entries) == (200, 2)
    assert error == "no_link: 1 of 3 entries skipped, without a usable http(s) link"
    assert con.execute(
        "SELECT status, error FROM raw_pages WHERE url = ?", [BAD_PORT_LINK]
    ).fetchall() == [(None, "invalid_url: Port out of range 0-65535")]
    assert con.execute("SELECT title FROM articles WHERE source = 'feed-bad-links'").fetchall() == [
        ("Story listed beside bad links",)
    ]
    new_per_run = con.execute(
        "SELECT f.new_entries FROM feed_fetches f JOIN pipeline_runs r USING (run_id) "
        "WHERE f.source = 'feed-bad-links' ORDER BY r.started_at"
    ).fetchall()
    assert new_per_run == [(2,), (0,), (0,), (0,)]


def test_flapping_feed_succeeds_on_retry_and_a_404_is_asked_once(hostile):
    assert _hits(hostile, 0, "main", "/feeds/flapping.xml") == 3  # 503, 503, 200
    assert hostile["con"].execute(
        "SELECT count(*) FROM articles WHERE source = 'feed-flapping-503'"
    ).fetchone() == (1,)
    assert _hits(hostile, 0, "main", "/feeds/missing.xml") == 1
    assert _hits(hostile, 0, "main", "/feeds/gone.xml") == 1
    assert _hits(hostile, 0, "main", "/feeds/throttled.xml") == 1
    assert _hits(hostile, 0, "main", "/feeds/error.xml") == 3
    assert _feed_row(hostile, 0, "feed-500")[2].startswith(
        "http_500: the feed answered HTTP 500 (after 3 attempts)"
    )


def test_retry_after_in_seconds_and_as_a_date_skip_the_source_until_then(hostile):
    con = hostile["con"]
    polled_429 = con.execute(
        "SELECT fetched_at FROM feed_fetches WHERE run_id = ? AND source = 'feed-429'",
        [hostile["runs"][0]],
    ).fetchone()[0]
    until_429, errors_429 = con.execute(
        "SELECT next_allowed_at, consecutive_errors FROM feed_state WHERE source = 'feed-429'"
    ).fetchone()
    assert until_429 - polled_429 == timedelta(seconds=120)  # both from the poll's fetched_at
    assert errors_429 == 0  # being throttled is not a failure

    until_503 = con.execute(
        "SELECT next_allowed_at FROM feed_state WHERE source = 'feed-503-retry-after'"
    ).fetchone()[0]
    first_error = _feed_row(hostile, 0, "feed-503-retry-after")[2]
    assert "throttled: not polled again before" in first_error
    assert timedelta(hours=1, minutes=55) < until_503 - polled_429 < timedelta(hours=2, minutes=5)

    for run in (1, 2):
        for source, path in (
            ("feed-429", "/feeds/throttled.xml"),
            ("feed-503-retry-after", "/feeds/unavailable.xml"),
        ):
            status, _, error, _ = _feed_row(hostile, run, source)
            assert status is None
            assert error.startswith("skipped: the feed asked us to wait (Retry-After) until")
            assert _hits(hostile, run, "main", path) == 0


def test_410_marks_the_source_gone_and_it_is_skipped(hostile):
    first = _feed_row(hostile, 0, "feed-410")[2]
    assert "source marked gone" in first and "--reset-source feed-410" in first
    assert hostile["con"].execute(
        "SELECT status FROM feed_state WHERE source = 'feed-410'"
    ).fetchone() == ("gone",)
    for run in (1, 2):
        status, _, error, _ = _feed_row(hostile, run, "feed-410")
        assert status is None and error.startswith("skipped: the feed is gone since")
        assert _hits(hostile, run, "main", "/feeds/gone.xml") == 0


FAILING_FEEDS = [
    c
    for c in FEED_CASES
    if c.expect
    and c.expect.split(":")[0] not in ("http_429", "http_503", "http_410", *USABLE_WARNINGS)
]


@pytest.mark.parametrize("case", FAILING_FEEDS, ids=lambda c: c.name)
def test_repeated_failures_pause_the_source_with_an_alert(hostile, case: Case):
    con = hostile["con"]
    second = _feed_row(hostile, 1, case.name)[2]
    assert second.startswith(case.expect)
    assert "source paused after 2 consecutive failures" in second
    assert f"--reset-source {case.name}" in second
    alert = con.execute(
        "SELECT title, body FROM alert_log WHERE kind = 'source_paused' AND run_id = ? "
        "AND title LIKE ?",
        [hostile["runs"][1], f"%source {case.name} paused%"],
    ).fetchone()
    assert alert is not None and f"newsflow run --reset-source {case.name}" in alert[1]
    third = _feed_row(hostile, 2, case.name)  # run 3: paused, so not requested
    assert third[0] is None and third[2].startswith("skipped: the source is paused since")
    assert "(2 failures in a row, the last: " in third[2]
    assert _hits(hostile, 2, "main", case.path) == 0


# -- each hostile page ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", PAGE_CASES, ids=lambda c: c.name)
def test_page_case_is_recorded_with_a_reason(hostile, case: Case):
    status, error = _page_error(hostile, case)
    if case.expect is None or case.expect.startswith("rejected:"):
        assert error is None
    else:
        assert error, f"{case.name}: no reason recorded"
        assert error.startswith(case.expect), error
    loaded = (
        hostile["con"]
        .execute("SELECT count(*) FROM articles WHERE url = ?", [hostile["site"].case_url(case)])
        .fetchone()[0]
    )
    assert loaded == (1 if case.expect is None else 0)


def test_no_article_page_is_rejected_for_body_present(hostile):
    case = next(c for c in PAGE_CASES if c.name == "no-article")
    status, error = _page_error(hostile, case)
    assert (status, error) == (200, None)
    [(checks, record)] = (
        hostile["con"]
        .execute(
            "SELECT failed_checks, record FROM rejected_articles WHERE url = ?",
            [hostile["site"].case_url(case)],
        )
        .fetchall()
    )
    assert checks[0] == "body_present" and case.expect == f"rejected:{checks[0]}"
    assert '"title": "Sections"' in record  # what extraction found is kept


@pytest.mark.parametrize("slug", ["charset-header-says-latin1", "charset-header-says-utf8"])
def test_page_whose_header_lies_about_its_charset_is_decoded_right(hostile, slug):
    case = next(c for c in PAGE_CASES if c.name == slug)
    text = (
        hostile["con"]
        .execute("SELECT text FROM articles WHERE url = ?", [hostile["site"].case_url(case)])
        .fetchone()[0]
    )
    assert "Regeringen föreslår nya åtgärder" in text and "Östersjöns" in text
    assert "Ã" not in text and "\ufffd" not in text


def test_binary_body_sent_as_html_never_reaches_extraction(hostile):
    case = next(c for c in PAGE_CASES if c.name == "binary-as-html")
    _, error = _page_error(hostile, case)
    assert error == "binary: the page is labelled text/html but the body is a PNG image; skipped"
    assert hostile["con"].execute(
        "SELECT count(*) FROM rejected_articles WHERE url LIKE '%binary%'"
    ).fetchone() == (0,)


def test_page_retries_only_for_transient_failures(hostile):
    assert _hits(hostile, 0, "main", "/pages/flapping.html") == 2  # 503, then 200
    assert _hits(hostile, 0, "main", "/pages/error.html") == 3
    assert _page_error(hostile, next(c for c in PAGE_CASES if c.name == "error-500"))[1] == (
        "http_500: the page answered HTTP 500 (after 3 attempts)"
    )
    for path in (
        "/pages/missing.html",
        "/pages/gone.html",
        "/pages/drip.html",
        "/pages/huge.html",
        "/pages/bomb.html",
    ):
        assert _hits(hostile, 0, "main", path) == 1, path


def test_a_throttling_host_is_left_alone_for_the_rest_of_the_run(hostile):
    for run in range(RUNS):
        assert _hits(hostile, run, "throttler", "/pages/after-throttle.html") == 0
    assert _hits(hostile, 0, "throttler", "/pages/throttled.html") == 1


def test_hostile_pages_are_all_accounted_for(hostile):
    first = _feed_row(hostile, 0, PAGES_SOURCE)
    assert first[:3] == (200, len(PAGE_CASES), None)
    urls = {hostile["site"].case_url(c) for c in PAGE_CASES}
    recorded = {
        u for (u,) in hostile["con"].execute("SELECT url FROM raw_pages").fetchall() if u in urls
    }
    assert recorded == urls


# -- lifecycle: permanent redirects, re-enabling --------------------------------------------------


def test_permanent_redirect_is_adopted_after_repeated_polls(hostile):
    site = hostile["site"]
    old, new = site.main.url("/feeds/old.xml"), site.main.url("/feeds/new.xml")
    # redirect_adopt_after = 2 here: runs 1 and 2 go through the 301, run 3 polls the new URL.
    assert [_hits(hostile, r, "main", "/feeds/old.xml") for r in range(3)] == [1, 1, 0]
    assert [_hits(hostile, r, "main", "/feeds/new.xml") for r in range(3)] == [1, 1, 1]
    assert [_feed_row(hostile, r, "feed-moved")[3] for r in range(3)] == [old, old, new]
    state = (
        hostile["con"]
        .execute(
            "SELECT config_url, effective_url, redirect_count FROM feed_state "
            "WHERE source = 'feed-moved'"
        )
        .fetchone()
    )
    assert state == (old, new, 0)  # the config URL is kept as written; the effective URL recorded


def test_reset_source_re_enables_gone_and_paused_sources(hostile):
    con = hostile["con"]
    assert _hits(hostile, 3, "main", "/feeds/gone.xml") == 1  # polled again after the reset
    assert _feed_row(hostile, 3, "feed-410")[2].startswith("http_410")  # and gone again
    assert _hits(hostile, 3, "main", "/feeds/error.xml") == 3
    status, errors = con.execute(
        "SELECT status, consecutive_errors FROM feed_state WHERE source = 'feed-500'"
    ).fetchone()
    assert (status, errors) == ("active", 1)  # a fresh error budget
    # Sources not named stay paused.
    assert _feed_row(hostile, 3, "feed-404")[2].startswith("skipped: the source is paused")


def test_reset_of_an_unknown_source_is_a_config_error(hostile):
    assert hostile["unknown_exit"] == 2
