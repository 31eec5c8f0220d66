"""The DuckLake warehouse on real parts: PostgreSQL (the catalog) and moto's S3 API (the data)
started on loopback by the tests (``tests/lake_servers.py``), and DuckDB's ``ducklake``,
``postgres`` and ``httpfs`` extensions loaded offline from their pip packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from newsflow.cli.main import main
from newsflow.demo.config import demo_config
from newsflow.flows.ingest import ingest
from newsflow.schemas.config import (
    Config,
    ConfigError,
    FetchConfig,
    SourceConfig,
    WarehouseConfig,
    parse_config,
)
from newsflow.schemas.config_toml import write_config
from newsflow.tasks.warehouse import lake, lake_connection
from newsflow.tasks.warehouse.lake_connection import LakeMissing, LakeTarget, LakeUnavailable
from newsflow.tasks.warehouse.warehouse import Warehouse
from tests.hostile_site import article_html, english_paragraphs, rss
from tests.lake_servers import Lake
from tests.servers import LoopbackServer

# -- the parts ------------------------------------------------------------------------------


def test_the_extensions_load_offline_and_the_lake_attaches_on_postgres_and_s3(lake_env):
    target = LakeTarget(lake_env.catalog, lake_env.data_path)
    with lake_connection.connect(target) as con:
        loaded = {
            name
            for (name,) in con.execute(
                "SELECT extension_name FROM duckdb_extensions() WHERE loaded"
            ).fetchall()
        }
        assert {"ducklake", "postgres_scanner", "httpfs"} <= loaded
        con.execute("CREATE TABLE probe (id INTEGER, word VARCHAR)")
        con.execute("INSERT INTO probe SELECT i, 'w' || i FROM range(100) t(i)")  # > inlining
        assert con.execute("SELECT count(*) FROM probe").fetchone() == (100,)
    prefix = lake_env.data_path.removeprefix(f"s3://{lake_env.s3.bucket}/")
    assert any(key.endswith(".parquet") for key in lake_env.s3.keys(prefix))


def test_a_catalog_uri_works_too_with_a_local_data_folder(lake_env, tmp_path):
    pg = lake_env.postgres
    dbname = lake_env.catalog.rsplit("dbname=", 1)[1]
    uri = LakeTarget(f"postgresql://{pg.user}@{pg.host}:{pg.port}/{dbname}", str(tmp_path))
    with lake_connection.connect(uri) as con:
        con.execute("CREATE TABLE probe AS SELECT range AS id FROM range(50)")
    with lake_connection.connect(uri, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM probe").fetchone() == (50,)


def test_the_catalog_password_comes_from_the_environment(lake_env, monkeypatch):
    target = LakeTarget(lake_env.catalog, lake_env.data_path)
    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    with pytest.raises(LakeUnavailable, match="PGPASSWORD"):
        lake_connection.connect(target)


def test_a_reader_before_the_first_publish_is_told_there_is_no_lake_yet(lake_env):
    with pytest.raises(LakeMissing, match="no DuckLake in the catalog .* yet"):
        lake_connection.connect(LakeTarget(lake_env.catalog, lake_env.data_path), read_only=True)


def test_s3_keys_must_be_in_the_environment(lake_env, monkeypatch):
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(LakeUnavailable, match="AWS_SECRET_ACCESS_KEY"):
        lake_connection.connect(LakeTarget(lake_env.catalog, lake_env.data_path))


# -- configuration ----------------------------------------------------------------------------


def test_the_default_warehouse_is_the_duckdb_file():
    config = parse_config("")
    assert config.warehouse.kind == "duckdb"
    assert LakeTarget.of(config.warehouse) is None


@pytest.mark.parametrize(
    "catalog",
    [
        "host=db dbname=news password=hunter2",
        "host=db PASSWORD = hunter2 dbname=news",
        "postgresql://news:hunter2@db/news",
        "postgresql://news@db/news?sslmode=require&password=hunter2",
    ],
)
def test_a_password_in_the_catalog_string_is_refused_without_echoing_it(catalog):
    text = f'[warehouse]\nkind = "ducklake"\ncatalog = "{catalog}"\ndata_path = "lake/"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, origin="news.toml")
    message = str(caught.value)
    assert "news.toml: warehouse.catalog: must not contain a password" in message
    assert "PGPASSWORD" in message and "hunter2" not in message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('kind = "ducklake"', 'kind = "ducklake" needs catalog and data_path'),
        ('kind = "ducklake"\ncatalog = "host=db"', "needs data_path"),
        ('kind = "ducklake"\ncatalog = "host=db"\ndata_path = "gs://b/p"', "s3://bucket"),
        ('kind = "lakehouse"', "'duckdb' or 'ducklake'"),
    ],
)
def test_an_incomplete_lake_config_is_refused(body, says):
    with pytest.raises(ConfigError, match=says):
        parse_config(f"[warehouse]\n{body}\n")


def test_a_lake_config_names_its_target():
    config = parse_config(
        '[warehouse]\nkind = "ducklake"\ncatalog = "host=db dbname=news"\n'
        'data_path = "s3://lake/news"\n'
    )
    target = LakeTarget.of(config.warehouse)
    assert target == LakeTarget("host=db dbname=news", "s3://lake/news")
    assert target.on_s3 and target.data_folder() == "s3://lake/news/"


# -- real runs ----------------------------------------------------------------------------------


def _serve_wire(server: LoopbackServer, count: int, edited: frozenset[int] = frozenset()) -> None:
    """The wire's feed listing ``count`` articles, each page its own text (``edited`` pages
    with a paragraph more)."""
    links = []
    for i in range(count):
        path = f"/wire/{i}.html"
        paragraphs = english_paragraphs(f"wire story {i}")
        if i in edited:
            paragraphs.append(f"Correction: an earlier version of wire story {i} misnamed it.")
        server.add(path, article_html(f"Wire story {i}", paragraphs))
        links.append((f"Wire story {i}", server.url(path)))
    server.add("/wire.xml", rss("Wire", links), content_type="application/rss+xml")


def _lake_config(lake: Lake, db: Path, server: LoopbackServer) -> Config:
    return Config(
        warehouse=WarehouseConfig(
            path=str(db), kind="ducklake", catalog=lake.catalog, data_path=lake.data_path
        ),
        fetch=FetchConfig(
            allow_private=[server.host_port],
            per_host_delay_s=0,
            retries=0,
            polling="fixed",
            refetch_interval_min=0,
        ),
        checks={"freshness_hours": 100000},
        sources=[SourceConfig(name="wire", feed=server.url("/wire.xml"))],
    )


def _write_toml(config: Config, path: Path) -> Path:
    w = config.warehouse
    path.write_text(
        f'[warehouse]\npath = "{w.path}"\nkind = "ducklake"\n'
        f'catalog = "{w.catalog}"\ndata_path = "{w.data_path}"\n'
    )
    return path


def test_runs_publish_into_the_lake_and_query_as_of_shows_an_earlier_run(
    prefect_harness, lake_env, tmp_path, capsys
):
    server = LoopbackServer()
    _serve_wire(server, 3)
    server.start()
    try:
        config = _lake_config(lake_env, tmp_path / "news.duckdb", server)
        first = ingest(config=config)
        assert first.loaded.new == 3

        _serve_wire(server, 5, edited=frozenset({0}))  # two more, and the first one corrected
        second = ingest(config=config)
        assert (second.loaded.new, second.loaded.updated) == (2, 1)
        assert second.published["lake"]["runs"] == (second.run_id,)  # in the run's summary
    finally:
        server.stop()

    target = LakeTarget.of(config.warehouse)
    with lake_connection.connect(target, read_only=True) as con:
        ids = con.execute("SELECT article_id, version FROM articles ORDER BY 1").fetchall()
        assert len(ids) == 5 == len({i for i, _ in ids})  # one row per article_id
        assert sorted(v for _, v in ids) == [1, 1, 1, 1, 2]  # the correction is version 2
        assert con.execute("SELECT count(*) FROM article_versions").fetchone() == (6,)
        runs = dict(con.execute("SELECT run_id, status FROM pipeline_runs").fetchall())
        assert runs == {first.run_id: "completed", second.run_id: "completed"}
        assert con.execute("SELECT last_run_id, publishes FROM lake_state").fetchone() == (
            second.run_id,
            2,
        )
        tagged = con.execute(
            "SELECT snapshot_id, commit_message FROM lake.snapshots() "
            "WHERE author = 'newsflow' ORDER BY snapshot_id"
        ).fetchall()
        assert [m for _, m in tagged] == [f"run {first.run_id}", f"run {second.run_id}"]
        first_snapshot = tagged[0][0]
        # the SQL --as-of maps to, straight from DuckDB
        assert con.execute(
            f"SELECT count(*) FROM articles AT (VERSION => {first_snapshot})"
        ).fetchone() == (3,)
        comment = con.execute(
            "SELECT comment FROM duckdb_tables() WHERE database_name = 'lake' "
            "AND table_name = 'articles'"
        ).fetchone()[0]
        assert comment.startswith("One row per article")
    # the working file and its snapshot are as they always were
    with duckdb.connect(str(tmp_path / "news.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (5,)

    toml = _write_toml(config, tmp_path / "newsflow.toml")
    sql = "SELECT count(*) AS n FROM articles"
    capsys.readouterr()
    assert main(["query", "--config", str(toml), "--csv", sql]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "5"]
    assert main(["query", "--config", str(toml), "--csv", "--as-of", first.run_id, sql]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "3"]
    assert main(["query", "--config", str(toml), "--as-of", "no-such-run", sql]) == 2
    assert "no-such-run has no snapshot in the lake" in capsys.readouterr().err


# -- concurrent writers -------------------------------------------------------------------------

WRITERS, RUNS, SHARED, OWN = 4, 3, 5, 3


def test_concurrent_writers_merge_into_one_lake_without_duplicates(lake_env, tmp_path):
    """Four processes, each with its own working file, publish three runs each at the same
    moments; every run shares five articles with the other writers' runs of the same round."""
    gate = tmp_path / "gate"
    for run in range(RUNS):
        (gate / str(run)).mkdir(parents=True)
    root = Path(__file__).resolve().parent.parent
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.lake_writer",
                "--db",
                str(tmp_path / f"shard{i}.duckdb"),
                "--writer",
                str(i),
                "--writers",
                str(WRITERS),
                "--runs",
                str(RUNS),
                "--shared",
                str(SHARED),
                "--own",
                str(OWN),
                "--gate",
                str(gate),
                "--catalog",
                lake_env.catalog,
                "--data-path",
                lake_env.data_path,
            ],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(WRITERS)
    ]
    seen = _read_while(lambda: any(w.poll() is None for w in writers), lake_env)
    outputs = [w.communicate(timeout=110) for w in writers]
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err[-2000:]
    published = [json.loads(line) for out, _ in outputs for line in out.splitlines()]
    assert sorted(r for p in published for r in p["runs"]) == sorted(
        f"w{i}-r{run}" for i in range(WRITERS) for run in range(RUNS)
    )  # every run published exactly once, by its own writer

    target = LakeTarget(lake_env.catalog, lake_env.data_path)
    with lake_connection.connect(target, read_only=True) as con:
        rows, distinct = con.execute(
            "SELECT count(*), count(DISTINCT article_id) FROM articles"
        ).fetchone()
        assert rows == distinct == RUNS * SHARED + WRITERS * RUNS * OWN
        assert con.execute(
            "SELECT count(*), count(DISTINCT (article_id, version, content_hash)) "
            "FROM article_versions"
        ).fetchone() == (rows, rows)
        assert con.execute("SELECT count(*) FROM pipeline_runs").fetchone() == (WRITERS * RUNS,)
        assert con.execute("SELECT publishes FROM lake_state").fetchone() == (WRITERS * RUNS,)
        assert con.execute("SELECT max(version) FROM articles").fetchone() == (1,)
    # what a reader saw every 50 ms through the writes: whole runs only, never an error
    assert seen[-1] == WRITERS * RUNS and seen == sorted(seen)


def _read_while(busy: Callable[[], bool], lake: Lake) -> list[int]:
    """Query the lake every 50 ms while ``busy()``, one connection throughout (each
    transaction reads the newest snapshot): each snapshot must hold every article of the runs
    it holds (a run is never half there). Returns the run counts seen."""
    seen: list[int] = []
    target = LakeTarget(lake.catalog, lake.data_path)
    con = None
    try:
        while True:
            running = busy()
            if con is None:
                try:
                    con = lake_connection.connect(target, read_only=True)
                except LakeMissing:  # no writer has created it yet
                    if not running:
                        raise
                    time.sleep(0.05)
                    continue
            con.execute("BEGIN TRANSACTION")  # one snapshot for the counts
            tables = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lake'"
            ).fetchone()[0]
            if tables:
                runs, own = con.execute(
                    "SELECT (SELECT count(*) FROM pipeline_runs), "
                    "(SELECT count(*) FROM articles WHERE article_id LIKE 'own-%')"
                ).fetchone()
            con.execute("COMMIT")
            if not tables:  # the catalog is made, its tables not yet
                assert not seen, "the tables were there, then they were not"
            else:
                assert own == runs * OWN, f"{runs} runs but {own} of their own articles"
                seen.append(runs)
            if not running:
                return seen
            time.sleep(0.05)
    finally:
        if con is not None:
            con.close()


# -- a publish that failed ----------------------------------------------------------------------


def test_a_failed_publish_is_made_good_by_the_next_into_a_local_folder(lake_env, tmp_path):
    """The catalog unreachable at one publish: the run stays unpublished, and the next publish
    carries it with the newer run, as one snapshot. The data path here is a local folder."""
    from tests.lake_writer import article

    good = LakeTarget(lake_env.catalog, str(tmp_path / "lake-files"))
    down = LakeTarget(
        f"host=127.0.0.1 port={lake_env.postgres.port + 1} dbname=nowhere connect_timeout=2",
        good.data_path,
    )
    with Warehouse.open(tmp_path / "news.duckdb", lock_timeout_s=5) as warehouse:
        for run, ids in (("r1", ("a", "b")), ("r2", ("b", "c"))):
            warehouse.start_run(run, "ingest")
            with warehouse.batch():
                warehouse.load_articles(run, [article(i, f"text of {i}") for i in ids])
            warehouse.finish_run(run, "completed", {}, None)
            if run == "r1":
                with pytest.raises(LakeUnavailable, match="nowhere"):
                    lake.publish(warehouse.con, down)
        done = lake.publish(warehouse.con, good)
        assert done.runs == ("r1", "r2") and done.articles == 3
        assert lake.publish(warehouse.con, good).runs == ()  # nothing left to publish
        assert not warehouse.scalar(  # detached after each publish, the failed one included
            "SELECT count(*) FROM duckdb_databases() WHERE database_name = 'lake'"
        )
    with lake_connection.connect(good, read_only=True) as con:
        assert con.execute("SELECT article_id, run_id FROM articles ORDER BY 1").fetchall() == [
            ("a", "r1"),
            ("b", "r2"),
            ("c", "r2"),
        ]
        tagged = con.execute(
            "SELECT commit_extra_info FROM lake.snapshots() WHERE author = 'newsflow'"
        ).fetchall()
        assert [json.loads(t)["run_ids"] for (t,) in tagged] == [["r1", "r2"]]
    assert any((tmp_path / "lake-files").rglob("*")), "DuckLake's files are in the folder"


@pytest.mark.parametrize("publish_every_run", [True, False])
def test_with_one_writer_the_lake_holds_what_the_working_file_holds(
    lake_env, tmp_path, publish_every_run
):
    """An article edited and then reverted (versions 1, 2, 3 with the third content the
    first's), another only seen again: published run by run, or all at once, the lake's
    articles and versions are the working file's."""
    from tests.lake_writer import article

    target = LakeTarget(lake_env.catalog, lake_env.data_path)
    texts = {"r1": "first words", "r2": "second words", "r3": "first words"}
    with Warehouse.open(tmp_path / "news.duckdb", lock_timeout_s=5) as warehouse:
        for run, text in texts.items():
            warehouse.start_run(run, "ingest")
            with warehouse.batch():
                warehouse.load_articles(run, [article("edited", text), article("same", "same")])
            warehouse.finish_run(run, "completed", {}, None)
            if publish_every_run:
                lake.publish(warehouse.con, target)
        if not publish_every_run:
            assert lake.publish(warehouse.con, target).runs == tuple(texts)
        columns = "article_id, version, content_hash, first_seen_at, last_seen_at, run_id"
        want = {
            "articles": warehouse.con.execute(f"SELECT {columns} FROM articles").fetchall(),
            "article_versions": warehouse.con.execute(
                "SELECT article_id, version, content_hash, run_id FROM article_versions"
            ).fetchall(),
        }
    with lake_connection.connect(target, read_only=True) as con:
        got = {
            "articles": con.execute(f"SELECT {columns} FROM articles").fetchall(),
            "article_versions": con.execute(
                "SELECT article_id, version, content_hash, run_id FROM article_versions"
            ).fetchall(),
        }
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in want.items()}
    assert max(v for _, v, *_ in want["articles"]) == 3


# -- two `newsflow run` processes, one lake -------------------------------------------------------


def test_two_newsflow_runs_on_two_shards_fill_one_lake(
    prefect_harness, lake_env, demo_site, tmp_path
):
    """Two ``newsflow run`` processes started together, each with its own working file and
    half of the demo's sources, publish into one lake: both exit 0, and the lake holds every
    article of both working files once (same urls and content hashes)."""
    from prefect.settings import PREFECT_API_URL

    whole = demo_config(demo_site.base_url)
    commands = []
    for shard in range(2):
        config = demo_config(demo_site.base_url, db=str(tmp_path / f"shard{shard}.duckdb"))
        config.sources = whole.sources[shard::2]
        config.warehouse = WarehouseConfig(
            path=config.warehouse.path,
            kind="ducklake",
            catalog=lake_env.catalog,
            data_path=lake_env.data_path,
        )
        path = write_config(config, tmp_path / f"shard{shard}.toml")
        assert "PASSWORD" not in path.read_text().upper()  # the secrets stay in the environment
        commands.append([sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(path)])
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    runs = [
        subprocess.Popen(
            cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for cmd in commands
    ]
    outputs = [run.communicate(timeout=300)[0].decode(errors="replace") for run in runs]
    assert [r.returncode for r in runs] == [0, 0], "\n\n".join(outputs)

    content = "SELECT article_id, url, content_hash FROM articles"
    expected = []
    for shard in range(2):
        with duckdb.connect(str(tmp_path / f"shard{shard}.duckdb"), read_only=True) as con:
            expected += con.execute(content).fetchall()
    assert len(expected) >= 20
    target = LakeTarget(lake_env.catalog, lake_env.data_path)
    with lake_connection.connect(target, read_only=True) as con:
        assert sorted(con.execute(content).fetchall()) == sorted(set(expected))
        assert con.execute("SELECT count(*) FROM pipeline_runs").fetchone() == (2,)
