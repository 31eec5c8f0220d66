"""Interrupted runs lose nothing: ``newsflow run`` in a real subprocess over a loopback corpus,
killed at moments chosen from the outside (how many pages the servers have answered), then run
again with no manual step; ``articles`` (url, content_hash) and ``rejected_articles`` (url) must
equal those of one uninterrupted run of the same corpus.

The corpus: three hosts (127.0.0.1-3), one feed each, 80 entries per feed: most pages are articles,
some "page not found" pages served with 200 (rejected by the row checks: not an article), some
answer 404 (a page error), so all three outcomes are exercised. Every request is slowed a little so
a run lasts long enough to be killed mid-fetch. The runs report to a Prefect server of this module's
own, started without its services (so without the lease service that would reclaim a dead holder's
slot); each warehouse's writer limit is created disabled there, so a killed run's writer slot cannot
stall the rerun and DuckDB's lock is the guard, as for a CLI command on its own temporary server.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest

from newsflow.ops.prefect_server import local_server
from newsflow.tasks.warehouse.warehouse import working_path
from newsflow.tasks.warehouse.writer import writer_limit_name
from tests.run_helpers import ctrl_c_reaches_it, local_server_env, stop_local_server
from tests.servers import LoopbackServer, Response

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
PER_FEED = 80
DELAY_S = 0.03  # per page request
WORDS = [f"w{n:03d}" for n in range(600)]


def _article(host: int, n: int) -> str | None:
    """The page of entry ``n`` on host ``host``: None for a 404, a "page not found" page served
    with 200 for a reject."""
    if n % 20 == 7:
        return None
    rng = random.Random(host * 1000 + n)
    paragraphs = 1 if n % 20 == 13 else 5
    words = 12 if paragraphs == 1 else 35
    body = "".join(
        f"<p>{' '.join(rng.choice(WORDS) for _ in range(words)).capitalize()}.</p>"
        for _ in range(paragraphs)
    )
    title = f"Report {host}-{n}: {' '.join(rng.choice(WORDS) for _ in range(4))}"
    if paragraphs == 1:  # a soft 404: what the quarantine is for
        title = "Page not found"
        body += "<p>Sorry, the page you were looking for does not exist or has been moved.</p>"
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title>"
        f"<meta name='author' content='Writer {n % 7}'>"
        f"<meta property='article:published_time' content='2026-11-30T{n % 24:02d}:00:00Z'>"
        f"</head><body><article><h1>{title}</h1>{body}</article></body></html>"
    )


def _feed(srv: LoopbackServer, host: int) -> str:
    items = "".join(
        f"<item><title>Report {host}-{n}</title><link>{srv.url(f'/a/{n}.html')}</link>"
        f"<guid>{srv.url(f'/a/{n}.html')}</guid>"
        f"<pubDate>Mon, 30 Nov 2026 {n % 24:02d}:00:00 GMT</pubDate></item>"
        for n in range(PER_FEED)
    )
    channel = f"<channel><title>h{host}</title>{items}</channel>"
    return f"<?xml version='1.0'?><rss version='2.0'>{channel}</rss>"


@dataclass
class Corpus:
    servers: list[LoopbackServer]

    def pages_served(self) -> int:
        return sum(1 for s in self.servers for r in s.requests if r.path.startswith("/a/"))

    def reset(self) -> None:
        for s in self.servers:
            s.requests.clear()

    @property
    def total_pages(self) -> int:
        return PER_FEED * len(self.servers)


@pytest.fixture(scope="module")
def corpus() -> Iterator[Corpus]:
    servers = []
    for index, host in enumerate(HOSTS):
        srv = LoopbackServer(host)

        def page(req, host=index):  # noqa: ANN001
            time.sleep(DELAY_S)
            n = int(req.path.rsplit("/", 1)[1].split(".")[0])
            html = _article(host, n)
            return Response(404, b"not here") if html is None else Response(200, html)

        srv.route(
            "/rss.xml",
            lambda _req, srv=srv, host=index: Response(
                200, _feed(srv, host), content_type="application/rss+xml"
            ),
        )
        for n in range(PER_FEED):
            srv.route(f"/a/{n}.html", page)
        srv.start()
        servers.append(srv)
    yield Corpus(servers)
    for srv in servers:
        srv.stop()


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory) -> Iterator[str]:
    """A Prefect server for this module's runs, with the writer limit disabled."""
    home = tmp_path_factory.mktemp("prefect-home")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = open(home / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
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
            "--no-services",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "no Prefect server"
            time.sleep(0.5)
        yield api
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()


def _disable_writer_slot(api: str, db: Path) -> None:
    """Create the warehouse's writer limit disabled on this module's server (see above)."""
    name = writer_limit_name(working_path(db))
    answer = httpx.post(
        f"{api}/v2/concurrency_limits/",
        json={"name": name, "limit": 1, "active": False},
        timeout=10,
    )
    if answer.status_code != 409:  # 409: created by an earlier run of the same warehouse
        answer.raise_for_status()


def _config(tmp: Path, corpus: Corpus) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "host{i}"\nfeed = "{srv.url("/rss.xml")}"\n\n'
        for i, srv in enumerate(corpus.servers)
    )
    path = tmp / "newsflow.toml"
    path.write_text(
        f"""[warehouse]
path = "{tmp / "w.duckdb"}"
lock_timeout_s = 60

[fetch]
allow_private = ["127.0.0.0/8"]
per_host_delay_s = 0
batch_size = 20
retries = 0
respect_robots = false
max_workers = 3

[checks]
freshness_hours = 100000

{sources}"""
    )
    return path


def _start(config: Path, api: str) -> subprocess.Popen:
    _disable_writer_slot(api, config.parent / "w.duckdb")
    return _spawn_run(config, {**os.environ, "PREFECT_API_URL": api, "NO_COLOR": "1"})


def _spawn_run(config: Path, env: dict[str, str]) -> subprocess.Popen:
    """``newsflow run --config … --json`` in its own session (so a kill reaches only it)."""
    newsflow = Path(sys.executable).with_name("newsflow")
    return subprocess.Popen(
        [str(newsflow), "run", "--config", str(config), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=ctrl_c_reaches_it,  # the "sigint" kill point's Ctrl-C must land
    )


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out.decode(), err.decode()


def _wait_for(condition, proc: subprocess.Popen, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 300
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}: {_finish(proc)}"
        assert time.monotonic() < deadline, f"never reached {what}"
        time.sleep(0.02)


def _tables(config: Path) -> tuple[set, set, list]:
    return _tables_of(config.parent / "w.duckdb")


def _tables_of(db: Path) -> tuple[set, set, list]:
    """``articles`` (url, content_hash), ``rejected_articles`` (url), the runs' statuses."""
    with duckdb.connect(str(db), read_only=True) as con:
        articles = set(con.execute("SELECT url, content_hash FROM articles").fetchall())
        rejects = {u for (u,) in con.execute("SELECT url FROM rejected_articles").fetchall()}
        runs = con.execute("SELECT status FROM pipeline_runs ORDER BY started_at").fetchall()
    return articles, rejects, [s for (s,) in runs]


def _archived_pages(config: Path) -> int:
    """Pages the killed run archived (its working file, free now that its process is gone)."""
    work = config.parent / "w.work.duckdb"
    if not work.exists():
        return 0
    with duckdb.connect(str(work), read_only=True) as con:
        return con.execute("SELECT count(*) FROM raw_pages").fetchone()[0]


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture(scope="module")
def clean_config(corpus, tmp_path_factory) -> Path:
    return _config(tmp_path_factory.mktemp("clean"), corpus)


@pytest.fixture(scope="module")
def clean_run(corpus, prefect_api, clean_config) -> tuple[set, set]:
    corpus.reset()
    config = clean_config
    code, out, err = _finish(_start(config, prefect_api))
    assert code == 0, (out, err)
    articles, rejects, _ = _tables(config)
    # All three outcomes are in the corpus: articles, rejects and 404 page errors.
    assert len(articles) > 150 and len(rejects) >= 9
    assert len(articles) + len(rejects) < corpus.total_pages
    return articles, rejects


def _pages_served(count: int | None):  # noqa: ANN202
    """The moment ``count`` pages (None: every page, 404s included) have been served."""

    def reached(corpus: Corpus, _tmp: Path) -> bool:
        return corpus.pages_served() >= (corpus.total_pages if count is None else count)

    return reached


def _checking(corpus: Corpus, tmp: Path) -> bool:
    """After the last batch: every page served and the run's row checks written to its Data
    Docs (the validate stage); the clusters, table checks and publish are still to come."""
    docs = tmp / "w-data-docs"
    return corpus.pages_served() >= corpus.total_pages and docs.exists() and any(docs.rglob("*"))


def _publishing(_corpus: Corpus, tmp: Path) -> bool:
    """During publish: the new snapshot's ``.w.duckdb.<pid>.tmp`` is being written."""
    return any(tmp.glob(".w.duckdb.*.tmp"))


KILLS = {
    # name: (signal, the moment observed from outside, whether the killed run is left running)
    "kill9-fetching": (signal.SIGKILL, _pages_served(100), True),
    "kill9-mid-load": (signal.SIGKILL, _pages_served(None), True),
    "kill9-after-last-batch": (signal.SIGKILL, _checking, True),
    "kill9-publishing": (signal.SIGKILL, _publishing, False),  # its run is recorded by then
    "sigint": (signal.SIGINT, _pages_served(130), False),
    "sigterm": (signal.SIGTERM, _pages_served(170), False),
}


@pytest.mark.parametrize("name", list(KILLS))
def test_an_interrupted_run_then_a_rerun_equal_an_uninterrupted_run(
    name, corpus, prefect_api, clean_run, tmp_path
):
    """One kill point per test, so a failure names its point. The corpus, the Prefect server
    and the clean run are module fixtures: made once per xdist worker that runs any of these."""
    sig, moment, left_running = KILLS[name]
    _kill_then_rerun(
        name, sig, moment, left_running, corpus, prefect_api, clean_run, tmp_path / name
    )


def _kill_then_rerun(name, sig, moment, left_running, corpus, prefect_api, clean_run, tmp) -> None:  # noqa: ANN001
    tmp.mkdir()
    config = _config(tmp, corpus)
    corpus.reset()
    proc = _start(config, prefect_api)
    _wait_for(lambda: moment(corpus, tmp), proc, f"the moment of {name}")
    os.killpg(proc.pid, sig)
    code, out, err = _finish(proc)
    assert code != 0, f"{name}: the run finished before the signal: {out}"
    deadline = time.monotonic() + 30
    while not _group_gone(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group_gone(proc.pid), f"{name}: processes of the killed run are left behind"

    archived = _archived_pages(config)
    corpus.reset()
    code, out, err = _finish(_start(config, prefect_api))
    assert code == 0, (name, out, err)
    articles, rejects, statuses = _tables(config)
    want_articles, want_rejects = clean_run
    assert len(articles) == len(want_articles), name
    assert articles == want_articles, name
    assert rejects == want_rejects, name
    # The snapshot holds what the working file holds, and no publish left a temp file.
    assert _tables_of(tmp / "w.work.duckdb")[:2] == (articles, rejects), name
    # (the spare, the snapshot before this one, is kept on purpose: see snapshot.py)
    leftovers = [p.name for p in tmp.glob(".w.duckdb.*") if p.name != ".w.duckdb.spare"]
    assert not leftovers, (name, leftovers)
    # What the killed run archived is finished from the archive, not fetched again.
    assert corpus.pages_served() == corpus.total_pages - archived, name
    assert "running" not in statuses, (name, statuses)
    if left_running:  # nobody could mark it: the rerun found it left running
        assert statuses[0] == "crashed", (name, statuses)
        assert "crashed" in err, (name, err)
    elif sig in (signal.SIGINT, signal.SIGTERM):  # a person stopped it: it says so
        assert statuses[0] == "cancelled", (name, statuses)
    assert json.loads(out)["status"] == "completed", name


def _reject_rows(config: Path) -> int:
    with duckdb.connect(str(config.parent / "w.duckdb"), read_only=True) as con:
        return con.execute("SELECT count(*) FROM rejected_articles").fetchone()[0]


def test_reprocess_replaces_its_own_rejects(clean_run, clean_config, prefect_api):
    """Each reprocess judges the archived pages again: its rejects replace those of the last
    reprocess instead of adding another full set (the ingest run's stay: its reject rate is
    measured from them)."""
    _, want_rejects = clean_run
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "NO_COLOR": "1"}
    newsflow = Path(sys.executable).with_name("newsflow")
    counts = [_reject_rows(clean_config)]
    for _ in range(2):
        done = subprocess.run(
            [str(newsflow), "reprocess", "--config", str(clean_config)],
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr.decode()
        counts.append(_reject_rows(clean_config))
    ingest_rejects = len(want_rejects)
    assert counts == [ingest_rejects, 2 * ingest_rejects, 2 * ingest_rejects]
    assert _tables(clean_config)[1] == want_rejects


# -- the CLI's own temporary API server dies with the command ----------------------------------


def _children(pid: int) -> list[int]:
    """Every live process whose parent is ``pid`` (from /proc, as ``ps --ppid`` reads it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state, ppid, …
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone: it holds no memory or port)."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _start_on_own_server(config: Path, mode: str) -> subprocess.Popen:
    """``newsflow run`` with no Prefect API configured: it starts a temporary server of its
    own (``mode`` "temporary", the opt-out) or the local server one-off commands share
    ("shared", the default), under a ``$PREFECT_HOME`` of the test's own."""
    env = local_server_env(config.parent / "prefect-home", NEWSFLOW_PREFECT_SERVER=mode)
    return _spawn_run(config, env)


@pytest.mark.parametrize("mode", ["temporary", "shared"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill9", "sigterm"])
def test_the_command_leaves_nothing_of_its_own_behind(sig, mode, corpus, tmp_path):
    """A ``newsflow run`` killed while fetching leaves no process of its own behind: not its
    extraction workers and, with a temporary server of its own, not that server (started in a
    session of its own). The shared local server is no child of the command: it stays, on
    purpose, idle once the command is gone (the killed command's hold on it released by the
    kernel), shown by ``newsflow server status``, and is stopped here. SIGTERM is handled
    like Ctrl-C: one line, exit 143, the run recorded as cancelled, not left running."""
    config = _config(tmp_path, corpus)
    home = config.parent / "prefect-home"
    corpus.reset()
    try:
        proc = _start_on_own_server(config, mode)
        _wait_for(lambda: corpus.pages_served() >= 40, proc, "40 pages served")
        family = _children(proc.pid)
        servers = [pid for pid in family if "uvicorn" in _cmdline(pid)]
        if mode == "temporary":
            assert servers, f"no temporary API server among {[_cmdline(p) for p in family]}"
        else:
            assert not servers, "the shared server is nobody's child"
            shared = local_server(home)
            assert shared is not None and shared.in_use()
        os.kill(proc.pid, sig)  # the command alone, as `kill` does: not its process group
        code, _out, err = _finish(proc)
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [_cmdline(pid) for pid in family if _alive(pid)]
        assert not left, f"left running after {sig.name}: {left}"
        if mode == "shared":
            assert local_server(home) == shared  # still there, and no longer held
            assert not shared.in_use()
        if sig == signal.SIGTERM:
            assert code == 143, err
            assert "Traceback" not in err, err
            assert err.strip().splitlines()[-1].startswith("newsflow: error: terminated"), err
            _, _, statuses = _tables_of(config.parent / "w.work.duckdb")
            assert statuses == ["cancelled"], statuses
        else:
            assert code == -signal.SIGKILL
    finally:
        stop_local_server(home)
