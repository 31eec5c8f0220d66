"""``newsflow demo``, ``newsflow run`` and ``newsflow check``: one flow run, then its summary.

Each runs its flow once under a temporary Prefect API (:func:`~newsflow.cli.flow_run
.run_to_summary`) and exits 4 when nothing worked, 1 when a critical data-quality check
failed, 0 otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from newsflow.cli.output import (
    EXIT_BAD_CONFIG,
    EXIT_OK,
    add_config_and_db,
    error,
    finish,
    note,
    print_check_summary,
    print_json,
    print_run_summary,
)
from newsflow.demo.server import DEMO_PORT

INGEST = "newsflow.flows.ingest:ingest"  # imported once the Prefect API is on its way

#: Printed after the demo: queries worth trying on what it loaded.
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


def add_commands(sub: Any) -> None:
    """Register ``demo``, ``run`` and ``check`` on the CLI's subparsers."""
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
    demo.add_argument(
        "--serve-only",
        action="store_true",
        help="only serve the demo site (until Ctrl-C) for a config of your own; prints the "
        "[[sources]] and allow_private lines it needs",
    )
    demo.set_defaults(handler=demo_command)

    run = sub.add_parser("run", help="one ingest run over the configured sources")
    add_config_and_db(run)
    run.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    run.add_argument(
        "--reset-source",
        action="append",
        default=[],
        metavar="NAME",
        help="re-enable a paused or gone source (and forget its Retry-After wait) before the "
        "run; repeatable",
    )
    run.add_argument(
        "--retry-failed",
        action="store_true",
        help="ask again now for every page that failed before (also those given up on), "
        "instead of waiting for its retry schedule",
    )
    run.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="with --retry-failed: only this source's pages; repeatable",
    )
    run.set_defaults(handler=run_command)

    check = sub.add_parser("check", help="run the table-level data-quality checks now")
    add_config_and_db(check)
    check.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    check.set_defaults(handler=check_command)


def demo_command(args: argparse.Namespace) -> int:
    """Serve the bundled site on loopback, ingest it once, print the summary and queries; the
    config the run used is saved beside the warehouse so later commands read the same one.
    ``--serve-only``: serve the site for a config of your own, until Ctrl-C."""
    from newsflow.cli import console
    from newsflow.cli.flow_run import run_to_summary
    from newsflow.demo.broken import broken_site_root, with_alert_urls, with_broken_source
    from newsflow.demo.config import demo_config, saved_config_path
    from newsflow.demo.server import start_demo_site_on
    from newsflow.schemas.config_toml import write_config

    if args.serve_only:
        if args.broken or args.alert_url:
            error("--serve-only serves the site alone; leave out --broken and --alert-url")
            return EXIT_BAD_CONFIG
        return serve_demo_site(args.port)
    overlays = [broken_site_root()] if args.broken else []
    site = start_demo_site_on(args.port, overlays=overlays, note=note)
    try:
        console.enable()
        config = demo_config(site.base_url, db=args.db)
        if args.broken:
            config = with_broken_source(config, site.base_url)
        saved = write_config(config, saved_config_path(args.db))
        note(f"demo site at {site.base_url}; ingesting into {args.db}; config saved to {saved}")
        config = with_alert_urls(config, args.alert_url)  # not saved: URLs may carry tokens
        summary = run_to_summary(INGEST, config=config, db=args.db)
    finally:
        site.stop()
    print_run_summary(summary, command="demo")
    print("\nTry:\n" + EXAMPLE_QUERIES.format(db=summary.db))
    print(
        f"\nThe config this run used is {saved}: `newsflow check --config {saved}`, "
        "`newsflow reprocess` and `newsflow serve` read it the same way."
    )
    return finish(summary)


def serve_demo_site(port: int) -> int:
    """``newsflow demo --serve-only``: the demo site for a config of your own (``newsflow
    init``), with the lines that config needs, until Ctrl-C (one line, exit 0)."""
    import time

    from newsflow.demo.config import demo_sources_toml
    from newsflow.demo.server import start_demo_site_on

    site = start_demo_site_on(port, note=note)
    try:
        note(f"serving the demo site at {site.base_url} until Ctrl-C")
        print(demo_sources_toml(site.base_url), flush=True)
        note(
            "put these lines in your newsflow.toml (`newsflow init` writes one), each under "
            "its section, then run `newsflow run` in another terminal"
        )
        while True:  # until Ctrl-C, or SIGTERM (main.py turns it into one line)
            time.sleep(3600)
    except KeyboardInterrupt:
        note("demo site stopped")
    finally:
        site.stop()
    return EXIT_OK


def run_command(args: argparse.Namespace) -> int:
    """One ingest run over the configured sources."""
    from newsflow.cli import console
    from newsflow.cli.flow_run import run_to_summary
    from newsflow.schemas.config import load_config

    config = load_config(args.config)  # fail fast, before Prefect starts, on a bad file
    if not config.sources:
        error("no [[sources]] configured; nothing to ingest (see the README's config reference)")
        return EXIT_BAD_CONFIG
    if args.reset_source:
        from newsflow.tasks.fetch.lifecycle import reset_sources

        for name in reset_sources(config, args.db, args.reset_source):
            note(f"source {name} re-enabled")
    console.enable(not args.json)
    if args.source and not args.retry_failed:
        error("--source goes with --retry-failed")
        return EXIT_BAD_CONFIG
    unknown = sorted(set(args.source) - {s.name for s in config.sources})
    if unknown:
        error(f"no source named {', '.join(unknown)} in the config")
        return EXIT_BAD_CONFIG
    summary = run_to_summary(
        INGEST,
        config=config,
        db=args.db,
        retry_failed=args.retry_failed,
        retry_sources=args.source or None,
    )
    if args.json:
        print_json(summary)
    else:
        if args.retry_failed:
            note(f"{summary.pages_due_again} failed page(s) asked for again")
        print_run_summary(summary)
    return finish(summary)


def check_command(args: argparse.Namespace) -> int:
    """The table-level data-quality checks, now."""
    from newsflow.cli.flow_run import run_to_summary
    from newsflow.schemas.config import load_config

    config = load_config(args.config)  # fail fast, before Prefect loads, on a bad file
    summary = run_to_summary("newsflow.flows.checks:checks", config=config, db=args.db)
    if args.json:
        print_json(summary)
    else:
        print_check_summary(summary)
    return finish(summary)
