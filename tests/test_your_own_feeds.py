"""Your own feeds in one command, as the README's "Your own feeds" walks through it, with real
processes: ``newsflow init`` in an empty folder, ``newsflow demo --serve-only`` in the
background, the lines it prints put into the written config, then ``newsflow run``, which loads
the demo's articles; and ``newsflow demo`` saving the config it used, so that ``check`` and
``reprocess`` after it read the same thresholds and pass. Every command runs with no Prefect
API configured, under a ``$PREFECT_HOME`` of the test's own whose local server is stopped at
the end."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from newsflow.demo.server import demo_site_root
from tests.run_helpers import ctrl_c_reaches_it, local_server_env, stop_local_server

MANIFEST = json.loads((demo_site_root() / "manifest.json").read_text())
REAL_TITLES = {m["title"] for m in MANIFEST if m["kind"] in ("article", "wire_copy")}
NEWSFLOW = [sys.executable, "-m", "newsflow.cli.main"]


@pytest.fixture
def home(tmp_path: Path):
    home = tmp_path / "prefect-home"
    yield home
    stop_local_server(home)


def _newsflow(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*NEWSFLOW, *args],
        env=local_server_env(home),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def put_lines_in(config: str, printed: str) -> str:
    """What the README asks of the user: each line printed "under [section]" goes under that
    section's header of the file ``newsflow init`` wrote; the ``[[sources]]`` go at the end."""
    under: dict[str, list[str]] = {}
    tail: list[str] = []
    section = None
    for line in printed.splitlines():
        if m := re.match(r"# under \[(\w+)\]", line):
            section = m[1]
        elif line.startswith("# at the end"):
            section = None
        elif not line.startswith("#"):
            (under.setdefault(section, []) if section else tail).append(line)
    out = []
    for line in config.splitlines():
        out.append(line)
        if m := re.match(r"^\[(\w+)\]$", line):
            out += under.pop(m[1], [])
    assert not under, f"no [{', '.join(under)}] section in the written config"
    return "\n".join([*out, "", *tail]) + "\n"


def test_init_then_demo_serve_only_then_run_loads_the_demo(home, tmp_path, free_port):
    clone = tmp_path / "fresh"
    clone.mkdir()
    init = _newsflow(home, clone, "init")
    assert init.returncode == 0, init.stderr
    site = subprocess.Popen(
        [*NEWSFLOW, "demo", "--serve-only", "--port", str(free_port)],
        env=local_server_env(home),
        cwd=clone,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_reaches_it,
    )
    try:
        printed = []
        for line in site.stdout:
            printed.append(line)
            if line.startswith('language = "en"') and sum("[[sources]]" in p for p in printed) == 3:
                break
        text = "".join(printed)
        assert f'allow_private = ["127.0.0.1:{free_port}"]' in text
        assert f"http://127.0.0.1:{free_port}/harbor-gazette/rss.xml" in text
        config = clone / "newsflow.toml"
        config.write_text(put_lines_in(config.read_text(), text))

        first = _newsflow(home, clone, "run")  # ./newsflow.toml, as the README says
        assert first.returncode == 0, first.stderr[-3000:]
        assert "starting a local Prefect server" in first.stderr
        assert "Traceback" not in first.stderr
        with duckdb.connect(str(clone / "newsflow.duckdb"), read_only=True) as con:
            titles = {t for (t,) in con.execute("SELECT title FROM articles").fetchall()}
        assert titles >= REAL_TITLES

        again = _newsflow(home, clone, "run")  # unchanged feeds, the server reused
        assert again.returncode == 0, again.stderr[-3000:]
        assert "starting a local Prefect server" not in again.stderr
        assert "0 new" in again.stdout
    finally:
        site.send_signal(signal.SIGINT)  # Ctrl-C: one line, exit 0
        try:
            _, err = site.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            site.kill()  # never left behind, even when it ignores Ctrl-C
            site.communicate()
            raise
    assert site.returncode == 0, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "newsflow: demo site stopped"


def test_the_demo_saves_its_config_and_check_and_reprocess_pass_after_it(home, tmp_path, free_port):
    db = tmp_path / "demo" / "news.duckdb"
    demo = _newsflow(home, tmp_path, "demo", "--db", str(db), "--port", str(free_port))
    assert demo.returncode == 0, demo.stderr[-3000:]
    saved = db.with_name("newsflow-demo.toml")
    assert f"config saved to {saved}" in demo.stderr
    for command in (["check"], ["reprocess"]):
        done = _newsflow(home, tmp_path, *command, "--config", str(saved))
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
        assert "Traceback" not in done.stderr
    check = _newsflow(home, tmp_path, "check", "--config", str(saved), "--json")
    assert json.loads(check.stdout)["checks_failed"] == []  # freshness included
