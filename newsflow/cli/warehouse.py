"""The warehouse commands of the ``newsflow`` CLI: ``reprocess``, ``search`` and ``export``.

Registered on the CLI's subparsers by :func:`add_warehouse_commands`; heavy imports happen
inside the handlers so ``newsflow --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_CONFIG = 0, 1, 2


def add_warehouse_commands(sub: Any) -> None:
    """Register ``newsflow reprocess``, ``newsflow search`` and ``newsflow export``."""
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
    reprocess.add_argument(
        "--config", help="config file (default: $NEWSFLOW_CONFIG, then ./newsflow.toml)"
    )
    reprocess.add_argument("--db", help="DuckDB file (default: warehouse.path from the config)")
    reprocess.set_defaults(handler=_cmd_reprocess)

    search = sub.add_parser(
        "search",
        help="full-text search over articles (BM25), best first",
        description="BM25 full-text search over article titles and bodies in the snapshot.",
    )
    search.add_argument("terms", nargs="+", help="words to look for (any of them; more is better)")
    search.add_argument("--db", help="DuckDB file (default: warehouse.path from the config)")
    search.add_argument("--limit", type=_positive_int, default=10, help="hits (default: 10)")
    search.add_argument("--source", help="only articles of this source")
    search.set_defaults(handler=_cmd_search)

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
    export.add_argument("--db", help="DuckDB file (default: warehouse.path from the config)")
    export.set_defaults(handler=_cmd_export)


def _cmd_reprocess(args: argparse.Namespace) -> int:
    from newsflow.cli import console
    from newsflow.cli.main import _print_summary
    from newsflow.flows.reprocess import reprocess
    from newsflow.ops.prefect_server import temporary_api
    from newsflow.schemas.config import load_config
    from newsflow.tasks.quality.gate import CriticalChecksFailed

    config = load_config(args.config)  # fail fast, before Prefect starts, on a bad file
    db = args.db or config.warehouse.path
    if not _has_archive(db):
        return EXIT_BAD_CONFIG
    console.enable()
    try:
        with temporary_api():
            summary = reprocess(config=config, db=db, source=args.source, since=args.since)
    except CriticalChecksFailed as failed:  # the flow run is Failed; the data is loaded
        summary = failed.summary
    _print_summary(summary)
    return EXIT_CHECK_FAILED if summary.critical_failed else EXIT_OK


def _cmd_search(args: argparse.Namespace) -> int:
    import duckdb

    from newsflow.tasks.warehouse.search import SearchUnavailable, search

    db = _snapshot(args.db)
    if db is None:
        return EXIT_BAD_CONFIG
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    with duckdb.connect(db, read_only=True, config=config) as con:
        try:
            hits = search(con, " ".join(args.terms), limit=args.limit, source=args.source)
        except SearchUnavailable as exc:
            _error(str(exc))
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


def _cmd_export(args: argparse.Namespace) -> int:
    from newsflow.tasks.warehouse.export import export_parquet

    db = _snapshot(args.db)
    if db is None:
        return EXIT_BAD_CONFIG
    result = export_parquet(db, args.dir)
    print(
        f"wrote {result.rows} articles in {result.files} Parquet files to {result.path} "
        "(partitioned by source and published_date)"
    )
    return EXIT_OK


# -- helpers -------------------------------------------------------------------------------


def _default_db() -> str:
    from newsflow.schemas.config import load_config

    return load_config(None).warehouse.path


def _snapshot(db: str | None) -> str | None:
    """The published snapshot to read, or None after saying why there is none."""
    from pathlib import Path

    path = db or _default_db()
    if not Path(path).is_file():
        _error(f"{path}: no such warehouse file (run `newsflow demo` or `newsflow run` first)")
        return None
    return path


def _has_archive(db: str) -> bool:
    from pathlib import Path

    from newsflow.tasks.warehouse.warehouse import working_path

    work = working_path(Path(db).expanduser().resolve())
    if not work.is_file():
        _error(f"{work}: no working file with archived pages next to {db} (nothing to reprocess)")
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


def _error(message: str) -> None:
    print(f"newsflow: error: {message}", file=sys.stderr)
