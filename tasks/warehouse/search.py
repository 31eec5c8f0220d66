"""Full-text search over articles: a BM25 index built on every published snapshot.

DuckDB's ``fts`` extension cannot be downloaded here or in CI, and a scheduled job should not
download code at run time anyway. The pip package ``duckdb-extension-fts`` (pinned to the
DuckDB version) ships the compiled extension, and ``LOAD '<that file>'`` loads it with no
network and nothing written to ``~/.duckdb``.

Analysts who open the snapshot get the index with it: the ``fts_main_articles`` schema and its
``match_bm25(article_id, 'query')`` macro, exactly as the extension's ``create_fts_index`` lays
them out. The index itself is kept in the working file and updated for the articles a run
changed (:func:`sync_index`), then copied into each snapshot: rebuilding it from scratch on every
publish would cost time and memory growing with the whole warehouse. The macro calls the
extension's ``stem`` function, so a session must ``LOAD`` the extension before searching
(docs/warehouse.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from newsflow.tasks.warehouse.transaction import transaction

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


#: Articles tokenised per statement while the working index catches up. Indexing memory is then
#: bounded by the chunk, not by the warehouse: the extension's own builder holds every token of
#: every article at once (measured: +200 MB of RSS at 3,000 articles, growing with the table).
CHUNK = 200

#: The extension's index over an always-empty table in the working file: its tokenizer macro
#: and stop words are what incremental indexing uses, so documents are split exactly as the
#: extension splits them and as ``match_bm25`` splits queries.
#: (A table name of its own: helpers that look tables up by name must not find two ``articles``.)
_TEMPLATE_TABLE = "search_template.search_template_docs"
_TEMPLATE = "fts_search_template_search_template_docs"


def sync_index(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the working file's index (``search_docs``, ``search_dict``, ``search_terms``) up to
    date with ``articles``; returns the number of articles (re)indexed.

    Articles whose content hash changed, or that are gone, leave the index first; then every
    article not in it is tokenised, a chunk at a time, the way the extension's
    ``create_fts_index`` does it (same tokenizer, stop words, Porter stemmer, fields title = 0
    and text = 1), keeping term document frequencies and document lengths as it goes. A run
    therefore indexes what it changed, and publishing copies the result.
    """
    load_fts(con)
    _ensure_template(con)
    if con.execute(_IN_STEP).fetchone()[0]:
        return 0  # the index holds exactly the articles as they are: nothing to read
    with transaction(con):
        # one comparison of the two tables: the documents to drop, the articles to index
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _search_diff AS
            SELECT d.docid, a.article_id
            FROM (SELECT article_id, content_hash FROM articles) a
            FULL JOIN (SELECT docid, article_id, content_hash FROM search_docs) d
              ON a.article_id = d.article_id AND a.content_hash = d.content_hash
            WHERE a.article_id IS NULL OR d.docid IS NULL
            """
        )
        con.execute(
            """
            UPDATE search_dict SET df = df - c.n
            FROM (SELECT termid, count(DISTINCT docid) AS n FROM search_terms
                  WHERE docid IN (SELECT docid FROM _search_diff WHERE docid IS NOT NULL)
                  GROUP BY termid) AS c
            WHERE search_dict.termid = c.termid
            """
        )
        for table in ("search_terms", "search_docs"):
            con.execute(
                f"DELETE FROM {table} WHERE docid IN "
                "(SELECT docid FROM _search_diff WHERE docid IS NOT NULL)"
            )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _search_todo AS SELECT article_id, "
            "row_number() OVER (ORDER BY article_id) AS n FROM _search_diff "
            "WHERE article_id IS NOT NULL"
        )
        con.execute("DROP TABLE _search_diff")
    todo = con.execute("SELECT count(*) FROM _search_todo").fetchone()[0]
    try:
        for start in range(1, todo + 1, CHUNK):
            with transaction(con):
                _index_chunk(con, start, start + CHUNK - 1)
    finally:
        con.execute("DROP TABLE IF EXISTS _search_todo")
    return int(todo)


#: True when ``search_docs`` holds exactly the (article, content) pairs of ``articles``: two
#: streaming scans of two narrow columns, no join.
_IN_STEP = """
SELECT (SELECT count(*) || ':' || coalesce(bit_xor(hash(article_id, content_hash)), 0)
        FROM articles)
     = (SELECT count(*) || ':' || coalesce(bit_xor(hash(article_id, content_hash)), 0)
        FROM search_docs)
"""


def _index_chunk(con: duckdb.DuckDBPyConnection, first: int, last: int) -> None:
    """Tokenise and index the articles numbered ``first`` to ``last`` in ``_search_todo``.
    They are consecutive by id, so the range of ids given to the scan keeps it from reading
    the title and text of the other articles."""
    low, high = con.execute(
        "SELECT min(article_id), max(article_id) FROM _search_todo WHERE n BETWEEN ? AND ?",
        [first, last],
    ).fetchone()
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _search_chunk AS
        SELECT article_id, content_hash, title, text
        FROM articles
        WHERE article_id BETWEEN ? AND ?
          AND article_id IN (SELECT article_id FROM _search_todo WHERE n BETWEEN ? AND ?)
        """,
        [low, high, first, last],
    )
    if con.execute("SELECT count(*) FROM _search_chunk").fetchone()[0]:
        con.execute(
            """
            INSERT INTO search_docs (article_id, content_hash, docid, len)
            SELECT article_id, content_hash, nextval('search_docid_seq'), 0 FROM _search_chunk
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _search_new AS
            WITH chunk AS (
                SELECT d.docid, c.title, c.text
                FROM _search_chunk c JOIN search_docs d USING (article_id)
            ),
            tokenized AS (
                SELECT unnest({_TEMPLATE}.tokenize(title)) AS w, docid, 0 AS fieldid FROM chunk
                UNION ALL
                SELECT unnest({_TEMPLATE}.tokenize(text)) AS w, docid, 1 AS fieldid FROM chunk
            )
            SELECT stem(w, 'porter') AS term, docid, fieldid
            FROM tokenized
            WHERE w IS NOT NULL AND len(w) > 0
              AND w NOT IN (SELECT sw FROM {_TEMPLATE}.stopwords)
            """
        )
        con.execute(
            """
            INSERT INTO search_dict (term, termid, df)
            SELECT term, nextval('search_termid_seq'), 0
            FROM (SELECT DISTINCT term FROM _search_new) AS n
            WHERE NOT EXISTS (SELECT 1 FROM search_dict d WHERE d.term = n.term)
            """
        )
        con.execute(
            """
            UPDATE search_dict SET df = df + c.n
            FROM (SELECT term, count(DISTINCT docid) AS n FROM _search_new GROUP BY term) AS c
            WHERE search_dict.term = c.term
            """
        )
        con.execute(
            """
            INSERT INTO search_terms (docid, fieldid, termid)
            SELECT n.docid, n.fieldid, d.termid FROM _search_new n JOIN search_dict d USING (term)
            """
        )
        con.execute(
            """
            UPDATE search_docs SET len = c.n
            FROM (SELECT docid, count(*) AS n FROM _search_new GROUP BY docid) AS c
            WHERE search_docs.docid = c.docid
            """
        )
        con.execute("DROP TABLE _search_new")
    con.execute("DROP TABLE _search_chunk")


def _ensure_template(con: duckdb.DuckDBPyConnection) -> None:
    if _schema_exists(con, _TEMPLATE):
        return
    con.execute("CREATE SCHEMA IF NOT EXISTS search_template")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {_TEMPLATE_TABLE} "
        "(article_id VARCHAR, title VARCHAR, text VARCHAR)"
    )
    con.execute(
        f"PRAGMA create_fts_index('{_TEMPLATE_TABLE}', 'article_id', 'title', 'text', "
        "overwrite = 1)"
    )


def _schema_exists(con: duckdb.DuckDBPyConnection, schema: str) -> bool:
    """Whether ``schema`` exists in the connection's current database."""
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ? "
            "AND database_name = current_database()",
            [schema],
        ).fetchone()[0]
    )


def create_index(con: duckdb.DuckDBPyConnection, catalog: str) -> None:
    """The extension's index structure in ``catalog`` (a freshly migrated snapshot whose
    ``articles`` is still empty): schema, stop words, fields, and the ``tokenize`` and
    ``match_bm25`` macros, exactly as ``create_fts_index`` defines them. Cheap while the table
    is empty; :func:`fill_index` then puts the working file's index in."""
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


def fill_index(con: duckdb.DuckDBPyConnection, own: str, catalog: str) -> None:
    """Copy the working index (kept current by :func:`sync_index`) into ``catalog``'s
    ``fts_main_articles`` tables: a copy that streams, whatever the warehouse's size."""
    target = f'"{catalog}".{FTS_SCHEMA}'
    for table in ("docs", "dict", "terms", "stats"):
        con.execute(f"DELETE FROM {target}.{table}")
    con.execute(
        f"INSERT INTO {target}.docs (docid, name, len) "
        f'SELECT docid, article_id, len FROM "{own}".search_docs'
    )
    con.execute(
        f"INSERT INTO {target}.dict (termid, term, df) "
        f'SELECT termid, term, df FROM "{own}".search_dict WHERE df > 0'
    )
    con.execute(
        f"INSERT INTO {target}.terms (docid, fieldid, termid) "
        f'SELECT docid, fieldid, termid FROM "{own}".search_terms'
    )
    con.execute(
        f"INSERT INTO {target}.stats (num_docs, avgdl) "
        f'SELECT count(docid), sum(len) / count(len) FROM "{own}".search_docs'
    )


def apply_index_delta(con: duckdb.DuckDBPyConnection, own: str, catalog: str) -> tuple[int, int]:
    """Bring ``catalog``'s index (a copy of the previous snapshot's) level with the working
    index; returns (rows removed, rows added).

    A document keeps its ``docid`` for as long as its content does (a changed article is
    indexed again under a new one), so the documents that differ name exactly the term rows to
    remove and add; terms are compared by ``termid`` (their document frequencies move)."""
    target = f'"{catalog}".{FTS_SCHEMA}'
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _docs_delta AS
        SELECT coalesce(s.docid, o.docid) AS docid,
               s.docid IS NOT NULL AS in_snapshot, o.docid IS NOT NULL AS in_working
        FROM {target}.docs s FULL JOIN "{own}".search_docs o ON s.docid = o.docid
        WHERE s.docid IS NULL OR o.docid IS NULL OR s.name <> o.article_id OR s.len <> o.len
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _dict_delta AS
        SELECT coalesce(s.termid, o.termid) AS termid,
               s.termid IS NOT NULL AS in_snapshot, o.termid IS NOT NULL AS in_working
        FROM {target}.dict s
        FULL JOIN (SELECT * FROM "{own}".search_dict WHERE df > 0) o ON s.termid = o.termid
        WHERE s.termid IS NULL OR o.termid IS NULL OR s.term <> o.term OR s.df <> o.df
        """
    )
    removed = added = 0
    for sql in (
        f"DELETE FROM {target}.terms WHERE docid IN "
        "(SELECT docid FROM _docs_delta WHERE in_snapshot)",
        f"DELETE FROM {target}.docs WHERE docid IN "
        "(SELECT docid FROM _docs_delta WHERE in_snapshot)",
        f"DELETE FROM {target}.dict WHERE termid IN "
        "(SELECT termid FROM _dict_delta WHERE in_snapshot)",
    ):
        removed += con.execute(sql).fetchone()[0]
    for sql in (
        f"INSERT INTO {target}.docs (docid, name, len) SELECT docid, article_id, len "
        f'FROM "{own}".search_docs WHERE docid IN '
        "(SELECT docid FROM _docs_delta WHERE in_working)",
        f"INSERT INTO {target}.terms (docid, fieldid, termid) SELECT docid, fieldid, termid "
        f'FROM "{own}".search_terms WHERE docid IN '
        "(SELECT docid FROM _docs_delta WHERE in_working)",
        f"INSERT INTO {target}.dict (termid, term, df) SELECT termid, term, df "
        f'FROM "{own}".search_dict WHERE termid IN '
        "(SELECT termid FROM _dict_delta WHERE in_working)",
    ):
        added += con.execute(sql).fetchone()[0]
    con.execute(f"DELETE FROM {target}.stats")
    con.execute(
        f"INSERT INTO {target}.stats (num_docs, avgdl) "
        f'SELECT count(docid), sum(len) / count(len) FROM "{own}".search_docs'
    )
    con.execute("DROP TABLE _docs_delta")
    con.execute("DROP TABLE _dict_delta")
    return removed, added


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
    if not _schema_exists(con, FTS_SCHEMA):
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
