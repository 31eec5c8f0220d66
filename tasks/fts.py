"""Full-text search over articles: a BM25 index built on every published snapshot.

DuckDB's ``fts`` extension cannot be downloaded here or in CI, and a scheduled job should not
download code at run time anyway. The pip package ``duckdb-extension-fts`` (pinned to the
DuckDB version) ships the compiled extension, and ``LOAD '<that file>'`` loads it with no
network and nothing written to ``~/.duckdb``.

The index is built on the snapshot (not the working file) right before it is renamed into
place, so analysts who open the snapshot get a fresh index with it: the ``fts_main_articles``
schema and its ``match_bm25(article_id, 'query')`` macro. The macro calls the extension's
``stem`` function, so a session must ``LOAD`` the extension before searching (docs/warehouse.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

#: Schema the index lives in (``fts_<schema>_<table>``), and its scoring macro.
FTS_SCHEMA = "fts_main_articles"
MATCH = f"{FTS_SCHEMA}.match_bm25"


class SearchUnavailable(RuntimeError):
    """The extension or the index is missing; the message says what to do."""


def extension_path() -> Path:
    """The ``fts.duckdb_extension`` file inside the ``duckdb_extension_fts`` pip package that
    matches the running DuckDB."""
    try:
        import duckdb_extension_fts
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise SearchUnavailable(
            "the duckdb-extension-fts package is not installed (pip install "
            f"'duckdb-extension-fts=={duckdb.__version__}')"
        ) from exc
    root = Path(duckdb_extension_fts.__file__).parent / "extensions"
    exact = root / f"v{duckdb.__version__}" / "fts.duckdb_extension"
    if exact.is_file():
        return exact
    found = sorted(root.glob("*/fts.duckdb_extension"))
    if not found:
        raise SearchUnavailable(f"no fts.duckdb_extension under {root}")
    raise SearchUnavailable(
        f"duckdb-extension-fts ships {found[0].parent.name}, but DuckDB is "
        f"v{duckdb.__version__}: install the matching duckdb-extension-fts version"
    )


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the extension from the pip package into ``con`` (idempotent, offline)."""
    path = str(extension_path()).replace("'", "''")
    con.execute(f"LOAD '{path}'")


def build_index(con: duckdb.DuckDBPyConnection, catalog: str) -> None:
    """(Re)build the BM25 index over ``articles`` title and text in ``catalog``.

    Registered as a publish hook: ``con`` is the working connection with the snapshot attached
    as ``catalog``. Porter stemming, lower-cased, accents stripped, English stop words: the
    extension's defaults, which suit the English sources newsflow is tuned for.
    """
    load_fts(con)
    own = con.execute("SELECT current_database()").fetchone()[0]
    con.execute(f'USE "{catalog}"')
    try:
        con.execute(
            "PRAGMA create_fts_index('articles', 'article_id', 'title', 'text', overwrite = 1)"
        )
        for table, what in INDEX_TABLES.items():
            comment = f"Full-text index over articles (title, text): {what}. Query it with {MATCH}."
            con.execute(f"COMMENT ON TABLE {FTS_SCHEMA}.{table} IS '{comment}'")
    finally:
        con.execute(f'USE "{own}"')


#: The tables the extension creates for the index, described for the data dictionary.
INDEX_TABLES = {
    "docs": "one row per indexed article (name = article_id, len = terms)",
    "dict": "one row per distinct stemmed term",
    "terms": "one row per term occurrence (termid, docid, fieldid)",
    "fields": "the indexed columns",
    "stats": "corpus statistics (document count, average length)",
    "stopwords": "English stop words left out of the index",
}


@dataclass(frozen=True)
class Hit:
    score: float
    published_at: datetime | None
    source: str
    title: str
    url: str
    article_id: str


def search(
    con: duckdb.DuckDBPyConnection, terms: str, *, limit: int = 10, source: str | None = None
) -> list[Hit]:
    """Best BM25 matches for ``terms`` (any of them; more matching terms score higher)."""
    load_fts(con)
    has_index = con.execute(
        "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ? "
        "AND database_name = current_database()",
        [FTS_SCHEMA],
    ).fetchone()[0]
    if not has_index:
        raise SearchUnavailable(
            "this warehouse has no full-text index yet; it is built when a run publishes "
            "(run `newsflow run`, `newsflow demo` or `newsflow reprocess` once)"
        )
    rows = con.execute(
        f"""
        SELECT score, published_at, source, title, url, article_id
        FROM (SELECT *, {MATCH}(article_id, ?) AS score FROM articles)
        WHERE score IS NOT NULL AND (? IS NULL OR source = ?)
        ORDER BY score DESC, published_at DESC NULLS LAST, article_id
        LIMIT ?
        """,
        [terms, source, source, limit],
    ).fetchall()
    return [Hit(*row) for row in rows]
