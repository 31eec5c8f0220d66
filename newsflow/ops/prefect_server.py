"""The Prefect API a newsflow command talks to: the configured one, or one started here.

Schedules need a real Prefect server: the server's scheduler service turns a deployment's cron
or interval into scheduled flow runs, and the temporary API Prefect starts for a lone process
runs no services at all, so a deployment served against it never runs. When ``PREFECT_API_URL``
names a server, that server is used; otherwise :func:`prefect_api` (for ``newsflow serve``)
starts ``prefect server start`` on a loopback port (its SQLite database lives in
``$PREFECT_HOME``, so run history survives restarts) and stops it on exit.

One-off commands (``newsflow run``, ``demo``, ``check``, ``reprocess``) need no scheduler, only
an API to report to: :func:`temporary_api` gives them one. Starting a server costs far more
than most runs (30-45 s on a small machine, a 3 s run took 30 s), so by default the first
command starts a *local server* in the background, one per ``$PREFECT_HOME`` (the same server
application Prefect would start for a lone process, services off), and later commands reuse it
(:func:`shared_api`). A small supervisor process owns it and stops it after an idle timeout
(``NEWSFLOW_SERVER_IDLE_MIN``, default 30) or on ``newsflow server stop``. Every command that
uses it holds a shared ``flock`` on a file in ``$PREFECT_HOME`` for as long as it does, so the
supervisor never stops a server under a running command, and a command killed with ``-9``
releases its hold with its last breath (the kernel drops the lock). Nothing else of a command
outlives it: the server is deliberate, bounded by its idle timeout and shown by
``newsflow server status``. ``NEWSFLOW_PREFECT_SERVER=temporary`` gives the old behaviour: a
server of the command's own, stopped with it (and killed with it, see :func:`_die_with_parent`).

Both go through one launcher, :func:`_local_server`: choose a port, start the process, wait
until it answers, point this process's clients at it, stop it on exit. What they say while
doing so goes to a ``note`` callback (the CLI prints it; the default says nothing).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import requests

STARTUP_TIMEOUT_S = 180.0  # a first start migrates a new database: slow on a busy disk
_BIND_FAILED = 3  # uvicorn's exit code when its port is taken
_LAUNCH_ATTEMPTS = 3
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

MODE_ENV = "NEWSFLOW_PREFECT_SERVER"  # "shared" (default) or "temporary"
IDLE_ENV = "NEWSFLOW_SERVER_IDLE_MIN"  # minutes the shared server waits unused before stopping
DEFAULT_IDLE_MIN = 30.0
TEMPORARY_LOG = "newsflow-temporary-server.log"
SHARED_LOG = "newsflow-local-server.log"
STATE_FILE = "newsflow-local-server.json"  # url, pids, started_at, idle timeout of the server
START_LOCK = "newsflow-local-server.lock"  # held to start, reuse or stop it: one at a time
USERS_LOCK = "newsflow-local-server.users"  # shared-locked by every command using it
_SUPERVISOR = b"newsflow.ops.prefect_server"  # in the supervisor's command line


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
def temporary_api(*, note: Callable[[str], None] = _quiet) -> Iterator[str]:
    """The API a one-off command reports to: ``PREFECT_API_URL`` when set, else the local
    server shared by one-off commands (:func:`shared_api`), else (``NEWSFLOW_PREFECT_SERVER=
    temporary``) a server of the command's own (:func:`own_temporary_api`). The local
    servers take no writer slot: they have no lease service that would give back a slot a
    killed command held, so DuckDB's lock guards these runs (tasks/warehouse/writer.py)."""
    # The writer module loads DuckDB; only a command that runs a flow needs it (and comes here).
    from newsflow.tasks.warehouse.writer import TEMPORARY_API_ENV

    configured = _configured_url()
    if configured:
        yield configured
        return
    chosen = server_mode()
    local = shared_api(note=note) if chosen == "shared" else own_temporary_api()
    with local as url:
        os.environ[TEMPORARY_API_ENV] = url
        try:
            yield url
        finally:
            os.environ.pop(TEMPORARY_API_ENV, None)


def server_mode() -> str:
    """``shared`` (the default) or ``temporary``, from ``NEWSFLOW_PREFECT_SERVER``."""
    value = os.environ.get(MODE_ENV, "shared").strip().lower() or "shared"
    if value not in ("shared", "temporary"):
        raise ServerStartError(f"{MODE_ENV}={value!r}: expected 'shared' or 'temporary'")
    return value


@contextmanager
def own_temporary_api() -> Iterator[str]:
    """Prefect's temporary API server for one command, stopped when the command ends.

    Prefect starts this very server (its FastAPI app, services off, in a subprocess) when a
    flow runs with no API configured, but to launch it the client imports the whole server
    application (FastAPI, the SQLAlchemy models, the PostgreSQL driver, the task queue) into
    the run's process: about 60 MB of RSS that a run then carries to its end for nothing.
    Started from here the server's code stays in the server's process; the database, the
    settings and the lifetime (until the command ends) are Prefect's own."""
    with _local_server(
        0,
        _log_file(TEMPORARY_LOG),
        temporary=True,
        timeout_s=_startup_timeout_s(),
        poll_s=0.1,
        grace_s=5.0,
    ) as url:
        yield url


def _startup_timeout_s() -> float:
    return float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))


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


# -- the local server one-off commands share ---------------------------------------------------


@dataclass(frozen=True)
class LocalServer:
    """The shared local server as its state file describes it."""

    home: Path  # the $PREFECT_HOME it belongs to (its database and files live there)
    url: str
    pid: int  # the supervisor: stop this one, it stops the server
    server_pid: int
    started_at: float  # epoch seconds
    idle_timeout_s: float
    log_file: Path

    def in_use(self) -> bool:
        """True while a command holds the users lock (is running against it)."""
        with open(self.home / USERS_LOCK, "a+b") as users:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(users, fcntl.LOCK_UN)
        return False

    def idle_s(self) -> float:
        """Seconds since the last command using it finished (or since it started)."""
        try:
            last = (self.home / USERS_LOCK).stat().st_mtime
        except OSError:
            last = self.started_at
        return max(0.0, time.time() - max(last, self.started_at))


class ServerInUse(RuntimeError):
    """``newsflow server stop`` while a command runs against the server (``--force`` stops it
    all the same, and that command's run fails)."""


def idle_timeout_s() -> float:
    """``NEWSFLOW_SERVER_IDLE_MIN`` (minutes, default 30) in seconds."""
    raw = os.environ.get(IDLE_ENV, "").strip()
    try:
        minutes = float(raw) if raw else DEFAULT_IDLE_MIN
    except ValueError:
        raise ServerStartError(f"{IDLE_ENV}={raw!r}: expected a number of minutes") from None
    if not minutes > 0:
        raise ServerStartError(f"{IDLE_ENV}={raw!r}: must be more than 0 minutes")
    return minutes * 60


def prefect_home() -> Path:
    """``$PREFECT_HOME`` as Prefect resolves it (profiles included), created if needed."""
    return _log_file(STATE_FILE).parent


@contextmanager
def shared_api(*, note: Callable[[str], None] = _quiet) -> Iterator[str]:
    """The local server of this ``$PREFECT_HOME``, started in the background if none answers,
    with this process's clients pointed at it. While the block runs, this process holds the
    users lock, so the server is not stopped under it; on the way out the lock's file is
    touched (the idle clock starts again) and released. A kill releases it too."""
    home = prefect_home()
    users = open(home / USERS_LOCK, "a+b")  # noqa: SIM115 (held across the yield)
    try:
        with _start_lock(home, note=note):
            server = _running_server(home, note=note) or _start_shared(home, note=note)
            fcntl.flock(users, fcntl.LOCK_SH)  # before the start lock goes: no stop in between
        with _client_settings(server.url):
            try:
                yield server.url
            finally:
                flush_api_logs()
    finally:
        with suppress(OSError):
            os.utime(users.fileno())
        users.close()


def local_server(home: Path | None = None) -> LocalServer | None:
    """The shared local server of ``home`` (default: ``$PREFECT_HOME``) if one is running."""
    home = home or prefect_home()
    state = _read_state(home)
    if not state or state.get("status") != "ready" or not _alive(int(state["pid"])):
        return None
    return _server_of(home, state)


def stop_local_server(*, force: bool = False, home: Path | None = None) -> LocalServer | None:
    """Stop the shared local server (the one that was running, or None if none was).
    ServerInUse when a command runs against it, unless ``force``."""
    home = home or prefect_home()
    with _start_lock(home):
        state = _read_state(home)
        if not state or not _alive(int(state.get("pid", 0))):
            _remove(home / STATE_FILE)
            return None
        server = _server_of(home, state)
        if server.in_use() and not force:
            raise ServerInUse(
                f"the local Prefect server at {server.url} is in use by a running newsflow "
                "command; stop that first, or use --force (its run then fails)"
            )
        _terminate_supervisor(server)
        _remove(home / STATE_FILE)
    return server


def _server_of(home: Path, state: dict[str, object]) -> LocalServer:
    return LocalServer(
        home=home,
        url=str(state.get("url", "")),
        pid=int(state.get("pid", 0)),  # type: ignore[call-overload]
        server_pid=int(state.get("server_pid", 0)),  # type: ignore[call-overload]
        started_at=float(state.get("started_at", 0.0)),  # type: ignore[arg-type]
        idle_timeout_s=float(state.get("idle_timeout_s", 0.0)),  # type: ignore[arg-type]
        log_file=Path(str(state.get("log", home / SHARED_LOG))),
    )


@contextmanager
def _start_lock(home: Path, *, note: Callable[[str], None] = _quiet) -> Iterator[None]:
    """The lock under which the server is looked at, started or stopped: one at a time, so two
    commands starting at once get one server. Bounded: a holder never takes longer than a
    server start."""
    with open(home / START_LOCK, "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            note("waiting for another newsflow command that is starting the local Prefect server")
            deadline = time.monotonic() + _startup_timeout_s() + 60
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ServerStartError(
                            f"another command has held {home / START_LOCK} for too long"
                        ) from None
                    time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _running_server(home: Path, *, note: Callable[[str], None]) -> LocalServer | None:
    """The server to reuse, under the start lock: ready and healthy, or still starting for a
    command that was killed while waiting for it (then waited for). A server that stopped
    answering is stopped, and None returned (a new one is started)."""
    state = _read_state(home)
    if not state:
        return None
    pid = int(state.get("pid", 0))  # type: ignore[call-overload]
    if not _alive(pid):
        _remove(home / STATE_FILE)
        return None
    if state.get("status") == "starting":
        note("waiting for the local Prefect server another command started")
        return _wait_ready(home, note=note)
    server = _server_of(home, state)
    if state.get("status") == "ready" and (healthy(server.url) or healthy(server.url, 10.0)):
        return server
    _terminate_supervisor(server)
    _remove(home / STATE_FILE)
    return None


def _start_shared(home: Path, *, note: Callable[[str], None]) -> LocalServer:
    """Launch the supervisor (which forks away at once, so it is no child of this command) and
    wait until the server it starts answers."""
    log_file = home / SHARED_LOG
    idle = idle_timeout_s()
    note(
        "starting a local Prefect server for one-off commands (the first command here pays "
        f"for it, later ones reuse it; it stops after {idle / 60:g} min unused or with "
        f"`newsflow server stop`; log {log_file})"
    )
    _remove(home / STATE_FILE)
    env = dict(os.environ, PREFECT_HOME=str(home))
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "newsflow.ops.prefect_server", "supervise"]
    command += [str(home), repr(idle), repr(_startup_timeout_s())]
    with open(log_file, "ab") as log:
        launcher = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # no Ctrl-C of the command's terminal reaches it
        )
    launcher.wait(timeout=60)  # it forks the supervisor and exits
    return _wait_ready(home, note=note)


def _wait_ready(home: Path, *, note: Callable[[str], None]) -> LocalServer:
    """Wait for the supervisor's state file to say ``ready`` (or ``failed``), saying every 15 s
    that it is still starting."""
    timeout_s = _startup_timeout_s() + 30  # the supervisor's own imports on top
    started = time.monotonic()
    told = started
    while True:
        state = _read_state(home)
        if state and state.get("status") == "ready":
            server = _server_of(home, state)
            if healthy(server.url):
                return server
        if state and state.get("status") == "failed":
            _remove(home / STATE_FILE)
            raise ServerStartError(str(state.get("error", "the local Prefect server failed")))
        if state and not _alive(int(state.get("pid", 0))):  # type: ignore[call-overload]
            _remove(home / STATE_FILE)
            raise ServerStartError(
                f"the local Prefect server exited before answering; see {home / SHARED_LOG}"
            )
        now = time.monotonic()
        if now - started > timeout_s:
            if state:
                _terminate_supervisor(_server_of(home, state))
            _remove(home / STATE_FILE)
            raise ServerStartError(
                f"the local Prefect server did not start within {timeout_s:g} s; "
                f"see {home / SHARED_LOG}"
            )
        if now - told >= 15:
            told = now
            note(f"still starting the local Prefect server ({now - started:.0f} s)")
        time.sleep(0.1)


def _terminate_supervisor(server: LocalServer, grace_s: float = 20.0) -> None:
    """SIGTERM to the supervisor (it stops its server), then SIGKILL to both if needed."""
    if _alive(server.pid):
        with suppress(ProcessLookupError, PermissionError):
            os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s

    def running() -> list[int]:
        ours = ((server.pid, _SUPERVISOR), (server.server_pid, b"uvicorn"))
        return [pid for pid, marker in ours if _alive(pid, marker)]

    while time.monotonic() < deadline and running():
        time.sleep(0.1)
    for pid in running():
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int, marker: bytes = _SUPERVISOR) -> bool:
    """True if ``pid`` runs and is ours: its command line holds ``marker`` (the supervisor's
    module, or ``uvicorn`` for the server), so a pid the system reused for another process
    after a crash is never signalled. A zombie waiting for its reaper does not count."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return not Path("/proc/self").exists()  # no /proc: the signal test is all there is
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and marker in cmdline


def _read_state(home: Path) -> dict[str, object] | None:
    try:
        data = json.loads((home / STATE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_state(home: Path, **state: object) -> None:
    target = home / STATE_FILE
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, target)  # readers never see half a file


def _remove(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()


def _supervise(home: Path, idle_s: float, timeout_s: float) -> int:
    """The supervisor: fork away from the launching command, start the server, record it,
    and stop it once nobody has used it for ``idle_s`` (or on SIGTERM, or when its home is
    deleted). Its exit removes the state file if it is still its own."""
    if os.fork() > 0:
        os._exit(0)  # the launcher: the command reaps it at once
    me = os.getpid()
    log_file = home / SHARED_LOG

    def terminate(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    common = {"pid": me, "idle_timeout_s": idle_s, "log": str(log_file)}
    _write_state(home, status="starting", **common)
    process: subprocess.Popen[bytes] | None = None
    try:
        for attempt in range(_LAUNCH_ATTEMPTS):
            port = free_port(0)
            url = _url(port)
            with open(log_file, "ab") as log:
                process = _launch(port, log, temporary=True)
            try:
                wait_healthy(url, process, log_file, timeout_s, poll_s=0.1)
                break
            except ServerStartError as exc:
                stop_process(process)
                if attempt == _LAUNCH_ATTEMPTS - 1 or process.returncode != _BIND_FAILED:
                    _write_state(home, status="failed", error=str(exc), **common)
                    return 1
        assert process is not None
        started = time.time()
        (home / USERS_LOCK).touch()
        _write_state(
            home, status="ready", url=url, server_pid=process.pid, started_at=started, **common
        )
        poll_s = min(5.0, max(0.2, idle_s / 20))
        while process.poll() is None and home.is_dir():
            time.sleep(poll_s)
            if _idle_expired(home, idle_s, me):
                break
        return 0
    finally:
        state = _read_state(home) if home.is_dir() else None
        if state and state.get("pid") == me and state.get("status") != "failed":
            _remove(home / STATE_FILE)
        if process is not None:
            stop_process(process, grace_s=10.0)


def _idle_expired(home: Path, idle_s: float, me: int) -> bool:
    """True (and the state file gone) when no command has used the server for ``idle_s``.
    Decided under the start lock, so no command is between finding the server and taking
    the users lock; skipped this round when either lock is held."""
    with open(home / START_LOCK, "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        with open(home / USERS_LOCK, "a+b") as users:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # in use
            if time.time() - os.fstat(users.fileno()).st_mtime < idle_s:
                return False
            state = _read_state(home)
            if state and state.get("pid") == me:
                _remove(home / STATE_FILE)
            return True


if __name__ == "__main__":  # python -m newsflow.ops.prefect_server supervise HOME IDLE_S TIMEOUT_S
    if len(sys.argv) == 5 and sys.argv[1] == "supervise":
        raise SystemExit(_supervise(Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))
    raise SystemExit("usage: python -m newsflow.ops.prefect_server supervise HOME IDLE_S TIMEOUT_S")
