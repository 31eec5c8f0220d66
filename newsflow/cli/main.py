"""The ``newsflow`` command: a thin shell over the flows and the warehouse.

Expected failures (a bad config, a locked warehouse, a missing file) print one clear line and
exit with the documented code; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from newsflow import __version__

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_CONFIG = 0, 1, 2
DEMO_PORT = 8765

EXAMPLE_QUERIES = "\n".join(
    f'  newsflow query --db {{db}} "{sql}"'
    for sql in (
        "SELECT source, count(*) AS articles, round(avg(word_count)) AS words "
        "FROM articles GROUP BY ALL",
        "SELECT title, authors, published_at, len(captions) AS photos "
        "FROM articles ORDER BY published_at DESC LIMIT 5",
        "SELECT url, failed_checks FROM rejected_articles",
        "SELECT url, error FROM raw_pages WHERE error IS NOT NULL",
    )
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_OK
    from newsflow.ops.prefect_server import ServerStartError
    from newsflow.schemas.config import ConfigError
    from newsflow.tasks.warehouse.connection import WarehouseLocked

    try:
        return int(args.handler(args))
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_BAD_CONFIG
    except (WarehouseLocked, ServerStartError) as exc:  # no Prefect API: nothing ran
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
    demo.add_argument(
        "--broken",
        action="store_true",
        help="add a broken source (stale feed, caption-only pages): see a check fail and alert",
    )
    demo.add_argument(
        "--alert-url",
        action="append",
        default=[],
        metavar="URL",
        help="apprise URL to send alerts to, e.g. json://127.0.0.1:9000/hook (repeatable; "
        "also $NEWSFLOW_ALERT_URLS). Without one, the alert is printed.",
    )
    demo.set_defaults(handler=_cmd_demo)

    run = sub.add_parser("run", help="one ingest run over the configured sources")
    run.add_argument(
        "--config", help="config file (default: $NEWSFLOW_CONFIG, then ./newsflow.toml)"
    )
    run.add_argument("--db", help="DuckDB file (default: warehouse.path from the config)")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    run.add_argument(
        "--reset-source",
        action="append",
        default=[],
        metavar="NAME",
        help="re-enable a paused or gone source (and forget its Retry-After wait) before the "
        "run; repeatable",
    )
    run.set_defaults(handler=_cmd_run)

    check = sub.add_parser("check", help="run the table-level data-quality checks now")
    check.add_argument(
        "--config", help="config file (default: $NEWSFLOW_CONFIG, then ./newsflow.toml)"
    )
    check.add_argument("--db", help="DuckDB file (default: warehouse.path from the config)")
    check.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    check.set_defaults(handler=_cmd_check)

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

    from newsflow.cli.serve import add_serve_command  # light: Prefect loads on use
    from newsflow.cli.warehouse import add_warehouse_commands  # reprocess, search, export

    add_serve_command(sub)
    add_warehouse_commands(sub)
    return parser


# -- commands ------------------------------------------------------------------------------


def _cmd_demo(args: argparse.Namespace) -> int:
    from newsflow.cli import console
    from newsflow.demo.broken import broken_site_root, with_alert_urls, with_broken_source
    from newsflow.demo.config import demo_config
    from newsflow.demo.server import start_demo_site

    overlays = [broken_site_root()] if args.broken else []
    try:
        site = start_demo_site(args.port, overlays=overlays)
    except OSError:
        site = start_demo_site(0, overlays=overlays)
    if site.port != args.port:
        _note(
            f"port {args.port} is busy; serving the demo on {site.port}. Article URLs include the "
            "port, so use the same --port on every demo run into one database."
        )
    try:
        console.enable()
        _note(f"demo site at {site.base_url}; ingesting into {args.db}")
        config = demo_config(site.base_url, db=args.db)
        if args.broken:
            config = with_broken_source(config, site.base_url)
        summary = _ingest(config=with_alert_urls(config, args.alert_url), db=args.db)
    finally:
        site.stop()
    _print_summary(summary)
    print("\nTry:\n" + EXAMPLE_QUERIES.format(db=summary.db))
    return EXIT_CHECK_FAILED if summary.critical_failed else EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from newsflow.cli import console
    from newsflow.schemas.config import load_config

    config = load_config(args.config)  # fail fast, before Prefect starts, on a bad file
    if not config.sources:
        _error("no [[sources]] configured; nothing to ingest (see the README's config reference)")
        return EXIT_BAD_CONFIG
    if args.reset_source:
        from newsflow.tasks.fetch.lifecycle import reset_sources

        for name in reset_sources(config, args.db, args.reset_source):
            _note(f"source {name} re-enabled")
    console.enable(not args.json)
    summary = _ingest(config=config, db=args.db)
    if args.json:
        print(json.dumps(summary.as_dict(), default=str))
    else:
        _print_summary(summary)
    return EXIT_CHECK_FAILED if summary.critical_failed else EXIT_OK


def _ingest(**kwargs: object) -> object:
    """Run the ingest flow; a critical data-quality failure still gives the run's summary."""
    from newsflow.flows.ingest import ingest
    from newsflow.ops.prefect_server import temporary_api
    from newsflow.tasks.quality.gate import CriticalChecksFailed

    try:
        with temporary_api():
            return ingest(**kwargs)
    except CriticalChecksFailed as failed:  # the flow run is Failed; the data is loaded
        return failed.summary


def _cmd_check(args: argparse.Namespace) -> int:
    from newsflow.schemas.config import load_config

    config = load_config(args.config)  # fail fast, before Prefect loads, on a bad file
    from newsflow.flows.checks import checks
    from newsflow.ops.prefect_server import temporary_api
    from newsflow.tasks.quality.gate import CriticalChecksFailed

    try:
        with temporary_api():
            summary = checks(config=config, db=args.db)
    except CriticalChecksFailed as failed:
        summary = failed.summary
    if args.json:
        print(json.dumps(summary.as_dict(), default=str))
    else:
        _print_check_summary(summary)
    return EXIT_CHECK_FAILED if summary.critical_failed else EXIT_OK


def _cmd_extract(args: argparse.Namespace) -> int:
    from newsflow.tasks.extract.files import extract_files, read_manifest

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
        with contextlib.suppress(Exception):  # fts_main_articles.match_bm25 needs it
            from newsflow.tasks.warehouse.search import load_fts

            load_fts(con)
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
    _print_quality(s)


def _print_check_summary(summary: object) -> None:
    s = summary  # flows.checks.CheckSummary
    checked = f" (rates of ingest run {s.checked_run_id[:8]})" if s.checked_run_id else ""
    print(f"newsflow check {s.run_id[:8]} — {s.status}{checked}")
    print(f"  checks: {s.checks_passed} passed, {len(s.checks_failed)} failed")
    for check in s.checks_failed:
        print(f"  check failed: {check}")
    _print_quality(s)


def _print_quality(s: object) -> None:
    """Where the Data Docs are, and each alert this run built: sent, or what would be sent."""
    from newsflow.tasks.quality.gate import render_alert

    if getattr(s, "data_docs", None):
        print(f"  Data Docs: {s.data_docs}")
    for alert in getattr(s, "alerts", None) or []:
        if not alert["destinations"]:
            print(
                "\nAlert (not sent: no alert URL configured; use [alerts] urls, "
                "NEWSFLOW_ALERT_URLS or --alert-url):"
            )
        elif alert["delivered"]:
            print(f"\nAlert sent to {alert['destinations']} destination(s):")
        else:
            print(f"\nAlert NOT delivered ({'; '.join(e for e in alert['errors'] if e)}):")
        print(render_alert(alert))


def _note(message: str) -> None:
    print(f"newsflow: {message}", file=sys.stderr)


def _error(message: str) -> None:
    print(f"newsflow: error: {message}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
