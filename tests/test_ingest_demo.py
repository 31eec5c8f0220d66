"""End to end over real parts: the demo site on loopback HTTP, a real Prefect flow run, real
Great Expectations validation and a real DuckDB file, then the same again to prove a rerun
changes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from newsflow.demo.config import demo_config
from newsflow.demo.server import demo_site_root, start_demo_site
from newsflow.flows.ingest import ingest
from newsflow.tasks.fetch.urls import article_id

MANIFEST = json.loads((demo_site_root() / "manifest.json").read_text())
REAL_ARTICLES = [m for m in MANIFEST if m["kind"] in ("article", "wire_copy")]


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().casefold()


@pytest.fixture(scope="module")
def demo_runs(prefect_harness, tmp_path_factory):
    """Two ingest runs of the demo into one file; the snapshot is read after each."""
    db = tmp_path_factory.mktemp("demo") / "newsflow.duckdb"
    site = start_demo_site(0)
    try:
        config = demo_config(site.base_url, db=str(db))
        first = ingest(config=config, db=str(db))
        with duckdb.connect(str(db), read_only=True) as con:
            after_first = con.execute("SELECT * FROM articles ORDER BY article_id").fetchall()
        requests_before = len(site.requests)
        second = ingest(config=config, db=str(db))
        second_requests = site.requests[requests_before:]
    finally:
        site.stop()
    return {
        "db": db,
        "first": first,
        "second": second,
        "after_first": after_first,
        "second_requests": second_requests,
        "base": site.base_url,
    }


@pytest.fixture
def con(demo_runs):
    with duckdb.connect(str(demo_runs["db"]), read_only=True) as connection:
        yield connection


def test_loads_the_demo_articles(demo_runs, con):
    assert demo_runs["first"].status == "completed"
    count = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert count >= 25
    # every real article of the site is there, once, under its own source
    titles = {t for (t,) in con.execute("SELECT title FROM articles").fetchall()}
    assert {m["title"] for m in REAL_ARTICLES} <= titles
    assert con.execute("SELECT count(*) - count(DISTINCT url) FROM articles").fetchone() == (0,)


def test_text_has_no_title_echo_repeats_or_captions(con):
    rows = con.execute("SELECT url, title, text, captions FROM articles").fetchall()
    for url, title, text, captions in rows:
        assert not _norm(text).startswith(_norm(title)), url
        paragraphs = [_norm(p) for p in text.split("\n") if len(p.strip()) >= 30]
        assert len(paragraphs) == len(set(paragraphs)), url
        for caption in captions:
            assert _norm(caption["text"]) not in _norm(text), (url, caption["text"])
        assert "\nTT\n" not in f"\n{text}\n", url


def test_captions_are_kept_apart_with_credits(con):
    by_title = {
        title: captions
        for title, captions in con.execute("SELECT title, captions FROM articles").fetchall()
    }
    for page in REAL_ARTICLES:
        got = by_title[page["title"]]
        assert [_norm(c["text"]) for c in got] == [_norm(c["text"]) for c in page["captions"]], (
            page["path"]
        )
        assert all(c["credit"] for c in got), page["path"]


def test_body_matches_the_page(con):
    by_title = dict(con.execute("SELECT title, text FROM articles").fetchall())
    for page in REAL_ARTICLES:
        text = by_title[page["title"]]
        assert _norm(page["first_paragraph"]) in _norm(text), page["path"]
        assert _norm(page["last_paragraph"]) in _norm(text), page["path"]


def test_metadata_is_extracted(con):
    rows = con.execute("SELECT title, authors, published_at, language FROM articles").fetchall()
    by_title = {r[0]: r for r in rows}
    for page in REAL_ARTICLES:
        _, authors, published_at, language = by_title[page["title"]]
        assert authors == page["authors"], page["path"]
        assert published_at.isoformat().startswith(page["published_at"][:16]), page["path"]
        assert language == "en"


def test_caption_only_404_and_pdf_are_accounted_for(demo_runs, con):
    special = {
        m["kind"]: m["path"] for m in MANIFEST if m["kind"] in ("caption_only", "missing", "pdf")
    }
    rejected = dict(con.execute("SELECT url, failed_checks FROM rejected_articles").fetchall())
    caption_only = next(u for u in rejected if u.endswith(special["caption_only"]))
    # a picture and its summary: no body of its own, the only page the quarantine holds
    assert rejected == {caption_only: ["body_present", "body_min_length"]}
    errors = dict(
        con.execute("SELECT url, error FROM raw_pages WHERE error IS NOT NULL").fetchall()
    )
    missing = next(e for u, e in errors.items() if u.endswith(special["missing"]))
    pdf = next(e for u, e in errors.items() if u.endswith(special["pdf"]))
    assert missing.startswith("http_404")
    assert pdf.startswith("not_html") and "application/pdf" in pdf


def test_no_demo_article_carries_the_newsletter_line(con):
    promos = {line for m in MANIFEST for line in m["boilerplate_lines"] if "inbox" in line}
    assert "Get the North Star Wire evening digest in your inbox every weekday at 6pm." in promos
    for url, text in con.execute("SELECT url, text FROM articles").fetchall():
        assert not {_norm(p) for p in promos} & {_norm(line) for line in text.split("\n")}, url


def test_demo_articles_are_clean_and_say_where_their_date_is_from(con):
    rows = con.execute("SELECT quality_flags, published_at_source FROM articles").fetchall()
    assert len(rows) >= 25
    assert all(flags == [] for flags, _ in rows)
    assert {source for _, source in rows} <= {"json-ld", "meta"}


def test_the_same_article_in_two_feeds_is_one_row(demo_runs, con):
    cross = next(m for m in MANIFEST if m["kind"] == "cross_feed")
    rows = con.execute(
        "SELECT article_id, source, url FROM articles WHERE title = ?", [cross["title"]]
    ).fetchall()
    assert len(rows) == 1
    assert "utm_" not in rows[0][2]
    # the partner feed links it with utm_ tracking; the owner's feed lists it too
    linked = cross["url"].replace("{{BASE}}", demo_runs["base"])
    canonical = cross["canonical_url"].replace("{{BASE}}", demo_runs["base"])
    assert "utm_source=" in linked and linked != canonical
    assert rows[0] == (article_id(canonical), "harbor-gazette", canonical)  # first source keeps it
    fetched = con.execute(
        "SELECT count(*) FROM raw_pages WHERE final_url LIKE ?", [f"{canonical}%"]
    ).fetchone()
    assert fetched == (1,)  # and its page was fetched once


def test_rerun_changes_nothing_and_records_the_poll(demo_runs, con):
    after_second = con.execute("SELECT * FROM articles ORDER BY article_id").fetchall()
    strip = lambda rows: [r[:13] for r in rows]  # noqa: E731  (all but last_seen_at and run_id)
    assert strip(after_second) == strip(demo_runs["after_first"])
    assert demo_runs["second"].loaded.new == 0
    polls = con.execute(
        "SELECT run_id, status, new_entries FROM feed_fetches ORDER BY fetched_at"
    ).fetchall()
    assert len(polls) == 6
    second_run = [p for p in polls if p[0] == demo_runs["second"].run_id]
    assert [(status, new) for _, status, new in second_run] == [(304, 0)] * 3
    # the second poll sent conditional requests and fetched no page at all
    assert all(path.endswith((".xml", ".rdf")) for _, path, _ in demo_runs["second_requests"])


def test_pipeline_runs_are_recorded(demo_runs, con):
    runs = con.execute(
        "SELECT run_id, status, articles_new, pages_fetched FROM pipeline_runs ORDER BY started_at"
    ).fetchall()
    assert [r[1] for r in runs] == ["completed", "completed"]
    assert runs[0][2] >= 25 and runs[1][2] == 0 and runs[1][3] == 0


def test_raw_html_is_archived_in_the_working_file_only(demo_runs, con):
    assert con.execute("SELECT count(*) FROM raw_pages WHERE html IS NOT NULL").fetchone() == (0,)
    work = Path(demo_runs["db"]).with_name("newsflow.work.duckdb")
    with duckdb.connect(str(work), read_only=True) as working:
        archived = working.execute(
            "SELECT count(*) FROM raw_pages WHERE html IS NOT NULL"
        ).fetchone()[0]
    assert archived >= 25
