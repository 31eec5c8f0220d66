"""``newsflow query --csv | --json | --max-rows N``, ``--config`` on the commands that read the
warehouse, and pipes closed early (``| head``) ending quietly: over the real demo warehouse."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import duckdb
import pytest

from newsflow.cli.main import main
from newsflow.schemas.config import Config, WarehouseConfig
from newsflow.schemas.config_toml import write_config
from tests.warehouse_demo import demo_warehouse


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory):
    return demo_warehouse(tmp_path_factory)


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_streams_every_row_with_a_header(demo, capsys):
    code, out, err = _run(
        capsys, "query", "--db", str(demo.db), "--csv", "SELECT range AS i FROM range(5000)"
    )
    assert (code, err) == (0, "")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["i"]
    assert [int(r[0]) for r in rows[1:]] == list(range(5000))  # no 50-row cap


def test_csv_and_json_carry_nested_values_and_timestamps(demo, capsys):
    sql = "SELECT url, authors, captions, published_at FROM articles ORDER BY url"
    with duckdb.connect(str(demo.db), read_only=True) as con:
        expected = con.execute(sql).fetchall()
    code, out, err = _run(capsys, "query", "--db", str(demo.db), "--json", sql)
    assert (code, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["url"] for r in records] == [row[0] for row in expected]
    assert [r["authors"] for r in records] == [row[1] for row in expected]
    assert [r["captions"] for r in records] == [row[2] for row in expected]
    assert [r["published_at"] for r in records] == [
        row[3].isoformat() if row[3] else None for row in expected
    ]
    code, out, err = _run(capsys, "query", "--db", str(demo.db), "--csv", sql)
    header, *rows = list(csv.reader(io.StringIO(out)))
    assert header == ["url", "authors", "captions", "published_at"]
    assert [json.loads(r[2]) for r in rows] == [row[2] for row in expected]


def test_bytes_read_the_same_in_csv_and_json(demo, capsys):
    sql = "SELECT '\\xCA\\xFE'::BLOB AS b"
    _, out_csv, _ = _run(capsys, "query", "--db", str(demo.db), "--csv", sql)
    _, out_json, _ = _run(capsys, "query", "--db", str(demo.db), "--json", sql)
    assert list(csv.reader(io.StringIO(out_csv))) == [["b"], ["cafe"]]
    assert json.loads(out_json) == {"b": "cafe"}


@pytest.mark.parametrize("form", [[], ["--csv"], ["--json"]])
def test_max_rows_caps_every_form(demo, capsys, form):
    code, out, err = _run(
        capsys,
        "query",
        "--db",
        str(demo.db),
        *form,
        "--max-rows",
        "7",
        "SELECT range AS i FROM range(100)",
    )
    assert (code, err) == (0, "")
    if form == ["--csv"]:
        assert out.splitlines() == ["i", *map(str, range(7))]
    elif form == ["--json"]:
        assert [json.loads(line)["i"] for line in out.splitlines()] == list(range(7))
    else:
        shown = {int(c) for line in out.splitlines() if (c := line.strip("│ ")).isdigit()}
        assert 0 < len(shown) <= 7


def test_csv_and_json_exclude_each_other(demo, capsys):
    with pytest.raises(SystemExit) as bad:
        main(["query", "--db", str(demo.db), "--csv", "--json", "SELECT 1"])
    assert bad.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_readers_take_the_warehouse_from_config(demo, tmp_path, capsys):
    config = write_config(Config(warehouse=WarehouseConfig(path=str(demo.db))), tmp_path / "c.toml")
    code, out, err = _run(capsys, "query", "--config", str(config), "--csv", "SELECT 42 AS x")
    assert (code, out, err) == (0, "x\n42\n", "")
    code, out, err = _run(capsys, "search", "--config", str(config), "flounder")
    assert (code, err) == (0, "") and "flounder" not in out and "score" in out
    code, out, err = _run(capsys, "export", "--config", str(config), str(tmp_path / "out"))
    assert (code, err) == (0, "") and (tmp_path / "out" / "articles").is_dir()


def test_a_config_naming_a_missing_warehouse_says_so(tmp_path, capsys):
    missing = tmp_path / "none.duckdb"
    config = write_config(Config(warehouse=WarehouseConfig(path=str(missing))), tmp_path / "c.toml")
    code, out, err = _run(capsys, "query", "--config", str(config), "SELECT 1")
    assert (code, out) == (2, "")
    assert err.startswith(f"newsflow: error: {missing}: no such warehouse file")


@pytest.mark.parametrize(
    "args",
    [
        ["query", "--csv", "SELECT range FROM range(200000)"],
        ["query", "SELECT range FROM range(200000)"],
        ["search", "harbour"],
    ],
    ids=["query-csv", "query-box", "search"],
)
def test_a_reader_that_goes_away_ends_quietly(demo, args):
    """``newsflow query … | head``: the pipe's reader is gone before the command writes (the
    read end is closed at once): no BrokenPipeError traceback, exit 0."""
    command = [sys.executable, "-m", "newsflow.cli.main", args[0], "--db", str(demo.db), *args[1:]]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()
    err = child.stderr.read().decode()
    assert child.wait(timeout=120) == 0, err
    assert err == ""
