"""``newsflow export --format parquet DIR``: articles as Parquet partitioned by source and date,
read back with the same rows (from the session's demo warehouse)."""

from __future__ import annotations

import duckdb
import pyarrow.dataset as ds
import pytest

from newsflow.cli.main import main
from tests.warehouse_demo import demo_warehouse


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory):
    return demo_warehouse(tmp_path_factory)


def _read_back(path) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A fresh DuckDB and the table expression that reads the exported dataset."""
    return duckdb.connect(), f"read_parquet('{path}/**/*.parquet', hive_partitioning = true)"


def test_export_reads_back_with_the_same_rows(demo, tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["export", "--format", "parquet", str(out), "--db", str(demo.db)]) == 0
    assert "partitioned by source and published_date" in capsys.readouterr().out
    with demo.connect() as con:
        expected = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        per_source = con.execute(
            "SELECT source, count(*) FROM articles GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        sample = con.execute(
            "SELECT article_id, title, authors, captions, version FROM articles ORDER BY ALL"
        ).fetchall()
    reader, source = _read_back(out / "articles")
    assert reader.execute(f"SELECT count(*) FROM {source}").fetchone()[0] == expected >= 35
    assert (
        reader.execute(
            f"SELECT source, count(*) FROM {source} GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        == per_source
    )
    assert (
        reader.execute(
            f"SELECT article_id, title, authors, captions, version FROM {source} ORDER BY ALL"
        ).fetchall()
        == sample
    )
    # Hive layout: one folder per source, one per UTC publication day inside
    folders = {p.name for p in (out / "articles").iterdir()}
    assert folders == {f"source={s}" for s, _ in per_source}
    pairs = reader.execute(f"SELECT DISTINCT source, published_date FROM {source}").fetchall()
    on_disk = {(p.parent.name, p.name) for p in (out / "articles").glob("*/*")}
    assert on_disk == {(f"source={s}", f"published_date={d}") for s, d in pairs}
    # other tools read it too (pyarrow's own Hive partitioning)
    dataset = ds.dataset(out / "articles", format="parquet", partitioning="hive")
    assert dataset.count_rows() == expected


def test_a_second_export_replaces_the_first(demo, tmp_path):
    out = tmp_path / "export"
    (out / "notes.txt").parent.mkdir(parents=True)
    (out / "notes.txt").write_text("keep me")
    assert main(["export", str(out), "--db", str(demo.db)]) == 0
    assert main(["export", str(out), "--db", str(demo.db)]) == 0
    reader, source = _read_back(out / "articles")
    with demo.connect() as con:
        expected = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert reader.execute(f"SELECT count(*) FROM {source}").fetchone()[0] == expected
    assert (out / "notes.txt").read_text() == "keep me"  # only DIR/articles is replaced


def test_export_of_a_missing_warehouse_fails_clearly(tmp_path, capsys):
    assert main(["export", str(tmp_path / "out"), "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "no such warehouse file" in capsys.readouterr().err
