"""A disk that fills up during a run (after the free-space check at open passed) ends the run
with one line and exit 3, leaves nothing half-written, and the rerun after space is freed
equals an uninterrupted run.

The warehouse lives on a small tmpfs mounted in a mount namespace of its own (``unshare``, as
in tests/test_disk_full.py). One shell in that namespace runs ``newsflow run`` each time the
test says so and reports its exit code, so both runs see the same disk; the test reaches the
disk from outside through ``/proc/<shell pid>/root``, the shell's view of the filesystem.

The disk is filled at a moment the run itself reaches, not after a sleep: the loopback site
fills it while answering the request for the last page (so the last batch's archive and load
meet a full disk), or the alert receiver fills it while receiving the run's alert, which the
run sends just before it finishes its record and publishes.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from newsflow.flows.failure import DiskFullTaskLogs, one_line
from newsflow.tasks.warehouse.warehouse import working_path
from tests.servers import LoopbackServer, Response

PAGES = 60
WORDS = [f"word{n:03d}" for n in range(400)]
DISK_SIZE = "48m"  # above the 16 MiB a run needs free at open

# sh -c script; arguments: tmpfs size, mount point, output folder, then the command. Each line
# "run" on stdin runs the command once (stdout and stderr to runN.out / runN.err in the output
# folder) and answers with its exit code; anything else ends the shell, and the mount with it.
SHELL = """
mount -t tmpfs -o "size=$1" tmpfs "$2" || exit 97
out=$3
shift 3
n=0
echo mounted
while read -r step && [ "$step" = run ]; do
  n=$((n + 1))
  "$@" >"$out/run$n.out" 2>"$out/run$n.err"
  echo "$?"
done
"""


def _page(n: int) -> Response:
    """Entry ``n``'s page: a 404 for every 15th, a "page not found" page served with 200 (a
    reject: not an article) for every 15th after that, else an article."""
    if n % 15 == 4:
        return Response(404, b"not here")
    rng = random.Random(n)
    soft_404 = n % 15 == 9
    body = "".join(f"<p>{' '.join(rng.choice(WORDS) for _ in range(40))}.</p>" for _ in range(5))
    title = f"Dispatch {n}: {' '.join(rng.choice(WORDS) for _ in range(4))}"
    if soft_404:
        title = "Page not found"
        body = "<p>Sorry, the page you were looking for does not exist or has been moved.</p>"
    html = (
        f"<!doctype html><html lang='en'><head><title>{title}</title>"
        f"<meta property='article:published_time' content='2026-11-30T{n % 24:02d}:00:00Z'>"
        f"</head><body><article><h1>{title}</h1>{body}</article></body></html>"
    )
    return Response(200, html)


class Site:
    """The loopback news site and alert receiver; ``on_last_page`` / ``on_alert`` run inside
    the request, before the answer, when armed."""

    def __init__(self) -> None:
        self.server = LoopbackServer()
        self.on_last_page: Callable[[], None] | None = None
        self.on_alert: Callable[[], None] | None = None
        items = "".join(
            f"<item><title>Dispatch {n}</title><link>{self.server.url(f'/a/{n}.html')}</link>"
            f"<guid>{self.server.url(f'/a/{n}.html')}</guid></item>"
            for n in range(PAGES)
        )
        feed = f"<?xml version='1.0'?><rss version='2.0'><channel>{items}</channel></rss>"
        self.server.add("/rss.xml", feed, content_type="application/rss+xml")
        for n in range(PAGES):
            self.server.route(f"/a/{n}.html", self._page_route(n))
        self.server.route("/hook", self._alert)

    def _page_route(self, n: int) -> Callable[..., Response]:
        def answer(_req: object) -> Response:
            if n == PAGES - 1 and self.on_last_page:
                self.on_last_page()
            return _page(n)

        return answer

    def _alert(self, _req: object) -> Response:
        if self.on_alert:
            self.on_alert()
        return Response(200, b"{}")

    def disarm(self) -> None:
        self.on_last_page = self.on_alert = None


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    s.server.start()
    yield s
    s.server.stop()


def _config(folder: Path, db: Path, site: Site) -> Path:
    """One source whose reject rate fails its check (so each run sends an alert to the
    receiver), small batches so the run loads several."""
    path = folder / "newsflow.toml"
    path.write_text(
        f"""[warehouse]
path = "{db}"
lock_timeout_s = 30

[fetch]
allow_private = ["{site.server.host_port}"]
per_host_delay_s = 0
batch_size = 15
retries = 0
respect_robots = false

[alerts]
urls = ["json://{site.server.host_port}/hook"]
delivery_attempts = 1
data_docs_dir = "{folder / "docs"}"

[checks]
freshness_hours = 100000

[[sources]]
name = "dispatch"
feed = "{site.server.url("/rss.xml")}"
checks = {{ max_reject_rate = 0.01 }}
"""
    )
    return path


def _command(config: Path) -> list[str]:
    from prefect.settings import PREFECT_API_URL

    env = f"PREFECT_API_URL={PREFECT_API_URL.value()}"
    return ["env", env, "NO_COLOR=1", sys.executable, "-m", "newsflow.cli.main", "run",
            "--config", str(config)]  # fmt: skip


def _tables(db: Path | str) -> tuple[set, set, int]:
    """``articles`` (url, content_hash), ``rejected_articles`` (url), ``raw_pages`` count."""
    with duckdb.connect(str(db), read_only=True) as con:
        articles = set(con.execute("SELECT url, content_hash FROM articles").fetchall())
        rejects = {u for (u,) in con.execute("SELECT url FROM rejected_articles").fetchall()}
        pages = con.execute("SELECT count(*) FROM raw_pages").fetchone()[0]
    return articles, rejects, pages


def _snapshot_tables(db: Path | str) -> tuple[set, set]:
    with duckdb.connect(str(db), read_only=True) as con:
        articles = set(con.execute("SELECT url, content_hash FROM articles").fetchall())
        rejects = {u for (u,) in con.execute("SELECT url FROM rejected_articles").fetchall()}
    return articles, rejects


@pytest.fixture(scope="module")
def clean_run(site, tmp_path_factory, prefect_harness) -> tuple[set, set, int]:
    """One uninterrupted run of the site on an ordinary disk."""
    folder = tmp_path_factory.mktemp("clean")
    db = folder / "w.duckdb"
    site.disarm()
    done = subprocess.run(
        _command(_config(folder, db, site)), capture_output=True, text=True, timeout=300
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: the reject-rate check failed
    tables = _tables(working_path(db))
    assert len(tables[0]) > 40 and tables[1] and tables[2] == PAGES
    return tables


@dataclass
class SmallDisk:
    shell: subprocess.Popen
    mount: Path  # the mount point as the run sees it
    out: Path  # each run's stdout, stderr

    @property
    def outside(self) -> Path:
        """The tmpfs as this process reaches it: through the shell's root."""
        return Path(f"/proc/{self.shell.pid}/root{self.mount}")

    def run(self) -> tuple[int, str]:
        """One ``newsflow run`` on the disk: its exit code and stderr."""
        assert self.shell.stdin and self.shell.stdout
        self.shell.stdin.write("run\n")
        self.shell.stdin.flush()
        code = int(self.shell.stdout.readline())
        runs = sorted(self.out.glob("run*.err"))
        return code, runs[-1].read_text()

    def fill(self, keep: int = 0) -> None:
        """Fill the disk, leaving ``keep`` bytes of it free."""
        filler = self.outside / "filler"
        chunk = b"\0" * (1 << 20)
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(chunk)
                    f.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        free = shutil.disk_usage(self.outside).free
        if keep:
            os.truncate(filler, max(filler.stat().st_size - max(keep - free, 0), 0))

    def copy(self, name: str) -> Path:
        """A copy of the disk's DuckDB file ``name`` (with its ``.wal``, if any) outside the
        namespace, where DuckDB can open it: it resolves a ``/proc/<pid>/root`` path to the
        file of the same name in this process's own view."""
        copies = self.out / f"copy-{len(list(self.out.glob('copy-*')))}"
        copies.mkdir()
        for part in (name, f"{name}.wal"):
            if (self.outside / part).exists():
                shutil.copyfile(self.outside / part, copies / part)
        return copies / name

    def free(self) -> None:
        (self.outside / "filler").unlink()


@pytest.fixture
def small_disk(tmp_path, site) -> Iterator[SmallDisk]:
    mount = tmp_path / "disk"
    mount.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    config = _config(tmp_path, mount / "w.duckdb", site)
    shell = subprocess.Popen(
        [*unshare, "sh", "-c", SHELL, "sh", DISK_SIZE, str(mount), str(out), *_command(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert shell.stdout and shell.stdout.readline().strip() == "mounted", shell.communicate()
    try:
        yield SmallDisk(shell, mount, out)
    finally:
        site.disarm()
        shell.communicate("end\n", timeout=60)


def _one_line(code: int, stderr: str) -> str:
    assert code == 3, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if "newsflow: error:" in line]
    assert len(errors) == 1, stderr[-3000:]
    return errors[0]


def _arm_once(site: Site, attribute: str, action: Callable[[], None]) -> threading.Event:
    """Run ``action`` inside the first request that reaches the hook ``attribute``."""
    fired = threading.Event()

    def hook() -> None:
        if not fired.is_set():
            fired.set()
            action()

    setattr(site, attribute, hook)
    return fired


@pytest.mark.parametrize(
    ("moment", "keep", "stages"),
    [
        # The last page is asked for while an earlier batch is loaded and the one before the
        # last archived: whichever writes next meets the full disk.
        ("on_last_page", 0, ("archive pages", "load")),
        ("on_alert", 256 * 1024, ("publish",)),  # the run's record fits, its snapshot does not
    ],
    ids=["while-loading", "while-publishing"],
)
def test_a_disk_that_fills_during_a_run(site, clean_run, small_disk, moment, keep, stages):
    disk = small_disk
    fired = _arm_once(site, moment, lambda: disk.fill(keep))

    code, stderr = disk.run()
    assert fired.is_set(), "the run never reached the moment the disk fills"
    line = _one_line(code, stderr)
    assert any(f"the run failed at {stage}:" in line for stage in stages), line
    assert "the disk is full" in line and str(disk.mount) in line, line
    # Nothing half-written: the working file opens, the snapshot is the previous one (the
    # empty one the run published when it created the warehouse) or wholly the new one, and
    # no temp file of a publish is left.
    stored = _tables(disk.copy("w.work.duckdb"))
    assert _snapshot_tables(disk.copy("w.duckdb")) in ((set(), set()), stored[:2]), line
    assert not [p.name for p in disk.outside.iterdir() if p.name.endswith((".tmp", ".tmp.wal"))]

    disk.free()
    code, stderr = disk.run()
    assert code in (0, 1), stderr[-3000:]
    assert _tables(disk.copy("w.work.duckdb")) == clean_run
    assert _snapshot_tables(disk.copy("w.duckdb")) == clean_run[:2]


def test_a_full_disk_is_said_in_words_and_other_causes_are_kept():
    wal = "/d/w.work.duckdb.wal"
    duck = duckdb.IOException(f'Could not write file "{wal}": No space left on device')
    assert one_line(duck).startswith("the disk is full (IOException: ")
    assert wal in one_line(duck)
    assert one_line(OSError(errno.ENOSPC, "No space left on device", "/d/x")).startswith(
        "the disk is full"
    )
    refused = OSError(errno.ENOSPC, "only 4.0 MiB free …: free some space and run again", "/d")
    assert one_line(refused).startswith("OSError: [Errno 28] only 4.0 MiB free")  # as it was
    assert one_line(OSError(errno.EACCES, "Permission denied", "/d")).startswith("PermissionError")


def test_prefects_task_run_errors_of_a_full_disk_are_dropped_and_others_kept():
    drop = DiskFullTaskLogs()

    def record(message: str, exc: BaseException | None = None, level: int = logging.ERROR):
        info = (type(exc), exc, None) if exc else None
        return logging.LogRecord("prefect.task_runs", level, __file__, 1, message, (), info)

    full = duckdb.TransactionException("Failed to commit: … No space left on device")
    assert not drop.filter(record("Task run failed with exception: …", full))
    assert not drop.filter(record("Finished in state Failed('… No space left on device')"))
    assert drop.filter(record("Task run failed with exception: …", KeyError("url")))
    assert drop.filter(record("No space left on device", level=logging.WARNING))
