"""``newsflow demo --broken`` end to end, through the CLI in-process (real demo site on
loopback, real Prefect flow run, GX, DuckDB, apprise to a receiver on loopback), then
``newsflow check`` over the same warehouse."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from uuid import UUID

import duckdb
import pytest

from newsflow.cli.main import main
from newsflow.demo.config import DEMO_FEEDS, snapshot_freshness_hours
from tests.servers import LoopbackServer

BROKEN = "quayside-herald"
PHOTOS = ("photo-dawn-trawlers", "photo-gull-market", "photo-storm-spray")
SHORT = ("photo-lifeboat-launch", "photo-net-mending")


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def broken(prefect_harness, tmp_path_factory):
    folder = tmp_path_factory.mktemp("broken")
    db = str(folder / "demo.duckdb")
    with LoopbackServer() as receiver:
        receiver.add("/hook", b"ok", content_type="text/plain")
        hook = f"json://{receiver.host_port}/hook"
        demo_code, demo_out = cli(
            "demo", "--broken", "--db", db, "--port", "0", "--alert-url", hook
        )
        demo_posts = [json.loads(r.body) for r in receiver.requests if r.method == "POST"]

        # `newsflow check` with a config naming the same sources (the healthy ones measured
        # from the demo snapshot's date, as the demo does) and the same receiver.
        fresh = snapshot_freshness_hours()
        config = folder / "newsflow.toml"
        config.write_text(
            f'[alerts]\nurls = ["{hook}"]\n'
            + "".join(
                f'[[sources]]\nname = "{name}"\nfeed = "http://127.0.0.1/{path}"\n'
                f"checks = {{ freshness_hours = {fresh} }}\n"
                for name, path in DEMO_FEEDS
            )
            + f'[[sources]]\nname = "{BROKEN}"\nfeed = "http://127.0.0.1/{BROKEN}/rss.xml"\n'
        )
        check_code, check_out = cli("check", "--config", str(config), "--db", db)
        all_posts = [json.loads(r.body) for r in receiver.requests if r.method == "POST"]
    return {
        "db": db,
        "demo": (demo_code, demo_out, demo_posts),
        "check": (check_code, check_out, all_posts),
    }


@pytest.fixture
def con(broken):
    with duckdb.connect(broken["db"], read_only=True) as connection:
        yield connection


def ingest_run(con) -> str:
    [(run_id,)] = con.execute("SELECT run_id FROM pipeline_runs WHERE flow = 'ingest'").fetchall()
    return run_id


def test_demo_exits_1_and_prints_the_failed_checks(broken):
    code, out, _ = broken["demo"]
    assert code == 1
    assert f"check failed: reject_rate [{BROKEN}]" in out
    assert f"check failed: freshness [{BROKEN}]" in out
    assert "Alert sent to 1 destination(s):" in out


def test_one_alert_names_source_checks_samples_run_and_docs(broken, con):
    _, _, posts = broken["demo"]
    [alert] = posts
    assert alert["type"] == "failure"
    assert alert["title"] == f"newsflow: 2 data-quality checks failed (1 critical) — {BROKEN}"
    body = alert["message"]
    assert f"[CRITICAL] reject_rate — source {BROKEN}" in body
    # the three pictures without text are rejected; the two with a line under them are kept
    assert "observed: 43% of the source's pages gave no valid article (3 of 7" in body
    assert "3 rejected by the row checks, 0 without article text" in body
    assert "expected: at most 25% of the source's pages rejected" in body
    assert "count: 3 pages rejected in this run" in body
    assert f"[WARNING] freshness — source {BROKEN}" in body
    samples = [line.strip() for line in body.splitlines() if f"/{BROKEN}/photo-" in line]
    assert len(samples) == 3
    assert {s.rsplit("/", 1)[1].removesuffix(".html") for s in samples} == set(PHOTOS)
    run_id = ingest_run(con)
    assert f"run: {run_id}" in body
    page = body.split("Data Docs: ", 1)[1].splitlines()[0]
    assert Path(page).is_file() and run_id in page


def test_pictures_without_text_are_rejected_and_short_ones_flagged(con):
    rejected = con.execute(
        "SELECT url, failed_checks, details, record FROM rejected_articles WHERE source = ? "
        "ORDER BY url",
        [BROKEN],
    ).fetchall()
    assert [url.rsplit("/", 1)[1] for url, *_ in rejected] == [f"{p}.html" for p in PHOTOS]
    for _, checks, details, record in rejected:
        assert checks[0] == "body_present"
        assert json.loads(details)["body_present"]["observed"] == {"body_chars": 0}
        assert json.loads(record)["title"]  # what extraction found is kept with the verdict
    # a page read as HTML with no text is a reject now, not a page error
    errors = con.execute(
        "SELECT url FROM raw_pages WHERE source = ? AND error IS NOT NULL", [BROKEN]
    ).fetchall()
    assert errors == []
    flagged = con.execute(
        "SELECT url, quality_flags, word_count FROM articles WHERE source = ? "
        "AND len(quality_flags) > 0 ORDER BY url",
        [BROKEN],
    ).fetchall()
    assert [url.rsplit("/", 1)[1] for url, _, _ in flagged] == [f"{s}.html" for s in SHORT]
    assert all(flags == ["body_min_length"] and words < 80 for _, flags, words in flagged)


def test_valid_rows_are_loaded_and_results_recorded(con):
    per_source = dict(con.execute("SELECT source, count(*) FROM articles GROUP BY 1").fetchall())
    assert per_source[BROKEN] == 4 and sum(per_source.values()) >= 39
    run_id = ingest_run(con)
    table = con.execute(
        'SELECT "check", source, severity, success, unexpected_count FROM dq_results '
        "WHERE run_id = ? AND suite = 'articles_table' AND NOT success ORDER BY 1",
        [run_id],
    ).fetchall()
    assert table == [
        ("freshness", BROKEN, "warning", False, 4),  # its articles: the flagged ones count
        ("reject_rate", BROKEN, "critical", False, 3),
    ]
    evaluated = con.execute(
        "SELECT count(DISTINCT source) FROM dq_results "
        "WHERE run_id = ? AND suite = 'articles_table'",
        [run_id],
    ).fetchone()
    assert evaluated == (4,)
    row_suite = con.execute(
        "SELECT count(*) FROM dq_results WHERE run_id = ? AND suite = 'articles_row'", [run_id]
    ).fetchone()
    assert row_suite[0] >= 9
    status, message = con.execute(
        "SELECT status, message FROM pipeline_runs WHERE run_id = ?", [run_id]
    ).fetchone()
    assert status == "failed" and f"reject_rate [{BROKEN}]" in message


def test_the_prefect_flow_run_is_failed(con):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(UUID(ingest_run(con)))
    assert flow_run.state.is_failed()
    assert "critical data-quality checks failed" in flow_run.state.message


def test_check_command_fails_again_without_alerting_again(broken, con):
    code, out, posts = broken["check"]
    assert code == 1
    assert f"check failed: reject_rate [{BROKEN}]" in out
    assert f"(rates of ingest run {ingest_run(con)[:8]})" in out
    assert len(posts) == 1  # same failures as the demo run: nothing new to say
    runs = con.execute("SELECT run_id, status FROM pipeline_runs WHERE flow = 'checks'").fetchall()
    [(check_run, status)] = runs
    assert status == "failed"
    checked = con.execute(
        "SELECT count(*) FROM dq_results WHERE run_id = ? AND NOT success", [check_run]
    ).fetchone()
    assert checked == (2,)
    index = Path(broken["db"]).with_name("demo-data-docs") / "index.html"
    assert check_run in index.read_text("utf-8")
