"""A Prefect server for ``newsflow serve`` on a single machine.

Schedules need a real Prefect server: the server's scheduler service turns a deployment's cron
or interval into scheduled flow runs, and the temporary API Prefect starts for a lone process
runs no services at all, so a deployment served against it never runs. When ``PREFECT_API_URL``
names a server, that server is used; otherwise :func:`prefect_api` starts
``prefect server start`` on a loopback port (its SQLite database lives in ``$PREFECT_HOME``, so
run history survives restarts) and stops it on exit.

One-off commands (``newsflow run``, ``demo``, ``check``, ``reprocess``) need no scheduler:
:func:`temporary_api` starts the same temporary API server Prefect would start for them, but
from here, so the command's own process never imports the server application (see there).
"""

from __future__ import annotations

import os
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


@dataclass(frozen=True)
class PrefectApi:
    url: str  # e.g. http://127.0.0.1:4200/api
    started_here: bool
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


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def prefect_api(port: int = 4200, *, note: Callable[[str], None] = print) -> Iterator[PrefectApi]:
    """The Prefect API every client in this process (and its subprocesses) talks to."""
    from prefect.settings import get_current_settings

    configured = get_current_settings().api.url
    if configured:
        if not reachable(str(configured)):
            raise ServerStartError(f"PREFECT_API_URL={configured} does not answer")
        yield PrefectApi(url=str(configured), started_here=False)
        return

    url = f"http://127.0.0.1:{port}/api"
    if healthy(url):
        note(f"using the Prefect server already running at {url}")
        api = PrefectApi(url=url, started_here=False)
        with _client_settings(url):
            yield api
        return

    if not port_is_free(port):
        port = free_port()
        url = f"http://127.0.0.1:{port}/api"
    home = Path(get_current_settings().home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    log_file = home / "newsflow-server.log"
    note(f"starting a Prefect server at {url} (database in {home}, log in {log_file})")
    with open(log_file, "ab") as log:
        process = start_server(port, log)
    try:
        wait_healthy(url, process, log_file, STARTUP_TIMEOUT_S)
        with _client_settings(url):
            yield PrefectApi(url=url, started_here=True, log_file=log_file)
    finally:
        stop_process(process)


@contextmanager
def temporary_api() -> Iterator[str]:
    """Prefect's temporary API server for one command, unless ``PREFECT_API_URL`` names one.

    Prefect starts this very server (its FastAPI app, services off, in a subprocess) when a
    flow runs with no API configured, but to launch it the client imports the whole server
    application (FastAPI, the SQLAlchemy models, the PostgreSQL driver, the task queue) into
    the run's process: about 60 MB of RSS that a run then carries to its end for nothing.
    Started from here the server's code stays in the server's process; the database, the
    settings and the lifetime (until the command ends) are Prefect's own."""
    from prefect.settings import get_current_settings

    configured = get_current_settings().api.url
    if configured:
        yield str(configured)
        return
    home = Path(get_current_settings().home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    log_file = home / "newsflow-temporary-server.log"
    timeout_s = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    for attempt in range(3):  # a port taken between choosing and binding: choose again
        port = free_port()
        url = f"http://127.0.0.1:{port}/api"
        with open(log_file, "ab") as log:
            process = _start_temporary_server(port, log)
        try:
            wait_healthy(url, process, log_file, timeout_s, poll_s=0.1)
        except ServerStartError:
            stop_process(process)
            if attempt == 2 or process.returncode != 3:  # 3: uvicorn could not bind
                raise
            continue
        try:
            with _client_settings(url):
                yield url
        finally:
            stop_process(process, grace_s=5.0)
        return


def _start_temporary_server(port: int, log: object) -> subprocess.Popen[bytes]:
    """The command Prefect's ``SubprocessASGIServer`` runs, with the same environment."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.update(PREFECT_UI_ENABLED="0", PREFECT__SERVER_EPHEMERAL="1", PREFECT__SERVER_FINAL="1")
    site = str(Path(spec.origin).parent.parent)
    app = "prefect.server.api.server:create_app"
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", site, "--factory", app]
        + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "error"]
        + ["--lifespan", "on"],
        stdin=subprocess.DEVNULL,
        stdout=log,  # type: ignore[arg-type]
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # a Ctrl-C reaches this command first; it stops the server
    )


def start_server(
    port: int, log: object, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``prefect server start`` on 127.0.0.1:``port`` in the background, output to ``log``."""
    server_env = dict(os.environ if env is None else env)
    server_env.pop("PREFECT_API_URL", None)
    server_env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Slot leases on disk, not in memory: a slot held when the server stops is reclaimed when
    # its lease expires after a restart, instead of staying taken for good.
    server_env.setdefault(
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE",
        "prefect.server.concurrency.lease_storage.filesystem",
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,  # type: ignore[arg-type]
        stderr=subprocess.STDOUT,
        env=server_env,
        start_new_session=True,  # a Ctrl-C in the terminal reaches us first; we stop it
    )


def wait_healthy(
    api_url: str,
    process: subprocess.Popen[bytes],
    log_file: Path | None,
    timeout_s: float,
    poll_s: float = 0.5,
) -> None:
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
