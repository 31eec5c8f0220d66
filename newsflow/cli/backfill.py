"""``newsflow backfill``: a source's past articles from its site's sitemaps (flows/backfill.py).

Exit codes as ``run``: 0 ok (also: the same backfill already finished), 1 a critical check
failed, 2 bad config or arguments, 3 the run failed, 4 nothing worked (no sitemap listed an
article URL, or every page failed).
"""

from __future__ import annotations

import argparse
from typing import Any

from newsflow.cli.output import (
    EXIT_BAD_CONFIG,
    add_config_and_db,
    error,
    finish,
    note,
    print_json,
    print_run_summary,
)


def add_commands(sub: Any) -> None:
    """Register ``backfill`` on the CLI's subparsers."""
    cmd = sub.add_parser("backfill", help="load a source's past articles from its site's sitemaps")
    cmd.add_argument("--source", required=True, metavar="NAME", help="the source to backfill")
    cmd.add_argument(
        "--since", metavar="DATE", help="only articles published on or after DATE (YYYY-MM-DD)"
    )
    cmd.add_argument("--until", metavar="DATE", help="only articles published before DATE")
    cmd.add_argument(
        "--max", type=int, metavar="N", help="at most N articles, newest first (default: all)"
    )
    add_config_and_db(cmd)
    cmd.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    cmd.set_defaults(handler=backfill_command)


def backfill_command(args: argparse.Namespace) -> int:
    """One backfill run (or its resumption) for one source."""
    from newsflow.cli import console
    from newsflow.cli.flow_run import run_to_summary
    from newsflow.flows.backfill import parse_day
    from newsflow.schemas.config import load_config

    config = load_config(args.config)  # fail fast, before Prefect starts, on a bad file
    if args.source not in {s.name for s in config.sources}:
        error(f"--source: no source named {args.source!r} in the config")
        return EXIT_BAD_CONFIG
    if args.max is not None and args.max < 1:
        error("--max must be at least 1")
        return EXIT_BAD_CONFIG
    since, until = parse_day(args.since, "--since"), parse_day(args.until, "--until")
    if since and until and until <= since:
        error("--until must be after --since")
        return EXIT_BAD_CONFIG
    from newsflow.flows.backfill import backfill

    console.enable(not args.json)
    summary = run_to_summary(
        backfill,
        source=args.source,
        since=args.since,
        until=args.until,
        max_items=args.max,
        config=config,
        db=args.db,
    )
    if args.json:
        print_json(summary)
        return finish(summary)
    if summary.already_done:
        note(f"backfill of {args.source} for this window already finished; nothing to do")
    else:
        what = "resumed" if summary.resumed else f"{summary.sitemaps_read} sitemap(s) read"
        note(
            f"backfill of {args.source}: {what}, {summary.urls_listed} URL(s) listed, "
            f"{summary.urls_queued} queued, {summary.remaining} left to fetch"
        )
        for problem in summary.sitemap_errors:
            note(f"sitemap {problem}")
    print_run_summary(summary, command="backfill")
    return finish(summary)
