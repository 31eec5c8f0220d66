"""``reprocess``: extract → clean → validate → load again from the page archive, with the network
refused, reproduces ``articles`` row for row (the edited article's version 2 included).

It runs on a copy of the session's demo warehouse (tests/warehouse_demo.py) with the demo site
stopped and no private address allowed, while a Python audit hook records every connection
the process opens: the only ones allowed are to the Prefect API the test harness runs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import duckdb
import pytest

from newsflow.cli.main import main
from newsflow.flows.reprocess import reprocess
from newsflow.schemas.config import FetchConfig
from newsflow.schemas.records import Page
from newsflow.tasks.warehouse.archive import split_by_boilerplate
from newsflow.tasks.warehouse.warehouse import working_path
from tests.warehouse_demo import copy_warehouse, demo_warehouse


@dataclass
class NetworkLog:
    """Connections and name lookups seen by the audit hook while ``active``."""

    active: bool = False
    connects: list[tuple[str, int]] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)

    def hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "socket.connect" and isinstance(args[1], tuple):
            self.connects.append((str(args[1][0]), int(args[1][1])))
        elif event == "socket.getaddrinfo":
            self.lookups.append(str(args[0]))


_LOG = NetworkLog()
sys.addaudithook(_LOG.hook)  # audit hooks cannot be removed; inactive outside the test


def _articles(db) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT * FROM articles ORDER BY article_id").fetchall()


@pytest.fixture(scope="module")
def reprocessed(prefect_harness, tmp_path_factory):
    from prefect.settings import PREFECT_API_URL

    demo = demo_warehouse(tmp_path_factory)  # its site is stopped once it is built
    db = copy_warehouse(demo, tmp_path_factory.mktemp("reprocess"))
    before = _articles(db)
    with duckdb.connect(str(db), read_only=True) as con:
        versions_before = con.execute("SELECT * FROM article_versions ORDER BY ALL").fetchall()
    config = demo.config.model_copy(
        update={"fetch": FetchConfig(allow_private=[], per_host_delay_s=0.0)}
    )
    api = urlsplit(PREFECT_API_URL.value())
    _LOG.connects.clear()
    _LOG.lookups.clear()
    _LOG.active = True
    try:
        summary = reprocess(config=config, db=str(db))
    finally:
        _LOG.active = False
    return {
        "db": db,
        "demo": demo,
        "before": before,
        "versions_before": versions_before,
        "summary": summary,
        "api": (api.hostname, api.port),
        "connects": list(_LOG.connects),
        "lookups": list(_LOG.lookups),
    }


def test_reprocess_reproduces_articles_row_for_row(reprocessed):
    after = _articles(reprocessed["db"])
    assert len(after) == len(reprocessed["before"]) >= 35
    assert after == reprocessed["before"]
    with duckdb.connect(str(reprocessed["db"]), read_only=True) as con:
        versions = con.execute("SELECT * FROM article_versions ORDER BY ALL").fetchall()
        edited = con.execute("SELECT count(*) FROM articles WHERE version = 2").fetchone()[0]
    assert versions == reprocessed["versions_before"]
    assert edited == 1  # the corrected article is reproduced at its version 2
    summary = reprocessed["summary"]
    assert (summary.loaded.new, summary.loaded.updated) == (0, 0)
    assert summary.loaded.unchanged == len(after)
    assert [url.rsplit("/", 1)[-1] for url in summary.rejected] == [
        "2026-11-27-first-frost-orchards.html"  # the caption-only page, rejected again
    ]


def test_reprocess_used_no_network(reprocessed):
    host, port = reprocessed["api"]
    elsewhere = [c for c in reprocessed["connects"] if c[1] != port]
    assert elsewhere == []  # only the Prefect API of the test harness
    assert reprocessed["summary"].pages_fetched == 0
    demo_port = urlsplit(reprocessed["demo"].base_url).port
    assert all(p != demo_port for _, p in reprocessed["connects"])
    assert set(reprocessed["lookups"]) <= {host, "localhost", "127.0.0.1"}


def test_reprocess_is_recorded_as_its_own_run(reprocessed):
    with duckdb.connect(str(reprocessed["db"]), read_only=True) as con:
        runs = con.execute(
            "SELECT flow, status, pages_fetched, articles_unchanged FROM pipeline_runs "
            "ORDER BY started_at"
        ).fetchall()
    assert [r[0] for r in runs] == ["ingest", "ingest", "reprocess"]
    assert runs[-1][1:] == ("completed", 0, len(reprocessed["before"]))


def test_cli_reprocess_filters_by_source_and_date(reprocessed, capsys):
    db = reprocessed["db"]
    with duckdb.connect(str(working_path(db)), read_only=True) as con:
        (count,) = con.execute(
            "SELECT count(*) FROM raw_pages WHERE html IS NOT NULL AND source = 'north-star-wire'"
        ).fetchone()
    assert main(["reprocess", "--db", str(db), "--since", "2999-01-01"]) == 0
    capsys.readouterr()
    assert main(["reprocess", "--db", str(db), "--source", "north-star-wire"]) == 0
    assert "newsflow reprocess " in capsys.readouterr().out  # the summary names its command
    assert _articles(db) == reprocessed["before"]
    with duckdb.connect(str(db), read_only=True) as con:
        runs = con.execute(
            "SELECT articles_unchanged FROM pipeline_runs WHERE flow = 'reprocess' "
            "ORDER BY started_at"
        ).fetchall()
    assert runs[1:] == [(0,), (count,)]  # nothing fetched after 2999; every wire page
    with pytest.raises(SystemExit) as bad:
        main(["reprocess", "--db", str(db), "--since", "yesterday"])
    assert bad.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_pages_are_grouped_by_the_boilerplate_their_run_applied():
    def page(url, source, set_id, hashes=()):
        return Page(source=source, entry_id=url, url=url, final_url=url,
                    fetched_at=datetime.now(UTC), boilerplate_set=set_id,
                    boilerplate=frozenset(hashes))  # fmt: skip

    pages = [
        page("a1", "a", "s1", ["x"]),
        page("b1", "b", "t1"),
        page("a2", "a", "s2", ["x", "y"]),
        page("a3", "a", "s1", ["x"]),
        page("c1", "c", None),
    ]
    groups = split_by_boilerplate(pages, {"c": frozenset({"learnt"})})
    assert [[p.url for p in members] for members, _ in groups] == [
        ["a1", "b1", "a3", "c1"],
        ["a2"],
    ]
    assert groups[0][1] == {"a": {"x"}, "b": frozenset(), "c": {"learnt"}}
    assert groups[1][1] == {"a": {"x", "y"}}


def _page_errors(db) -> dict[str, str | None]:
    with duckdb.connect(str(working_path(db)), read_only=True) as con:
        return dict(
            con.execute("SELECT url, error FROM raw_pages WHERE html IS NOT NULL").fetchall()
        )


def test_reprocess_keeps_the_error_of_pages_now_rejected(prefect_harness, tmp_path_factory):
    """A page whose extraction failed at ingest and that now gives a row the row checks reject
    keeps its stored error; only pages that now give a loaded article lose it. A warning check
    never rejects: a word minimum no article reaches loads every article with the flag, and the
    next reprocess without it clears the flag (the flags follow the checks, not the content)."""
    demo = demo_warehouse(tmp_path_factory)
    db = copy_warehouse(demo, tmp_path_factory.mktemp("reprocess-errors"))
    with duckdb.connect(str(working_path(db))) as con:  # as if extraction had failed at ingest
        con.execute("UPDATE raw_pages SET error = 'extraction failed' WHERE html IS NOT NULL")
    urls = set(_page_errors(db))
    assert len(urls) >= 35
    caption_only = ["2026-11-27-first-frost-orchards.html"]  # rejected for body_present
    fetch = FetchConfig(allow_private=[], per_host_delay_s=0.0)
    strict = demo.config.model_copy(
        update={"fetch": fetch, "checks": {**demo.config.checks, "min_words": 100_000}}
    )
    summary = reprocess(config=strict, db=str(db))
    assert summary.loaded.unchanged == len(urls) - 1
    kept = {url for url, error in _page_errors(db).items() if error is not None}
    assert [url.rsplit("/", 1)[-1] for url in kept] == caption_only
    with duckdb.connect(str(db), read_only=True) as con:
        flags = con.execute("SELECT DISTINCT quality_flags FROM articles").fetchall()
    assert flags == [(["body_min_length"],)]

    plain = demo.config.model_copy(update={"fetch": fetch})
    summary = reprocess(config=plain, db=str(db))
    errors = _page_errors(db)
    kept = {url for url, error in errors.items() if error is not None}
    assert [url.rsplit("/", 1)[-1] for url in kept] == caption_only
    assert summary.loaded.unchanged == len(urls) - 1
    with duckdb.connect(str(db), read_only=True) as con:
        flags = con.execute("SELECT DISTINCT quality_flags FROM articles").fetchall()
    assert flags == [([],)]
