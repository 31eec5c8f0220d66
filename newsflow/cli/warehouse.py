"""The warehouse commands: ``query``, ``search`` and ``export`` read the published snapshot;
``reprocess`` reruns the pipeline over the pages archived in the working file.

The reading goes through :mod:`newsflow.tasks.warehouse.reader` (DuckDB stays in the warehouse
package); heavy imports happen inside the handlers so ``newsflow --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from newsflow.cli import tables
from newsflow.cli.output import (
    EXIT_BAD_CONFIG,
    EXIT_OK,
    add_config_and_db,
    error,
    finish,
    print_run_summary,
)

#: Rows ``query`` prints as a table when ``--max-rows`` is not given (CSV and JSON: all).
BOX_ROWS = 50


def add_commands(sub: Any) -> None:
    """Register ``query``, ``reprocess``, ``search`` and ``export`` on the CLI's subparsers."""
    query = sub.add_parser(
        "query", help="run SQL on the warehouse (read-only) and print the result"
    )
    query.add_argument("sql", help="a SQL query")
    add_config_and_db(query)
    form = query.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="print CSV with a header row")
    form.add_argument("--json", action="store_true", help="print one JSON object a row")
    query.add_argument(
        "--max-rows",
        type=_positive_int,
        metavar="N",
        help=f"at most N rows (default: {BOX_ROWS} in the table, every row with --csv/--json)",
    )
    query.add_argument(
        "--as-of",
        metavar="RUN_ID",
        help="a DuckLake warehouse as that run's publish left it (its snapshot's AT (VERSION))",
    )
    query.set_defaults(handler=query_command)

    reprocess = sub.add_parser(
        "reprocess",
        help="re-extract and reload archived pages (raw_pages), no network",
        description=(
            "Rerun extract → clean → validate → load over the HTML archived in the working file "
            "(raw_pages), without any network access. With unchanged code it reproduces "
            "articles exactly; changed content becomes a new version."
        ),
    )
    reprocess.add_argument("--source", help="only pages of this source")
    reprocess.add_argument(
        "--since", type=_since, metavar="DATE", help="only pages fetched on or after DATE (UTC)"
    )
    add_config_and_db(reprocess)
    reprocess.set_defaults(handler=reprocess_command)

    search = sub.add_parser(
        "search",
        help="full-text search over articles (BM25), best first",
        description="BM25 full-text search over article titles and bodies in the snapshot.",
    )
    search.add_argument("terms", nargs="+", help="words to look for (any of them; more is better)")
    add_config_and_db(search)
    search.add_argument("--limit", type=_positive_int, default=10, help="hits (default: 10)")
    search.add_argument("--source", help="only articles of this source")
    search.set_defaults(handler=search_command)

    export = sub.add_parser(
        "export",
        help="write articles as Parquet partitioned by source and date",
        description=(
            "Write articles to DIR/articles/source=S/published_date=D/*.parquet "
            "(Hive partitioning), from the published snapshot. Replaces DIR/articles."
        ),
    )
    export.add_argument("dir", metavar="DIR", help="output folder")
    export.add_argument("--format", choices=["parquet"], default="parquet", help="file format")
    add_config_and_db(export)
    export.set_defaults(handler=export_command)


def query_command(args: argparse.Namespace) -> int:
    """SQL over the snapshot (or the DuckLake), read-only; SQL that does not run is one line
    and exit 2."""
    from newsflow.tasks.warehouse.reader import QueryError, query, query_rows

    db = _query_target(args.db, args.config, args.as_of)
    if db is None:
        return EXIT_BAD_CONFIG
    try:
        if args.csv or args.json:
            write = tables.write_csv if args.csv else tables.write_json_lines
            write(query_rows(db, args.sql, max_rows=args.max_rows), sys.stdout)
            return EXIT_OK
        rendered = query(db, args.sql, max_rows=args.max_rows or BOX_ROWS)
    except QueryError as exc:
        error(str(exc))
        return EXIT_BAD_CONFIG
    if rendered is not None:
        sys.stdout.write(rendered)
    return EXIT_OK


def reprocess_command(args: argparse.Namespace) -> int:
    """Extract → clean → validate → load again over the archived pages, no network."""
    from newsflow.cli import console
    from newsflow.cli.flow_run import run_to_summary
    from newsflow.flows.reprocess import reprocess
    from newsflow.schemas.config import load_config

    config = load_config(args.config)  # fail fast, before Prefect starts, on a bad file
    db = args.db or config.warehouse.path
    if not _has_archive(db):
        return EXIT_BAD_CONFIG
    console.enable()
    summary = run_to_summary(reprocess, config=config, db=db, source=args.source, since=args.since)
    print_run_summary(summary, command="reprocess")
    return finish(summary)


def search_command(args: argparse.Namespace) -> int:
    """BM25 hits, best first: score, date, source and title, then the URL under them."""
    from newsflow.tasks.warehouse.reader import search
    from newsflow.tasks.warehouse.search import SearchUnavailable

    db = _snapshot(args.db, args.config)
    if db is None:
        return EXIT_BAD_CONFIG
    try:
        hits = search(db, " ".join(args.terms), limit=args.limit, source=args.source)
    except SearchUnavailable as exc:
        error(str(exc))
        return EXIT_BAD_CONFIG
    if not hits:
        print("no matches")
        return EXIT_OK
    width = max(len(h.source) for h in hits)
    print(f"{'score':>6}  {'date':<10}  {'source':<{width}}  title / url")
    for hit in hits:
        day = hit.published_at.date().isoformat() if hit.published_at else "-"
        print(f"{hit.score:6.2f}  {day:<10}  {hit.source:<{width}}  {hit.title}")
        print(f"{'':6}  {'':10}  {'':{width}}  {hit.url}")
    return EXIT_OK


def export_command(args: argparse.Namespace) -> int:
    """The snapshot's articles as Hive-partitioned Parquet under DIR/articles."""
    from newsflow.tasks.warehouse.export import export_parquet

    db = _snapshot(args.db, args.config)
    if db is None:
        return EXIT_BAD_CONFIG
    result = export_parquet(db, args.dir)
    print(
        f"wrote {result.rows} articles in {result.files} Parquet files to {result.path} "
        "(partitioned by source and published_date)"
    )
    return EXIT_OK


# -- helpers -------------------------------------------------------------------------------


def _query_target(db: str | None, config_path: str | None, as_of: str | None) -> Any:
    """What ``query`` reads: ``--db``'s file; else the config's DuckLake (as of ``--as-of``)
    when ``warehouse.kind`` is ``"ducklake"``, or its file. None after saying why not."""
    if not db:
        from newsflow.schemas.config import load_config
        from newsflow.tasks.warehouse.lake import LakeView
        from newsflow.tasks.warehouse.lake_connection import LakeTarget

        target = LakeTarget.of(load_config(config_path).warehouse)
        if target is not None:
            return LakeView(target, as_of)
    if as_of:
        error('--as-of reads a DuckLake warehouse: set [warehouse] kind = "ducklake" (no --db)')
        return None
    return _snapshot(db, config_path)


def _snapshot(db: str | None, config_path: str | None) -> str | None:
    """The published snapshot to read (``--db``, else the config's ``warehouse.path``), or
    None after saying why there is none."""
    if not db:
        from newsflow.schemas.config import load_config

        db = load_config(config_path).warehouse.path
    if not Path(db).is_file():
        error(f"{db}: no such warehouse file (run `newsflow demo` or `newsflow run` first)")
        return None
    return db


def _has_archive(db: str) -> bool:
    """True if ``db`` has a working file (the archived pages); otherwise say so."""
    from newsflow.tasks.warehouse.warehouse import working_path

    work = working_path(Path(db).expanduser().resolve())
    if not work.is_file():
        error(f"{work}: no working file with archived pages next to {db} (nothing to reprocess)")
        return False
    return True


def _since(value: str) -> str:
    from newsflow.tasks.warehouse.archive import since_datetime

    try:
        since_datetime(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date: {value!r} (use YYYY-MM-DD or an ISO time)"
        ) from None
    return value


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (got {value!r})")
    return number
