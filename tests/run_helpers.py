"""``newsflow run`` as a real subprocess for the local-fault tests, and the one-line error check
they share (tests/test_local_faults.py, tests/test_disk_full.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from newsflow.demo.config import demo_config
from newsflow.schemas.config_toml import write_config

RUN_TIMEOUT_S = 300


def run_newsflow(
    base: Path, db: str, *, lock_timeout_s: float = 600.0, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess:
    """``newsflow run`` into ``db`` (a feed on a closed port: no stage gets that far), reporting
    to the session's Prefect server. ``prefix`` is put in front of the command line (a wrapper
    that prepares the process's surroundings, such as a mount of its own)."""
    from prefect.settings import PREFECT_API_URL

    config = demo_config("http://127.0.0.1:9", db=db)
    config.warehouse.lock_timeout_s = lock_timeout_s
    config_file = write_config(config, base / "newsflow.toml")
    return subprocess.run(
        [*prefix, sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(config_file)],
        env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())},
        cwd=base,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """The run's single ``newsflow: error:`` line, after checking it exited 3 without a
    traceback and said nothing else as an error."""
    assert done.returncode == 3, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if "newsflow: error:" in line]
    assert len(errors) == 1, done.stderr[-3000:]
    return errors[0]


def local_server_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a one-off command as a user runs it, with no Prefect API configured
    (so it uses the local server shared by one-off commands) under a ``$PREFECT_HOME`` of the
    test's own: no test shares, or leaves, a server of another."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.pop("NEWSFLOW_PREFECT_SERVER", None)
    env.update(PREFECT_HOME=str(home), NO_COLOR="1", **extra)
    return env


def stop_local_server(home: Path) -> None:
    """Fixture teardown: stop the shared local server a test's commands started in ``home``
    (forced: the test is over), so the suite leaves no process behind."""
    from newsflow.ops.prefect_server import stop_local_server as stop

    if home.is_dir():
        stop(force=True, home=home)


def ctrl_c_reaches_it() -> None:
    """``preexec_fn`` of a command a test will Ctrl-C: SIGINT back to its default before
    ``exec``. A test session started in the background by a non-interactive shell inherits
    SIGINT *ignored*, its children too, and Python then installs no KeyboardInterrupt handler:
    the command would never see the Ctrl-C a user's terminal delivers."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
