"""``newsflow query``: SQL over a real demo warehouse (two real ingest runs of the demo site),
read-only, printed as DuckDB's table; SQL that does not run, and a missing file, are one error
line and exit code 2."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from newsflow.cli.main import main
from tests.warehouse_demo import demo_warehouse

# A word that occurs only in the body of one demo article (see tests/test_search.py).
BODY_WORD = "flounder"


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory):
    return demo_warehouse(tmp_path_factory)


def _query(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["query", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_rows_of_the_snapshot_are_printed(demo, capsys):
    with duckdb.connect(str(demo.db), read_only=True) as con:
        expected = con.execute(
            "SELECT source, count(*) FROM articles GROUP BY ALL ORDER BY source"
        ).fetchall()
    assert len(expected) == 3  # the demo's three healthy sources

    code, out, err = _query(
        capsys,
        "--db",
        str(demo.db),
        "SELECT source, count(*) AS n FROM articles GROUP BY ALL ORDER BY source",
    )
    assert (code, err) == (0, "")
    table = [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in out.splitlines()
        if line.startswith("│")
    ]
    names, types, *rows = table  # DuckDB's box: column names, their types, then the rows
    assert names == ["source", "n"]
    assert types == ["varchar", "int64"]
    assert rows == [[source, str(count)] for source, count in expected]


def test_the_full_text_index_can_be_queried(demo, capsys):
    sql = (
        "SELECT title FROM (SELECT title, fts_main_articles.match_bm25(article_id, "
        f"'{BODY_WORD}') AS score FROM articles) WHERE score IS NOT NULL"
    )
    with duckdb.connect(str(demo.db), read_only=True) as con:
        (title,) = con.execute(
            f"SELECT title FROM articles WHERE text ILIKE '%{BODY_WORD}%'"
        ).fetchone()
    code, out, err = _query(capsys, "--db", str(demo.db), sql)
    assert (code, err) == (0, "")
    assert title in out


def test_a_long_result_is_cut_to_fifty_rows(demo, capsys):
    code, out, _ = _query(capsys, "--db", str(demo.db), "SELECT range AS i FROM range(1000)")
    assert code == 0
    shown = {int(c) for line in out.splitlines() if (c := line.strip("│ ")).isdigit()}
    assert 0 < len(shown) <= 50 and {0, 999} <= shown
    assert "1000 rows" in out


def test_a_statement_without_rows_prints_nothing(demo, capsys):
    assert _query(capsys, "--db", str(demo.db), "SET threads = 1") == (0, "", "")


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELEC 1", "syntax error"),
        ("SELECT CAST(title AS INTEGER) FROM articles", "Conversion Error"),  # at execution
        ("DELETE FROM articles", "read-only"),
    ],
)
def test_sql_that_does_not_run_is_one_line_and_exit_2(demo, capsys, sql, says):
    code, out, err = _query(capsys, "--db", str(demo.db), sql)
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("newsflow: error: ") and says in line
    with duckdb.connect(str(demo.db), read_only=True) as con:  # the snapshot is untouched
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] > 0


def test_a_missing_warehouse_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "nothing.duckdb"
    code, out, err = _query(capsys, "--db", str(missing), "SELECT 1")
    assert (code, out) == (2, "")
    assert err == (
        f"newsflow: error: {missing}: no such warehouse file "
        "(run `newsflow demo` or `newsflow run` first)\n"
    )
    assert not missing.exists()  # a reader never creates the file


def test_the_installed_command_reports_bad_sql_without_a_traceback(demo):
    done = subprocess.run(
        [sys.executable, "-m", "newsflow.cli.main", "query", "--db", str(demo.db), "SELEC 1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("newsflow: error: Parser Error: syntax error")
