"""``newsflow server status`` and ``newsflow server stop``: the local Prefect server one-off
commands share (started by the first of them, see :mod:`newsflow.ops.prefect_server`).

The server is deliberate (it saves each later command the 30-45 s a start costs) and bounded
(it stops itself after ``NEWSFLOW_SERVER_IDLE_MIN`` minutes unused); these commands show it and
stop it now. ``newsflow serve`` starts a server of its own (with a scheduler), not this one.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from newsflow.cli.output import EXIT_OK, error, note

EXIT_IN_USE = 1  # `server stop` without --force while a command runs against the server


def add_commands(sub: Any) -> None:
    """Register ``newsflow server status|stop`` on the CLI's subparsers."""
    parser = sub.add_parser(
        "server",
        help="the local Prefect server one-off commands share: status, stop",
        description="The local Prefect server the first one-off command (run, demo, check, "
        "reprocess) starts in the background and later ones reuse; it stops after "
        "$NEWSFLOW_SERVER_IDLE_MIN minutes unused (default 30).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="is it running, where, idle for how long")
    status.set_defaults(handler=status_command)
    stop = actions.add_parser("stop", help="stop it now")
    stop.add_argument(
        "--force", action="store_true", help="stop it even while a command runs against it"
    )
    stop.set_defaults(handler=stop_command)


def status_command(_args: argparse.Namespace) -> int:
    """One line: running (where, since when, idle or in use, when it stops) or not."""
    from newsflow.ops.prefect_server import local_server, prefect_home

    server = local_server()
    if server is None:
        print(f"no local Prefect server running for {prefect_home()}")
        return EXIT_OK
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(server.started_at))
    if server.in_use():
        use = "in use by a newsflow command"
    else:
        idle, limit = server.idle_s() / 60, server.idle_timeout_s / 60
        use = f"idle {idle:.0f} min, stops after {limit:g} min idle"
    print(
        f"local Prefect server at {server.url} (pid {server.pid}, server pid "
        f"{server.server_pid}), started {started}, {use}; home {server.home}, "
        f"log {server.log_file}"
    )
    return EXIT_OK


def stop_command(args: argparse.Namespace) -> int:
    """Stop it (exit 0, also when none ran); exit 1 when a command is using it, without
    ``--force``."""
    from newsflow.ops.prefect_server import ServerInUse, prefect_home, stop_local_server

    try:
        server = stop_local_server(force=args.force)
    except ServerInUse as exc:
        error(str(exc))
        return EXIT_IN_USE
    if server is None:
        note(f"no local Prefect server running for {prefect_home()}")
    else:
        note(f"stopped the local Prefect server at {server.url}")
    return EXIT_OK
