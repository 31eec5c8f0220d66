"""The DuckLake warehouse on real parts: PostgreSQL (the catalog) and moto's S3 API (the data)
started on loopback by the tests (``tests/lake_servers.py``), and DuckDB's ``ducklake``,
``postgres`` and ``httpfs`` extensions loaded offline from their pip packages."""

from __future__ import annotations

import pytest

from newsflow.schemas.config import ConfigError, parse_config
from newsflow.tasks.warehouse import lake_connection
from newsflow.tasks.warehouse.lake_connection import LakeTarget, LakeUnavailable

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


def test_the_catalog_password_comes_from_the_environment(lake_env, monkeypatch):
    target = LakeTarget(lake_env.catalog, lake_env.data_path)
    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    with pytest.raises(LakeUnavailable, match="PGPASSWORD"):
        lake_connection.connect(target)


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
