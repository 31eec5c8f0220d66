"""``newsflow serve``: one long-running process that runs the deployments on their schedules.

This is Prefect's ``serve`` (a runner that polls the server for due runs and starts each in a
subprocess) with newsflow's deployments: the ingest every 15 minutes (or ``--cron`` /
``--interval-s``), the table checks hourly and reprocess on demand.
Every deployment has a concurrency limit of one, so a slow run is never overtaken by the next
tick; the writer guard in :mod:`newsflow.tasks.warehouse.writer` keeps different flows apart.

The same deployments, for a Prefect server with workers on several machines, are in
``deploy/prefect.yaml``; keep the two in step (a test compares them).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import signal
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from newsflow.cli.output import EXIT_BAD_CONFIG, EXIT_OK, add_config_and_db, error, note
from newsflow.demo.server import DEMO_PORT

INGEST_CRON = "*/15 * * * *"  # every 15 minutes
CHECKS_CRON = "0 * * * *"  # hourly, on the hour
DEMO_INTERVAL_S = 60.0
TAGS = ["newsflow"]


@dataclass(frozen=True)
class FlowRef:
    """Where a flow lives and how its deployment is scheduled (``cron=None``: manual only)."""

    deployment: str
    module: str
    attr: str
    cron: str | None
    description: str


FLOWS = (
    FlowRef(
        "ingest",
        "newsflow.flows.ingest",
        "ingest",
        INGEST_CRON,
        "Poll every source once and load what is new into the warehouse.",
    ),
    FlowRef(
        "checks",
        "newsflow.flows.checks",
        "checks",
        CHECKS_CRON,
        "Table-level data-quality checks over the warehouse; alerts on a change.",
    ),
    FlowRef(
        "reprocess",
        "newsflow.flows.reprocess",
        "reprocess",
        None,
        "Re-extract and reload archived pages (raw_pages), no network. Manual only.",
    ),
)


def load_flow(ref: FlowRef) -> Any:
    """The flow object (the flows are part of the installed package: an import error is a bug
    and propagates)."""
    return getattr(importlib.import_module(ref.module), ref.attr)


def check_cron(expr: str) -> None:
    """Raise ConfigError for a cron expression Prefect would refuse."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    from newsflow.schemas.config import ConfigError

    try:
        CronSchedule(cron=expr)
    except ValidationError:
        raise ConfigError(f"--cron: not a valid cron expression: {expr!r}") from None


def build_deployments(
    *,
    config_path: str,
    db: str | None = None,
    interval_s: float | None = None,
    cron: str | None = None,
) -> list[Any]:
    """The deployments ``newsflow serve`` runs, with their schedules, limits and parameters.

    ``interval_s`` or ``cron`` replace the ingest's default schedule. Parameters are passed
    only where the flow accepts them (``config_path`` always points at the config file). The
    entrypoints are module paths (``newsflow.flows.ingest.ingest``): each run imports the
    installed package, whatever the working directory.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import EntrypointType

    if interval_s is not None and cron is not None:
        raise ValueError("give an interval or a cron expression, not both")
    if cron is not None:
        check_cron(cron)
    deployments = []
    for ref in FLOWS:
        flow = load_flow(ref)
        schedule: dict[str, Any] = {}
        if ref.deployment == "ingest" and interval_s is not None:
            schedule["interval"] = timedelta(seconds=interval_s)
        elif ref.deployment == "ingest":
            schedule["cron"] = cron or INGEST_CRON
        elif ref.cron:
            schedule["cron"] = ref.cron
        deployments.append(
            flow.to_deployment(
                name=ref.deployment,
                description=ref.description,
                tags=TAGS,
                parameters=flow_parameters(flow, config_path=config_path, db=db),
                concurrency_limit=ConcurrencyLimitConfig(
                    limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
                ),
                entrypoint_type=EntrypointType.MODULE_PATH,
                **schedule,
            )
        )
    return deployments


def flow_parameters(flow: Any, *, config_path: str, db: str | None) -> dict[str, Any]:
    accepted = inspect.signature(flow.fn).parameters
    params: dict[str, Any] = {}
    if "config_path" in accepted:
        params["config_path"] = config_path
    if db is not None and "db" in accepted:
        params["db"] = db
    return params


def serve_deployments(deployments: list[Any], *, db: str | None = None) -> None:
    """Block, running due flow runs, until Ctrl-C or SIGTERM (Prefect's ``serve``).

    Each run starts in its own subprocess, which imports the flow from its entrypoint. One line
    per finished run is printed (see :mod:`newsflow.cli.run_report`). Stopping pauses the
    schedules (no pile of late runs on a server nobody serves); starting again re-applies the
    deployments, which resumes them and drops stale scheduled runs.
    """
    from prefect.runner import Runner

    from newsflow.cli.run_report import RunReporter

    names = [f"{d.flow_name}/{d.name}" for d in deployments]
    runner = Runner(pause_on_shutdown=True)
    for deployment in deployments:
        runner.add_deployment(deployment)
    note(f"serving {', '.join(names)}; Ctrl-C to stop")
    with RunReporter(names, db=db):
        asyncio.run(_serve_until_stopped(runner))
    note("stopped; schedules paused until the next `newsflow serve`")


async def _serve_until_stopped(runner: Any) -> None:
    """Run ``runner`` until the first Ctrl-C, which stops it the way Prefect means it to:
    polling ends, runs in flight are cancelled (each records ``cancelled`` in
    ``pipeline_runs``), schedules are paused. Prefect's own ``serve`` leaves the first Ctrl-C
    to asyncio, whose cancellation the runner can absorb while it waits on a run's process,
    and keeps serving; a second Ctrl-C here is the usual KeyboardInterrupt (the CLI's one
    line, exit 130)."""
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []
    # The terminal sends Ctrl-C to the whole process group, the runs' processes included; a
    # run interrupted there dies mid-statement ("Query interrupted") and records "failed".
    # So the runs never see it: the thread that starts them blocks SIGINT, which they
    # inherit, while this process still receives it in its other threads (the receiver
    # below at least) and stops them itself (SIGTERM: the run records "cancelled").
    receiver = threading.Thread(target=threading.Event().wait, name="newsflow-sigint", daemon=True)
    receiver.start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    def stop() -> None:
        loop.remove_signal_handler(signal.SIGINT)  # a second Ctrl-C interrupts for real
        note("stopping: cancelling runs in flight (Ctrl-C again to quit at once)")
        stopping.append(loop.create_task(runner.astop()))

    loop.add_signal_handler(signal.SIGINT, stop)
    await runner.start()
    for task in stopping:
        await task


# -- the command -----------------------------------------------------------------------------


def add_commands(sub: Any) -> None:
    """Register ``newsflow serve`` on the CLI's subparsers."""
    parser = sub.add_parser(
        "serve",
        help="long-running: run the deployments on their schedules (Prefect serve)",
        description=(
            "Serve newsflow's deployments: ingest every 15 minutes (or --cron / --interval-s), "
            "table checks hourly, reprocess on demand. Uses the Prefect server named by "
            "PREFECT_API_URL, or starts one on 127.0.0.1. Stop with Ctrl-C."
        ),
    )
    add_config_and_db(parser)
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--interval-s", type=_positive_seconds, metavar="N", help="run the ingest every N seconds"
    )
    when.add_argument(
        "--cron", metavar="EXPR", help=f'cron schedule of the ingest (default: "{INGEST_CRON}")'
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help=f"serve the bundled demo site and ingest it (every {DEMO_INTERVAL_S:g} s by default)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"with --demo: loopback port of the demo site (default: {DEMO_PORT})",
    )
    parser.add_argument(
        "--api-port",
        type=int,
        default=4200,
        help="port of the Prefect server started when PREFECT_API_URL is not set "
        "(default: %(default)s)",
    )
    parser.set_defaults(handler=serve_command)


def serve_command(args: argparse.Namespace) -> int:
    """``newsflow serve`` (a Prefect server that cannot start is reported by the CLI, exit 3)."""
    from newsflow.ops.prefect_server import prefect_api
    from newsflow.schemas.config import find_config_path, load_config

    if args.cron is not None:
        check_cron(args.cron)
    with ExitStack() as stack:
        if args.demo:
            if args.config:
                error("--demo serves its own config; leave out --config")
                return EXIT_BAD_CONFIG
            config_path, db = _start_demo(args, stack)
            warehouse = db
            interval_s = args.interval_s
            if interval_s is None and args.cron is None:
                interval_s = DEMO_INTERVAL_S
        else:
            found = find_config_path(args.config)
            if found is None:
                error(
                    "no config file: give --config PATH, set NEWSFLOW_CONFIG or create "
                    "./newsflow.toml (or try `newsflow serve --demo`)"
                )
                return EXIT_BAD_CONFIG
            config = load_config(found)  # fail now, not at the first scheduled run
            if not config.sources:
                error(f"{found}: no [[sources]] configured; nothing to ingest")
                return EXIT_BAD_CONFIG
            config_path = str(found.expanduser().resolve())
            db = str(Path(args.db).expanduser().resolve()) if args.db else None
            interval_s = args.interval_s
            warehouse = db or str(Path(config.warehouse.path).expanduser().resolve())

        deployments = build_deployments(
            config_path=config_path, db=db, interval_s=interval_s, cron=args.cron
        )
        api = stack.enter_context(prefect_api(args.api_port, note=note))
        every = (
            f"every {interval_s:g} s"
            if interval_s is not None
            else f'cron "{args.cron or INGEST_CRON}"'
        )
        note(f"Prefect API {api.url}; ingest {every}; config {config_path}")
        note(
            f"trigger a run now with: PREFECT_API_URL={api.url} prefect deployment run "
            f"{deployments[0].flow_name}/{deployments[0].name}"
        )
        serve_deployments(deployments, db=warehouse)
    return EXIT_OK


def _start_demo(args: argparse.Namespace, stack: ExitStack) -> tuple[str, str]:
    """Start the demo site and write the config its scheduled runs read."""
    from newsflow.demo.config import demo_config, saved_config_path
    from newsflow.demo.server import start_demo_site_on
    from newsflow.schemas.config_toml import write_config

    site = start_demo_site_on(DEMO_PORT if args.port is None else args.port, note=note)
    stack.callback(site.stop)
    db = Path(args.db or "newsflow.duckdb").expanduser().resolve()
    config_file = write_config(demo_config(site.base_url, db=str(db)), saved_config_path(db))
    note(f"demo site at {site.base_url}; warehouse {db}")
    return str(config_file), str(db)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value
