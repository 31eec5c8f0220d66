"""The ``newsflow`` command: the parser and the dispatch, nothing else.

Each command group registers its subcommands and handlers from its own module (``ingest``:
demo, run, check; ``extract``; ``warehouse``: query, search, export, reprocess; ``serve``).
Those modules import only the standard library at the top, so ``newsflow --help`` stays fast;
the flows and Prefect load when a command runs. The expected failures every command can meet
are turned into one line and an exit code here (see :mod:`newsflow.cli.output`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from newsflow import __version__
from newsflow.cli import backfill, extract, ingest, init, report, serve, server, warehouse
from newsflow.cli.output import (
    EXIT_BAD_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_TERMINATED,
    Terminated,
    error,
    handle_sigterm,
    quiet_broken_pipe,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_OK
    handle_sigterm()  # SIGTERM unwinds like Ctrl-C: the run recorded, the API server stopped
    try:
        return int(args.handler(args))
    except BrokenPipeError:  # `newsflow query … | head`: the reader has all it wanted
        quiet_broken_pipe()
        return EXIT_OK
    except Terminated:
        error("terminated (SIGTERM)")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        code = expected_exit(exc)
        if code is None:
            raise  # a bug: the traceback is what it needs
        error(str(exc))
        return code


#: The expected failures of every command, by module and class name, with their exit codes:
#: a bad config (2); a stage failed, the warehouse is locked, or no Prefect server started (3).
#: Named, not imported: their modules load Pydantic, Prefect, DuckDB or requests, and a light
#: command (``newsflow extract``, ``--help``) should load none of them just to catch these.
EXPECTED_FAILURES = (
    ("newsflow.schemas.config", "ConfigError", EXIT_BAD_CONFIG),
    ("newsflow.flows.failure", "RunFailed", EXIT_RUN_FAILED),
    ("newsflow.tasks.warehouse.connection", "WarehouseLocked", EXIT_RUN_FAILED),
    ("newsflow.ops.prefect_server", "ServerStartError", EXIT_RUN_FAILED),
)


def expected_exit(exc: Exception) -> int | None:
    """The exit code of an expected failure, None for a bug. Only modules already loaded are
    looked at: an exception whose class was never imported cannot have been raised."""
    for module, name, code in EXPECTED_FAILURES:
        kind = getattr(sys.modules.get(module), name, None)
        if kind is not None and isinstance(exc, kind):
            return code
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsflow",
        description="Scheduled news ETL: feeds → clean, validated articles in DuckDB.",
    )
    parser.add_argument("--version", action="version", version=f"newsflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    init.add_commands(sub)
    ingest.add_commands(sub)
    extract.add_commands(sub)
    warehouse.add_commands(sub)
    serve.add_commands(sub)
    backfill.add_commands(sub)
    report.add_commands(sub)
    server.add_commands(sub)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
