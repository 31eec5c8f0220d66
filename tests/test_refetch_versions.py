"""Article edits: an article edited on the site between two runs gets version 2 with both
versions kept, found by re-checking recent pages with conditional GETs (tasks/fetch/refetch.py).

The flow-level tests read the session's demo warehouse (tests/warehouse_demo.py: two real
ingest runs over the demo site on loopback, the edit published in between). The policy tests
run on a real DuckDB file with pages archived at chosen times.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsflow.schemas.config import FetchConfig, parse_config
from newsflow.schemas.records import FeedEntry, Page
from newsflow.tasks.fetch.feeds import conditional_headers
from newsflow.tasks.fetch.refetch import due_for_recheck, keep_changed
from newsflow.tasks.warehouse.warehouse import Warehouse
from tests.warehouse_demo import EDITED, UPDATED_ROOT, demo_warehouse

PREVIOUS = "The reservoir was 38 percent full at the weekend"
CORRECTED = "The reservoir was 36 percent full on Monday morning"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory):
    return demo_warehouse(tmp_path_factory)


def test_the_overlay_really_edits_the_page():
    original = (Path(UPDATED_ROOT).parent / "site" / EDITED).read_text()
    edited = (UPDATED_ROOT / EDITED).read_text()
    assert PREVIOUS in original and CORRECTED not in original
    assert CORRECTED in edited and PREVIOUS not in edited


def test_edited_article_gets_version_2_and_keeps_version_1(demo):
    with demo.connect() as con:
        article_id, version, text = con.execute(
            "SELECT article_id, version, text FROM articles WHERE url LIKE ?", [f"%/{EDITED}"]
        ).fetchone()
        versions = con.execute(
            "SELECT version, text, run_id FROM article_versions WHERE article_id = ? "
            "ORDER BY version",
            [article_id],
        ).fetchall()
    assert version == 2
    assert CORRECTED in _norm(text) and PREVIOUS not in _norm(text)
    assert [v for v, _, _ in versions] == [1, 2]
    (_, v1_text, v1_run), (_, v2_text, v2_run) = versions
    assert PREVIOUS in _norm(v1_text) and CORRECTED not in _norm(v1_text)
    assert v2_text == text
    assert (v1_run, v2_run) == (demo.first.run_id, demo.second.run_id)
    # version 1 is exactly what the first run loaded
    first = {row[0]: row for row in demo.articles_after_first}
    assert first[article_id][4] == v1_text
    assert (demo.second.loaded.new, demo.second.loaded.updated) == (0, 1)


def test_unchanged_pages_cost_a_304_and_stay_as_they_were(demo):
    pages = [(path, status) for _, path, status in demo.second_requests if ".html" in path]
    assert (f"/{EDITED}", 200) in pages
    others = [status for path, status in pages if path != f"/{EDITED}"]
    # every other article page run 1 archived was re-checked once, and cost a 304
    with demo.connect() as con:
        archived = con.execute(
            "SELECT count(*) FROM raw_pages WHERE status = 200 AND error IS NULL"
        ).fetchone()[0]
        after = con.execute("SELECT * FROM articles ORDER BY article_id").fetchall()
        checks = con.execute(
            "SELECT count(*) FROM raw_pages WHERE checked_at > fetched_at"
        ).fetchone()[0]
    assert others == [304] * (archived - 1)
    assert checks == archived - 1  # a 304 records the check, the archived page stays
    feeds = [status for _, path, status in demo.second_requests if path.endswith((".xml", ".rdf"))]
    assert feeds == [304, 304, 304]
    # nothing else changed: the other articles are identical, column for column
    before = [row for row in demo.articles_after_first if not row[1].endswith(EDITED)]
    assert [row for row in after if not row[1].endswith(EDITED)] == before


def test_the_archive_keeps_the_new_html_and_its_validators(demo):
    import gzip

    import duckdb

    with duckdb.connect(str(demo.working), read_only=True) as con:
        html, etag, run_id = con.execute(
            "SELECT html, etag, run_id FROM raw_pages WHERE url LIKE ?", [f"%/{EDITED}"]
        ).fetchone()
        missing = con.execute(
            "SELECT count(*) FROM raw_pages WHERE html IS NOT NULL AND etag IS NULL"
        ).fetchone()[0]
    assert CORRECTED.encode() in gzip.decompress(html)
    assert etag and run_id == demo.second.run_id
    assert missing == 0  # every archived page can be re-checked conditionally


# -- the policy, on a real warehouse file ---------------------------------------------------

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _page(url: str, fetched_at: datetime, *, error: str | None = None, **extra) -> Page:
    return Page(
        source=extra.pop("source", "news"),
        entry_id=url,
        url=url,
        final_url=url,
        status=200 if error is None else 404,
        content_type="text/html",
        content=b"<html><p>body</p></html>" if error is None else None,
        error=error,
        fetched_at=fetched_at,
        transient=False,
        etag=extra.pop("etag", '"e1"'),
        last_modified=extra.pop("last_modified", None),
        entry=FeedEntry(source="news", entry_id=url, url=url, title="Feed title"),
        **extra,
    )


@pytest.fixture
def warehouse(tmp_path):
    with Warehouse.open(tmp_path / "news.duckdb", lock_timeout_s=1) as wh:
        yield wh


def _policy(**overrides) -> FetchConfig:
    values = {"refetch_window_h": 24, "refetch_interval_min": 60, "refetch_max_pages": 100}
    return FetchConfig(**(values | overrides))


def test_due_pages_are_recent_not_checked_lately_and_fine(warehouse):
    warehouse.save_pages(
        "r1",
        [
            _page("https://n.example/recent", NOW - timedelta(hours=3)),
            _page("https://n.example/just-checked", NOW - timedelta(minutes=20)),
            _page("https://n.example/old", NOW - timedelta(hours=30)),
            _page("https://n.example/404", NOW - timedelta(hours=3), error="http_404"),
            _page("https://n.example/no-etag", NOW - timedelta(hours=2), etag=None,
                  last_modified="Thu, 26 Nov 2026 10:00:00 GMT"),
        ],
    )  # fmt: skip
    due = due_for_recheck(warehouse, _policy(), ["news"], NOW)
    assert [e.url for e in due.entries] == ["https://n.example/recent", "https://n.example/no-etag"]
    assert due.headers["https://n.example/recent"] == {"If-None-Match": '"e1"'}
    assert due.headers["https://n.example/no-etag"] == {
        "If-Modified-Since": "Thu, 26 Nov 2026 10:00:00 GMT"
    }
    assert due.entries[0].title == "Feed title"  # the feed's metadata rides along
    assert len(due_for_recheck(warehouse, _policy(refetch_window_h=0), ["news"], NOW)) == 0
    assert len(due_for_recheck(warehouse, _policy(refetch_max_pages=1), ["news"], NOW)) == 1
    assert len(due_for_recheck(warehouse, _policy(), ["other-source"], NOW)) == 0
    everything = due_for_recheck(warehouse, _policy(refetch_interval_min=0), ["news"], NOW)
    assert len(everything) == 3  # the interval was what held back the page checked lately


def test_a_304_or_a_failure_records_the_check_and_keeps_the_html(warehouse):
    url = "https://n.example/story"
    warehouse.save_pages("r1", [_page(url, NOW - timedelta(hours=3))])
    later = NOW - timedelta(hours=1)
    not_modified = _page(url, later, error="http_304: the page answered HTTP 304")
    not_modified.status = 304
    assert keep_changed(warehouse, [not_modified]) == []
    html, checked, fetched = warehouse.con.execute(
        "SELECT html, checked_at, fetched_at FROM raw_pages"
    ).fetchone()
    assert html is not None and checked == later and fetched == NOW - timedelta(hours=3)
    assert len(due_for_recheck(warehouse, _policy(refetch_interval_min=90), ["news"], NOW)) == 0
    failed = _page(url, NOW, error="timeout: no answer")
    failed.status = None
    assert keep_changed(warehouse, [failed]) == []
    assert warehouse.con.execute("SELECT html IS NOT NULL, error FROM raw_pages").fetchone() == (
        True,
        None,
    )
    changed = _page(url, NOW)
    assert keep_changed(warehouse, [changed]) == [changed]


def test_conditional_headers():
    assert conditional_headers(None, None) == {}
    assert conditional_headers('"x"', "Thu, 26 Nov 2026 10:00:00 GMT") == {
        "If-None-Match": '"x"',
        "If-Modified-Since": "Thu, 26 Nov 2026 10:00:00 GMT",
    }


def test_refetch_keys_have_defaults_and_parse():
    defaults = parse_config("").fetch
    assert (defaults.refetch_window_h, defaults.refetch_interval_min) == (24.0, 120.0)
    assert defaults.refetch_max_pages == 500
    config = parse_config("[fetch]\nrefetch_window_h = 6\nrefetch_interval_min = 0\n")
    assert (config.fetch.refetch_window_h, config.fetch.refetch_interval_min) == (6.0, 0.0)
    with pytest.raises(ValueError, match="refetch_interval_min"):
        parse_config("[fetch]\nrefetch_interval_min = -5\n")
