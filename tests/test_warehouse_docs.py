"""docs/warehouse.md lists every table, view and column of the warehouse, with the schema's own
COMMENTs: the committed data dictionary must equal one generated from a fresh warehouse
(regenerate with ``python -m newsflow.cli.dictionary docs/warehouse.md``)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from newsflow.cli.dictionary import main as dictionary_main
from newsflow.tasks.warehouse.dictionary import BEGIN, END, generate, replace_section
from newsflow.tasks.warehouse.warehouse import Warehouse, working_path

DOC = Path(__file__).resolve().parents[1] / "docs" / "warehouse.md"
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh warehouse, published: (snapshot path, working path)."""
    published = tmp_path_factory.mktemp("docs") / "news.duckdb"
    with Warehouse.open(published, lock_timeout_s=5) as warehouse:
        warehouse.publish()
    return published, working_path(published)


def _columns(path: Path) -> set[tuple[str, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return set(
            con.execute(
                "SELECT table_name, column_name FROM duckdb_columns() "
                "WHERE schema_name = 'main' AND database_name = current_database()"
            ).fetchall()
        )


def test_docs_data_dictionary_is_current():
    committed = DOC.read_text(encoding="utf-8")
    assert replace_section(committed, generate()) == committed, (
        "docs/warehouse.md is out of date: run python -m newsflow.cli.dictionary docs/warehouse.md"
    )


def test_the_dictionary_command_rewrites_a_stale_section(tmp_path, capsys):
    doc = tmp_path / "warehouse.md"
    doc.write_text(f"# Warehouse\n\n{BEGIN}\n\nstale\n{END}\n\nAfter.\n", encoding="utf-8")

    assert dictionary_main([str(doc), "--check"]) == 1
    assert "data dictionary is out of date" in capsys.readouterr().err
    assert "stale" in doc.read_text(encoding="utf-8")  # --check writes nothing

    assert dictionary_main([str(doc)]) == 0
    assert capsys.readouterr().out == f"{doc}: data dictionary updated\n"
    updated = doc.read_text(encoding="utf-8")
    assert "stale" not in updated and "### `articles` (table)" in updated
    assert updated.startswith(f"# Warehouse\n\n{BEGIN}\n") and updated.endswith("\nAfter.\n")
    assert dictionary_main([str(doc), "--check"]) == 0


def test_docs_list_every_table_and_column(fresh):
    doc = DOC.read_text(encoding="utf-8")
    documented: dict[str, set[str]] = {}
    for block in re.split(r"^### ", doc, flags=re.M)[1:]:
        name = re.match(r"`(\w+)`", block)
        if name:
            documented[name[1]] = set(re.findall(r"^\| `([^`]+)` \|", block, flags=re.M))
    for path in fresh:
        for table, column in _columns(path):
            assert column in documented.get(table, set()), f"{table}.{column} missing from docs"


def test_every_table_view_and_column_of_the_snapshot_has_a_comment(fresh):
    snapshot, _ = fresh
    with duckdb.connect(str(snapshot), read_only=True) as con:
        missing = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' "
            "AND database_name = current_database() AND coalesce(comment, '') = ''"
        ).fetchall()
        relations = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND coalesce(comment, '') = '' "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal "
            "AND coalesce(comment, '') = ''"
        ).fetchall()
    assert missing == []
    assert relations == []  # the full-text index's tables included


def test_readme_points_to_the_warehouse_guide():
    readme = README.read_text(encoding="utf-8")
    warehouse = readme.index("\n## Warehouse")
    assert readme.index("\n## Querying") < warehouse
    section = readme[warehouse:].split("\n## ", 2)[1]
    assert "docs/warehouse.md" in section
