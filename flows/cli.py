"""The ``newsflow`` command: a thin shell over the flows and the warehouse.

Expected failures (a bad config, a locked warehouse, a missing file) print one clear line and
exit with the documented code; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from newsflow import __version__

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_CONFIG = 0, 1, 2
DEMO_PORT = 8765

EXAMPLE_QUERIES = """\
  newsflow query --db {db} "SELECT source, count(*) AS articles, round(avg(word_count)) AS words FROM articles GROUP BY ALL"
  newsflow query --db {db} "SELECT title, authors, published_at, len(captions) AS photos FROM articles ORDER BY published_at DESC LIMIT 5"
  newsflow query --db {db} "SELECT url, failed_checks FROM rejected_articles"
  newsflow query --db {db} "SELECT url, error FROM raw_pages WHERE error IS NOT NULL"
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_OK
    from newsflow.schemas.config import ConfigError
    from newsflow.tasks.load import WarehouseLocked

    try:
        return int(args.handler(args))
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_BAD_CONFIG
    except WarehouseLocked as exc:
        _error(str(exc))
        return EXIT_CHECK_FAILED
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsflow",
        description="Scheduled news ETL: feeds → clean, validated articles in DuckDB.",
    )
    parser.add_argument("--version", action="version", version=f"newsflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="serve the bundled demo site and ingest it into DuckDB")
    demo.add_argument("--db", default="newsflow.duckdb", help="DuckDB file (default: %(default)s)")
    demo.add_argument(
        "--port",
        type=int,
        default=DEMO_PORT,
        help="loopback port for the demo site (default: %(default)s)",
    )
    demo.set_defaults(handler=_cmd_demo)

    run = sub.add_parser("run", help="one ingest run over the configured sources")
    run.add_argument(
        "--config", help="config file (default: $NEWSFLOW_CONFIG, then ./newsflow.toml)"
    )
    run.add_argument("--db", help="DuckDB file (default: warehouse.path from the config)")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    run.set_defaults(handler=_cmd_run)

    extract = sub.add_parser(
        "extract", help="HTML files to cleaned JSON records on stdout (offline)"
    )
    extract.add_argument("files", nargs="*", type=Path, help="HTML files")
    extract.add_argument("--manifest", type=Path, help='JSONL lines of {"path": ..., "url": ...}')
    extract.set_defaults(handler=_cmd_extract)
    query = sub.add_parser(
        "query", help="run SQL on the warehouse (read-only) and print the result"
    )
    query.add_argument("sql", help="a SQL query")
    query.add_argument("--db", default="newsflow.duckdb", help="DuckDB file (default: %(default)s)")
    query.set_defaults(handler=_cmd_query)
    return parser


# -- commands ------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from newsflow.examples.server import start_demo_site
    from newsflow.flows import console
    from newsflow.flows.demo import demo_config
    from newsflow.flows.ingest import ingest

    try:
        site = start_demo_site(args.port)
    except OSError:
        site = start_demo_site(0)
    if site.port != args.port:
        _note(
            f"port {args.port} is busy; serving the demo on {site.port}. Article URLs include the "
            "port, so use the same --port on every demo run into one database."
        )
    try:
        console.enable()
        _note(f"demo site at {site.base_url}; ingesting into {args.db}")
        summary = ingest(config=demo_config(site.base_url, db=args.db), db=args.db)
    finally:
        site.stop()
    _print_summary(summary)
    print("\nTry:\n" + EXAMPLE_QUERIES.format(db=summary.db))
    return EXIT_CHECK_FAILED if summary.critical_failed else EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from newsflow.flows import console
    from newsflow.flows.ingest import ingest
    from newsflow.schemas.config import load_config

    config = load_config(args.config)  # fail fast, before Prefect starts, on a bad file
    if not config.sources:
        _error("no [[sources]] configured; nothing to ingest (see the README's config reference)")
        return EXIT_BAD_CONFIG
    console.enable(not args.json)
    summary = ingest(config=config, db=args.db)
    if args.json:
        print(json.dumps(summary.as_dict(), default=str))
    else:
        _print_summary(summary)
    return EXIT_CHECK_FAILED if summary.critical_failed else EXIT_OK


def _cmd_extract(args: argparse.Namespace) -> int:
    from newsflow.flows.extract_files import extract_files, read_manifest

    items: list[tuple[Path, str | None]] = [(p, None) for p in args.files]
    if args.manifest:
        items.extend(read_manifest(args.manifest))
    if not items:
        _error("give HTML files or --manifest M.jsonl")
        return EXIT_BAD_CONFIG
    for record in extract_files(items):
        sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return EXIT_OK


def _cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    if not Path(args.db).exists():
        _error(f"{args.db}: no such warehouse file (run `newsflow demo` or `newsflow run` first)")
        return EXIT_BAD_CONFIG
    with duckdb.connect(args.db, read_only=True) as con:
        try:
            relation = con.sql(args.sql)
        except duckdb.Error as exc:
            _error(str(exc).splitlines()[0])
            return EXIT_BAD_CONFIG
        if relation is not None:
            relation.show(max_width=200, max_rows=50)
    return EXIT_OK


# -- output --------------------------------------------------------------------------------


def _print_summary(summary: object) -> None:
    from rich.console import Console
    from rich.table import Table

    s = summary  # RunSummary
    out = Console()
    table = Table(title=f"newsflow run {s.run_id[:8]} — {s.status}", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    feed_note = f" ({len(s.feed_errors)} with errors)" if s.feed_errors else ""
    table.add_row("sources polled", f"{s.feeds_polled}{feed_note}")
    table.add_row("pages fetched", f"{s.pages_fetched} ({len(s.page_errors)} gave no article)")
    table.add_row(
        "articles loaded",
        f"{s.loaded.new} new, {s.loaded.updated} updated, {s.loaded.unchanged} unchanged",
    )
    table.add_row("rejected", str(len(s.rejected)))
    table.add_row("checks", f"{s.checks_passed} passed, {len(s.checks_failed)} failed")
    table.add_row("elapsed", f"{s.elapsed_s:.1f} s")
    table.add_row("warehouse", s.db)
    out.print(table)
    for source, reason in s.feed_errors.items():
        print(f"  feed {source}: {reason}")
    for url, reason in s.page_errors.items():
        print(f"  page {url}: {reason}")
    for url, checks in s.rejected.items():
        print(f"  rejected {url}: {', '.join(checks)}")
    for check in s.checks_failed:
        print(f"  check failed: {check}")


def _note(message: str) -> None:
    print(f"newsflow: {message}", file=sys.stderr)


def _error(message: str) -> None:
    print(f"newsflow: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
