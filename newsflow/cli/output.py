"""What the ``newsflow`` command prints and the codes it exits with.

Expected failures (a bad config, a locked warehouse, a missing file) print one ``newsflow:
error:`` line on stderr and exit with a documented code; tracebacks are for bugs only. Results
go to stdout, notes and errors to stderr, so ``--json`` and pipes get clean output.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsflow.flows.scaffold import CheckSummary, FlowSummary, RunSummary

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # a critical data-quality check failed (the valid rows are loaded)
EXIT_BAD_CONFIG = 2  # a bad config, a bad argument, a missing file, SQL that does not run
#: The run failed: it could not start (warehouse locked or unusable, no Prefect server) or a
#: stage failed (a DuckDB error, a full disk, a crash); one line names the stage and the cause.
EXIT_RUN_FAILED = 3
EXIT_NOTHING_WORKED = 4  # the run completed but every polled feed or every fetched page failed
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
EXIT_TERMINATED = 143  # SIGTERM (kill, systemd, a container stopping), as a shell reports it


def add_config_and_db(parser: Any) -> None:
    """``--config`` and ``--db``, worded the same for every command that opens the warehouse:
    without ``--db`` the config's ``warehouse.path`` is used."""
    parser.add_argument(
        "--config", help="config file (default: $NEWSFLOW_CONFIG, then ./newsflow.toml)"
    )
    parser.add_argument("--db", help="DuckDB file (default: warehouse.path from the config)")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, like Ctrl-C's KeyboardInterrupt: every path that
    unwinds an interrupted run (rolled-back batches, the run recorded as failed, the temporary
    API server stopped) then runs for it too, and only the exit code tells the two apart."""


def _raise_terminated(_signum: int, _frame: object) -> None:
    raise Terminated("terminated (SIGTERM)")  # the message pipeline_runs keeps


def handle_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread instead of ending the process
    on the spot. Prefect's flow engine swaps in its own handler while a flow runs; when it has
    recorded the flow run as crashed it puts this one back and sends the signal again, so the
    command still unwinds through here."""
    import signal

    signal.signal(signal.SIGTERM, _raise_terminated)


def quiet_broken_pipe() -> None:
    """The reader of our stdout went away (``newsflow query … | head``): stop without a
    traceback. Python would otherwise also complain when it flushes stdout at exit, so stdout
    is pointed at ``/dev/null`` first (the recipe of Python's ``signal`` documentation)."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def note(message: str) -> None:
    """Tell the person at the terminal what is going on (stderr: results stay clean)."""
    print(f"newsflow: {message}", file=sys.stderr, flush=True)


def error(message: str) -> None:
    """One line saying what went wrong and, where it helps, what to do."""
    print(f"newsflow: error: {message}", file=sys.stderr, flush=True)


def exit_code(summary: FlowSummary) -> int:
    """A run's exit code: 4 when nothing worked (every polled feed or every fetched page
    failed: a check failing on that would only repeat it), 1 when a critical check failed (the
    data is loaded all the same), else 0."""
    if summary.nothing_worked:
        return EXIT_NOTHING_WORKED
    return EXIT_CHECK_FAILED if summary.critical_failed else EXIT_OK


def finish(summary: FlowSummary) -> int:
    """After the summary is printed: the one line saying why a dead run failed, and the code."""
    if summary.nothing_worked:
        error(f"nothing worked in this run: {summary.nothing_worked}")
    return exit_code(summary)


def print_json(summary: FlowSummary) -> None:
    print(json.dumps(summary.as_dict(), default=str))


def print_run_summary(summary: RunSummary, *, command: str = "run") -> None:
    """The closing summary of ``run``, ``demo`` and ``reprocess`` (``command``, its title): a
    table, then one line per feed error, page error, rejected article and failed check."""
    from rich.console import Console
    from rich.table import Table

    s = summary
    title = f"newsflow {command} {s.run_id[:8]} — {s.status}"
    table = Table(title=title, show_header=False, box=None)
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
    Console().print(table)
    for source, reason in s.feed_errors.items():
        print(f"  feed {source}: {reason}")
    for url, reason in s.page_errors.items():
        print(f"  page {url}: {reason}")
    for url, checks in s.rejected.items():
        print(f"  rejected {url}: {', '.join(checks)}")
    for check in s.checks_failed:
        print(f"  check failed: {check}")
    _print_quality(s)


def print_check_summary(summary: CheckSummary) -> None:
    """The closing summary of ``newsflow check``."""
    s = summary
    checked = f" (rates of ingest run {s.checked_run_id[:8]})" if s.checked_run_id else ""
    print(f"newsflow check {s.run_id[:8]} — {s.status}{checked}")
    print(f"  checks: {s.checks_passed} passed, {len(s.checks_failed)} failed")
    for check in s.checks_failed:
        print(f"  check failed: {check}")
    _print_quality(s)


def _print_quality(s: FlowSummary) -> None:
    """Where the Data Docs are, and each alert this run built: sent, or what would be sent."""
    from newsflow.tasks.quality.gate import render_alert

    if s.data_docs:
        print(f"  Data Docs: {s.data_docs}")
    alert: dict[str, Any]
    for alert in s.alerts or []:
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
