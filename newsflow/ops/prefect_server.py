"""The Prefect API a newsflow command talks to: the configured one, or one started here.

Schedules need a real Prefect server: the server's scheduler service turns a deployment's cron
or interval into scheduled flow runs, and the temporary API Prefect starts for a lone process
runs no services at all, so a deployment served against it never runs. When ``PREFECT_API_URL``
names a server, that server is used; otherwise :func:`prefect_api` (for ``newsflow serve``)
starts ``prefect server start`` on a loopback port (its SQLite database lives in
``$PREFECT_HOME``, so run history survives restarts) and stops it on exit.

One-off commands (``newsflow run``, ``demo``, ``check``, ``reprocess``) need no scheduler:
:func:`temporary_api` starts the same temporary API server Prefect would start for them, but
from here, so the command's own process never imports the server application (see there).

Both go through one launcher, :func:`_local_server`: choose a port, start the process, wait
until it answers, point this process's clients at it, stop it on exit. What they say while
doing so goes to a ``note`` callback (the CLI prints it; the default says nothing).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

STARTUP_TIMEOUT_S = 180.0  # a first start migrates a new database: slow on a busy disk
_BIND_FAILED = 3  # uvicorn's exit code when its port is taken
_LAUNCH_ATTEMPTS = 3
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _quiet(_message: str) -> None:
    """The default ``note``: library callers are told nothing."""


@dataclass(frozen=True)
class PrefectApi:
    url: str  # e.g. http://127.0.0.1:4200/api
    log_file: Path | None = None


class ServerStartError(RuntimeError):
    """No Prefect server to serve against: the configured one does not answer, or the local one
    did not come up (the message says where its log is)."""


def healthy(api_url: str, timeout_s: float = 2.0) -> bool:
    """True if a Prefect API answers at ``api_url``."""
    try:
        return requests.get(f"{api_url.rstrip('/')}/health", timeout=timeout_s).status_code == 200
    except requests.RequestException:
        return False


def reachable(api_url: str, timeout_s: float = 5.0) -> bool:
    """True if anything answers HTTP at ``api_url`` (a server behind auth answers 401)."""
    try:
        requests.get(f"{api_url.rstrip('/')}/health", timeout=timeout_s)
    except requests.RequestException:
        return False
    return True


def free_port(preferred: int = 0, host: str = "127.0.0.1") -> int:
    """``preferred`` if it can be bound on ``host`` now, otherwise any free port (0: any).

    Bound with ``SO_REUSEADDR`` as the server will bind it, so a port in TIME_WAIT counts as
    free. Another process may still take it before the server binds: :func:`_local_server`
    chooses again when that happens.
    """
    for port in dict.fromkeys((preferred, 0)):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError(f"no free port on {host}")


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api"


def _configured_url() -> str | None:
    from prefect.settings import get_current_settings

    configured = get_current_settings().api.url
    return str(configured) if configured else None


def _log_file(name: str) -> Path:
    """``$PREFECT_HOME/name``, the folder created if needed."""
    from prefect.settings import get_current_settings

    home = Path(get_current_settings().home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home / name


@contextmanager
def prefect_api(port: int = 4200, *, note: Callable[[str], None] = _quiet) -> Iterator[PrefectApi]:
    """The Prefect API every client in this process (and its subprocesses) talks to, with the
    scheduler ``newsflow serve`` needs: the configured server, one already answering on
    ``port``, or ``prefect server start`` on ``port`` (another free port if it is taken)."""
    configured = _configured_url()
    if configured:
        if not reachable(configured):
            raise ServerStartError(f"PREFECT_API_URL={configured} does not answer")
        yield PrefectApi(url=configured)
        return

    url = _url(port)
    if healthy(url):
        note(f"using the Prefect server already running at {url}")
        with _client_settings(url):
            yield PrefectApi(url=url)
        return

    log_file = _log_file("newsflow-server.log")

    def starting(url: str) -> None:
        note(
            f"starting a Prefect server at {url} (database in {log_file.parent}, log in {log_file})"
        )

    with _local_server(
        port, log_file, temporary=False, timeout_s=STARTUP_TIMEOUT_S, announce=starting
    ) as started:
        yield PrefectApi(url=started, log_file=log_file)


@contextmanager
def temporary_api() -> Iterator[str]:
    """Prefect's temporary API server for one command, unless ``PREFECT_API_URL`` names one.

    Prefect starts this very server (its FastAPI app, services off, in a subprocess) when a
    flow runs with no API configured, but to launch it the client imports the whole server
    application (FastAPI, the SQLAlchemy models, the PostgreSQL driver, the task queue) into
    the run's process: about 60 MB of RSS that a run then carries to its end for nothing.
    Started from here the server's code stays in the server's process; the database, the
    settings and the lifetime (until the command ends) are Prefect's own."""
    # The writer module loads DuckDB; only a command that runs a flow needs it (and comes here).
    from newsflow.tasks.warehouse.writer import TEMPORARY_API_ENV

    configured = _configured_url()
    if configured:
        yield configured
        return
    timeout_s = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    with _local_server(
        0,
        _log_file("newsflow-temporary-server.log"),
        temporary=True,
        timeout_s=timeout_s,
        poll_s=0.1,
        grace_s=5.0,
    ) as url:
        # The writer guard takes no Prefect slot on a server without lease services: DuckDB's
        # lock guards these runs (tasks/warehouse/writer.py).
        os.environ[TEMPORARY_API_ENV] = url
        try:
            yield url
        finally:
            os.environ.pop(TEMPORARY_API_ENV, None)


@contextmanager
def _local_server(
    port: int,
    log_file: Path,
    *,
    temporary: bool,
    timeout_s: float,
    poll_s: float = 0.5,
    grace_s: float = 15.0,
    announce: Callable[[str], None] = _quiet,
) -> Iterator[str]:
    """A Prefect API server on 127.0.0.1 (``port``, or any free one if it is taken), healthy,
    with this process and the processes it starts pointed at it; stopped on exit.

    A port taken between choosing and binding makes the server exit before answering: choose
    again, up to three times in all."""
    for attempt in range(_LAUNCH_ATTEMPTS):
        chosen = free_port(port)
        url = _url(chosen)
        announce(url)
        with open(log_file, "ab") as log:
            process = _launch(chosen, log, temporary=temporary)
        try:
            wait_healthy(url, process, log_file, timeout_s, poll_s=poll_s)
        except ServerStartError:
            stop_process(process)
            if attempt == _LAUNCH_ATTEMPTS - 1 or process.returncode != _BIND_FAILED:
                raise
            continue
        try:
            with _client_settings(url):
                try:
                    yield url
                finally:
                    flush_api_logs()
        finally:
            stop_process(process, grace_s=grace_s)
        return


def flush_api_logs() -> None:
    """Send the flow-run logs still queued for the API while the server is there to take them.

    Prefect ships logs to the API from a background worker that is drained only at interpreter
    exit; by then a server this process started is gone, and each batch left prints ``---
    Error logging to API --- All connection attempts failed`` and a traceback on stderr. So
    the worker is drained here, before the server stops (bounded: 5 s)."""
    if "prefect.logging.handlers" not in sys.modules:
        return  # nothing was ever logged through Prefect in this process
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)


def _launch(port: int, log: object, *, temporary: bool) -> subprocess.Popen[bytes]:
    """Start the server process on 127.0.0.1:``port`` in the background, output to ``log``.

    ``temporary``: the command Prefect's ``SubprocessASGIServer`` runs, with the same
    environment (services off, no UI). Otherwise ``prefect server start``, whose services
    include the scheduler, with slot leases on disk instead of in memory: a slot held when the
    server stops is reclaimed when its lease expires after a restart, instead of staying taken
    for good.
    """
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    if temporary:
        import importlib.util

        spec = importlib.util.find_spec("prefect")
        assert spec is not None and spec.origin is not None
        env.update(PREFECT_UI_ENABLED="0", PREFECT__SERVER_EPHEMERAL="1", PREFECT__SERVER_FINAL="1")
        site = str(Path(spec.origin).parent.parent)
        app = "prefect.server.api.server:create_app"
        command = [sys.executable, "-m", "uvicorn", "--app-dir", site, "--factory", app]
        command += ["--log-level", "error", "--lifespan", "on"]
    else:
        env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        env.setdefault(
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE",
            "prefect.server.concurrency.lease_storage.filesystem",
        )
        command = [sys.executable, "-m", "prefect", "server", "start"]
    return subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,  # type: ignore[arg-type]
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # a Ctrl-C reaches the command first; it stops the server
        preexec_fn=_die_with_parent(os.getpid()),
    )


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """What the server's process runs before ``exec``: on Linux, ask for SIGTERM when its
    parent dies (``prctl(PR_SET_PDEATHSIG)``), so a ``newsflow`` command killed with ``-9``
    takes its server with it instead of leaving an orphan (~200 MB and a port) behind.

    The kernel sends that signal when the *thread* that forked the child ends, not the
    process: the server is started from the command's main thread (:func:`temporary_api`,
    :func:`prefect_api`), which lives as long as the command. A parent already gone by the
    time the child asks (the kill came between fork and ``prctl``) is checked for after
    asking. Elsewhere (no ``prctl``) None: the server is then stopped only when the command
    ends normally, on Ctrl-C or on SIGTERM."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def ask() -> None:  # runs in the child between fork and exec: no allocation-heavy work
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return ask


def wait_healthy(
    api_url: str,
    process: subprocess.Popen[bytes],
    log_file: Path | None,
    timeout_s: float,
    poll_s: float = 0.5,
) -> None:
    """Return once ``api_url`` answers; ServerStartError if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if healthy(api_url):
            return
        if process.poll() is not None:
            raise ServerStartError(
                f"the Prefect server exited with code {process.returncode} before answering"
                + (f"; see {log_file}" if log_file else "")
            )
        time.sleep(poll_s)
    raise ServerStartError(
        f"the Prefect server did not answer at {api_url} within {timeout_s:g} s"
        + (f"; see {log_file}" if log_file else "")
    )


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """Terminate, then kill if it has not gone within ``grace_s``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace_s)


@contextmanager
def _client_settings(url: str) -> Iterator[None]:
    """Point this process and every process it starts at ``url``."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
