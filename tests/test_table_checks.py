"""The table suite over a real DuckDB warehouse with real Great Expectations runs.

Each check gets a crafted source that fails it and nothing else, next to a healthy source, so
a check that stops firing (or starts firing on its neighbour's data) shows up here by name.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from newsflow.cli.main import main
from newsflow.schemas.suites import (
    TABLE_SUITE,
    check_thresholds,
    effective_thresholds,
    load_suite,
    suite_defaults,
)
from newsflow.tasks.quality.table_checks import check_tables
from newsflow.tasks.warehouse.warehouse import Warehouse

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RUN = "run-now"
#: Each check's severity as the suite declares it: a result must carry its check's severity, and
#: tuning a severity in the suite JSON needs no edit here.
SEVERITIES = {e["meta"]["check"]: e["severity"] for e in load_suite(TABLE_SUITE)["expectations"]}
_ids = count()


class Data:
    """Rows written straight into the warehouse tables (the contract in docs/warehouse.md)."""

    def __init__(self, con) -> None:
        self.con = con

    def run(self, run_id: str, started: datetime) -> None:
        self.con.execute(
            "INSERT INTO pipeline_runs (run_id, flow, started_at, status) "
            "VALUES (?, 'ingest', ?, 'completed')",
            [run_id, started],
        )

    def poll(self, run_id: str, source: str, new_entries: int, at: datetime) -> None:
        self.con.execute(
            "INSERT INTO feed_fetches (run_id, source, feed_url, status, entries, new_entries, "
            "fetched_at) VALUES (?, ?, ?, 200, ?, ?, ?)",
            [run_id, source, f"https://{source}.example/rss", new_entries, new_entries, at],
        )

    def article(
        self,
        source: str,
        *,
        run_id: str = RUN,
        published: datetime | None = NOW - timedelta(hours=2),
        authors: list[str] | None = None,
        url: str | None = None,
    ) -> str:
        n = next(_ids)
        url = url or f"https://{source}.example/{n}"
        authors = ["Jo Writer"] if authors is None else authors
        self.con.execute(
            "INSERT INTO articles (article_id, url, source, title, text, authors, published_at, "
            "language, word_count, content_hash, version, first_seen_at, last_seen_at, run_id) "
            "VALUES (?, ?, ?, 't', 'x', ?, ?, 'en', 100, ?, 1, ?, ?, ?)",
            [f"id{n}", url, source, authors, published, f"h{n}", NOW, NOW, run_id],
        )
        self.con.execute(
            "INSERT INTO article_versions VALUES (?, 1, ?, 't', 'x', ?, ?)",
            [f"id{n}", f"h{n}", NOW, run_id],
        )
        return url

    def rejected(self, source: str, run_id: str = RUN) -> str:
        url = f"https://{source}.example/rejected-{next(_ids)}"
        self.con.execute(
            "INSERT INTO rejected_articles (url, source, run_id, failed_checks, rejected_at) "
            "VALUES (?, ?, ?, ['body_min_length'], ?)",
            [url, source, run_id, NOW],
        )
        return url

    def empty_page(self, source: str, run_id: str = RUN) -> str:
        url = f"https://{source}.example/photo-{next(_ids)}"
        self.con.execute(
            "INSERT INTO raw_pages (url, source, status, fetched_at, run_id, error) "
            "VALUES (?, ?, 200, ?, ?, 'no article text left after cleaning')",
            [url, source, NOW, run_id],
        )
        return url

    def failed_page(self, source: str, status: int | None = 404, run_id: str = RUN) -> str:
        url = f"https://{source}.example/gone-{next(_ids)}"
        error = f"HTTP {status}" if status else "blocked by the address guard"
        self.con.execute(
            "INSERT INTO raw_pages (url, source, status, fetched_at, run_id, error) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [url, source, status, NOW, run_id, error],
        )
        return url

    def healthy(self, source: str) -> None:
        """Five fresh articles with authors and dates in this run."""
        for _ in range(5):
            self.article(source)


@pytest.fixture
def warehouse(tmp_path):
    with Warehouse.open(tmp_path / "news.duckdb") as wh:
        data = Data(wh.con)
        data.run(RUN, NOW)
        yield wh, data


def run_checks(wh, sources, checks=None, source_checks=None, **kwargs):
    thresholds = effective_thresholds(TABLE_SUITE, checks or {}, source_checks or {}, sources)
    outcome = check_tables(wh, run_id=RUN, thresholds=thresholds, now=NOW, **kwargs)
    return outcome, {(r.check, r.source): r for r in outcome.results}


def test_suite_json_names_every_check_with_a_severity_and_thresholds():
    suite = load_suite(TABLE_SUITE)
    assert suite["name"] == "articles_table"
    assert set(SEVERITIES) == set(CRAFTED)  # every check has a crafted source that fails it
    assert set(SEVERITIES.values()) <= {"critical", "warning"}
    assert suite_defaults(TABLE_SUITE) == suite["meta"]["newsflow"]["thresholds"]


def craft_stale(data, source):
    for hours in (100, 120, 130, 140, 150):
        data.article(source, published=NOW - timedelta(hours=hours))


def craft_volume(data, source):
    for i in range(3):
        run = f"old-{i}"
        if not data.con.execute("SELECT 1 FROM pipeline_runs WHERE run_id = ?", [run]).fetchone():
            data.run(run, NOW - timedelta(days=3 - i))
        data.poll(run, source, 8, NOW - timedelta(days=3 - i))
        for _ in range(8):
            data.article(source, run_id=run)
    data.poll(RUN, source, 5, NOW)
    data.healthy(source)  # 5 loaded in this run against a median of 8 new: fine…
    data.con.execute(
        "DELETE FROM article_versions WHERE run_id = ? AND article_id IN "
        "(SELECT article_id FROM articles WHERE source = ? AND run_id = ? LIMIT 4)",
        [RUN, source, RUN],
    )  # …but only 1 of them is new (the other 4 were seen before): 1 < 0.25 × 8


def craft_rejects(data, source):
    data.article(source)
    data.article(source)
    data.rejected(source)
    data.rejected(source)
    data.empty_page(source)


def craft_page_errors(data, source):
    """Six of ten pages fetched failed (404s and a refused address); the other four loaded."""
    for _ in range(4):
        data.article(source)
        data.con.execute(
            "INSERT INTO raw_pages (url, source, status, fetched_at, run_id) "
            "VALUES (?, ?, 200, ?, ?)",
            [f"https://{source}.example/ok-{next(_ids)}", source, NOW, RUN],
        )
    for status in (404, 404, 404, 503, 410, None):
        data.failed_page(source, status)


def craft_no_authors(data, source):
    for i in range(5):
        data.article(source, authors=[] if i < 3 else ["A"])


def craft_no_dates(data, source):
    for i in range(5):
        data.article(source, published=None if i < 2 else NOW - timedelta(hours=1))


def craft_duplicates(data, source):
    data.healthy(source)
    data.article(source, url=f"https://{source}.example/same")
    data.article(source, url=f"https://{source}.example/same")


CRAFTED = {
    "freshness": (craft_stale, "newest article 100.0 h old", 5),
    "volume": (craft_volume, "1 new articles in this run", 1),
    "reject_rate": (craft_rejects, "60% of the source's pages gave no valid article", 3),
    "page_error_rate": (
        craft_page_errors,
        "60% of the source's pages failed (6 of 10 did not answer 200)",
        6,
    ),
    "authors_null_rate": (craft_no_authors, "60% of articles without authors (3 of 5)", 3),
    "published_at_null_rate": (
        craft_no_dates,
        "40% of articles without published_at (2 of 5)",
        2,
    ),
    "no_duplicate_urls": (craft_duplicates, "2 articles share their URL", 2),
}


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    """One warehouse, one GX run: a healthy source and one crafted source per check, named
    after the check it should fail."""
    with Warehouse.open(tmp_path_factory.mktemp("crafted") / "news.duckdb") as wh:
        data = Data(wh.con)
        data.run(RUN, NOW)
        data.healthy("good")
        for check, (craft, _, _) in CRAFTED.items():
            craft(data, check)
        _, results = run_checks(wh, ["good", *CRAFTED])
    return results


def test_the_healthy_neighbour_passes(crafted):
    assert {c: r.status for (c, s), r in crafted.items() if s == "good"} == {
        "freshness": "pass",
        "volume": "skip",
        "reject_rate": "pass",
        "page_error_rate": "skip",  # its pages were loaded straight into articles: none fetched
        "authors_null_rate": "pass",
        "published_at_null_rate": "pass",
        "no_duplicate_urls": "pass",
    }
    assert crafted[("reject_rate", "good")].observed["observed"] == (
        "0% of the source's pages gave no valid article (0 of 5: 0 rejected by the row "
        "checks, 0 without article text)"
    )


@pytest.mark.parametrize("check", sorted(CRAFTED))
def test_each_check_fails_alone_for_its_crafted_source(crafted, check):
    _, observed, unexpected = CRAFTED[check]
    failing = {c for (c, source), r in crafted.items() if source == check and r.status == "fail"}
    assert failing == {check}
    bad = crafted[(check, check)]
    assert bad.severity == SEVERITIES[check] and not bad.success
    assert bad.observed["observed"].startswith(observed), bad.observed["observed"]
    assert bad.observed["expected"]
    assert bad.count == unexpected
    row = bad.dq_row()
    assert (row["suite"], row["source"], row["success"]) == ("articles_table", check, False)
    json.loads(row["observed"])


def test_failing_rows_come_with_sample_urls(warehouse):
    wh, data = warehouse
    rejected = sorted(data.rejected("bad") for _ in range(7))
    data.article("bad")
    _, results = run_checks(wh, ["bad"])
    samples = results[("reject_rate", "bad")].observed["sample_urls"]
    assert samples == rejected[:5]


def test_a_source_with_no_article_is_not_fresh(warehouse):
    wh, _ = warehouse
    _, results = run_checks(wh, ["silent"])
    fresh = results[("freshness", "silent")]
    assert fresh.status == "fail"
    assert fresh.observed["observed"] == "no article from this source in the warehouse"
    assert {r.status for (c, _), r in results.items() if c != "freshness"} <= {"pass", "skip"}


def test_rates_skip_below_min_rows(warehouse):
    wh, data = warehouse
    data.rejected("small")
    data.article("small", authors=[])
    _, results = run_checks(wh, ["small"])
    assert results[("reject_rate", "small")].status == "skip"
    assert results[("authors_null_rate", "small")].status == "skip"
    _, results = run_checks(wh, ["small"], checks={"min_rows": 1})
    assert results[("reject_rate", "small")].status == "fail"
    assert results[("authors_null_rate", "small")].status == "fail"


def test_thresholds_override_globally_and_per_source(warehouse):
    wh, data = warehouse
    for source in ("a", "b"):  # 3 of 5 pages rejected: 60%
        for _ in range(2):
            data.article(source)
        for _ in range(3):
            data.rejected(source)
    _, results = run_checks(wh, ["a", "b"])
    assert results[("reject_rate", "a")].status == results[("reject_rate", "b")].status == "fail"

    _, results = run_checks(
        wh,
        ["a", "b"],
        checks={"max_reject_rate": 0.7},
        source_checks={"b": {"max_reject_rate": 0.5}},
    )
    assert results[("reject_rate", "a")].status == "pass"
    assert results[("reject_rate", "b")].status == "fail"
    assert results[("reject_rate", "b")].observed["expected"].startswith("at most 50%")


def test_data_docs_page_for_the_table_suite(warehouse, tmp_path):
    wh, data = warehouse
    data.healthy("good")
    outcome, _ = run_checks(wh, ["good"], data_docs_dir=tmp_path / "docs", validation_name="v-1")
    assert outcome.data_docs_index == tmp_path / "docs" / "index.html"
    assert outcome.data_docs_index.is_file() and outcome.data_docs_page.is_file()
    assert "v-1" in outcome.data_docs_index.read_text("utf-8")
    assert "articles_table" in outcome.data_docs_page.read_text("utf-8")


def test_latest_ingest_run(warehouse):
    wh, data = warehouse
    data.run("older", NOW - timedelta(days=1))
    assert wh.latest_ingest_run() == RUN


# --------------------------------------------------------------------------- config


def test_thresholds_of_both_suites_share_one_table():
    assert check_thresholds({"min_words": 40, "freshness_hours": 6, "max_reject_rate": 0.5})
    with pytest.raises(ValueError, match="unknown threshold 'freshnes_hours'"):
        check_thresholds({"freshnes_hours": 6})
    with pytest.raises(ValueError, match="'max_reject_rate' must be a fraction from 0 to 1"):
        check_thresholds({"max_reject_rate": 25})
    with pytest.raises(ValueError, match="'volume_runs' must be an integer >= 1"):
        check_thresholds({"volume_runs": 2.5})
    with pytest.raises(ValueError, match="'min_words' must be a non-negative integer"):
        check_thresholds({"min_words": -1})


@pytest.mark.parametrize("command", ["run", "check"])
def test_a_bad_threshold_is_a_config_error_at_start_up(tmp_path, capsys, command):
    config = tmp_path / "newsflow.toml"
    config.write_text(
        '[[sources]]\nname = "harbor"\nfeed = "https://harbor.example/rss.xml"\n'
        "checks = { max_reject_rate = 1.5 }\n"
    )
    assert main([command, "--config", str(config), "--db", str(tmp_path / "x.duckdb")]) == 2
    error = capsys.readouterr().err
    assert str(config) in error and "sources[0] ('harbor').checks" in error
    assert "max_reject_rate" in error and "fraction from 0 to 1" in error
    assert not (tmp_path / "x.duckdb").exists()


def test_the_readme_recipe_for_a_new_expectation_works(warehouse):
    """The README shows how to add an expectation to the table suite: it must keep working."""
    from pathlib import Path

    from newsflow.tasks.quality.table_checks import collect_metrics, run_table_suite

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    section = readme.split("## Data quality and alerts", 1)[1]
    recipe = json.loads(section.split("```json", 1)[1].split("```", 1)[0])
    suite = load_suite(TABLE_SUITE)
    suite["expectations"].append(recipe)

    wh, data = warehouse
    for i in range(5):
        data.article("named", authors=[] if i == 0 else ["A"])  # 20% without authors
    thresholds = effective_thresholds(TABLE_SUITE, {}, {}, ["named"])
    frame, samples = collect_metrics(wh, run_id=RUN, thresholds=thresholds, now=NOW)
    outcome = run_table_suite(frame, samples, suite=suite)
    failing = {r.check for r in outcome.results if r.status == "fail"}
    assert failing == {recipe["meta"]["check"]}
    [new] = [r for r in outcome.results if r.check == recipe["meta"]["check"]]
    assert (new.severity, new.observed["observed"]) == ("warning", "20% without authors")
