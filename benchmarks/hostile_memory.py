"""Memory and time of a full ingest over the whole hostile site (tests/hostile_site.py).

    python benchmarks/hostile_memory.py                  # deadlines 10 s (feeds and pages)
    python benchmarks/hostile_memory.py --deadline 45    # the shipped page deadline

Serves the hostile site on loopback from this process (slow drips, endless bodies, 1 GiB gzip
bombs for a feed and a page, a 20 MiB page, an entity-expansion feed, redirect loops and escapes,
429/503/500/404/410, a binary page, charset lies...) and measures, each in a fresh subprocess
whose RSS (and its children's) is sampled every 50 ms:

1. ``newsflow run --json`` over the healthy source alone: the baseline of a run (Prefect, Great
   Expectations, pandas, trafilatura and DuckDB loaded, one flow run).
2. ``newsflow run --json`` over every hostile source plus the healthy one.
3. The fetch layer alone (the one HTTP client, feed parsing, page classification), every hostile
   feed and page requested at once from 24 threads: what the hostile input itself costs.

Prefect's temporary API server (started when no ``PREFECT_API_URL`` is set) is a separate process
and reported apart. Prints the peaks (acceptance bound 500 MB), wall times and the slowest
requests next to the configured deadlines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from newsflow.schemas.config import Config  # noqa: E402
from newsflow.schemas.config_toml import write_config  # noqa: E402
from tests.hostile_site import FEED_CASES, HEALTHY_SOURCE, PAGE_CASES, HostileSite  # noqa: E402

RSS_LIMIT_MB = 500


def process_tree(root: int) -> dict[int, tuple[int, str]]:
    """``{pid: (RSS in KiB, command line)}`` for ``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    info: dict[int, tuple[int, str]] = {}
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                rss = int(f.read().split()[1]) * page_kb
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError, ValueError):
            continue
        info[int(entry)] = (rss, cmd)
        children.setdefault(ppid, []).append(int(entry))
    tree, stack = {}, [root]
    while stack:
        pid = stack.pop()
        if pid in info:
            tree[pid] = info[pid]
        stack.extend(children.get(pid, []))
    return tree


def _is_prefect_server(cmd: str) -> bool:
    """Prefect's temporary API server (uvicorn): the orchestrator's, not newsflow's."""
    return "uvicorn" in cmd or "prefect.server" in cmd


def sampled(cmd: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, dict[str, float]]:
    """Run ``cmd``; peak RSS in MB of the newsflow side (the process and its workers), of
    Prefect's temporary server, and wall seconds."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    peak = {"newsflow": 0, "server": 0}

    def sample() -> None:
        while proc.poll() is None:
            tree = process_tree(proc.pid)
            server = sum(rss for rss, c in tree.values() if _is_prefect_server(c))
            peak["server"] = max(peak["server"], server)
            peak["newsflow"] = max(peak["newsflow"], sum(r for r, _ in tree.values()) - server)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    return done, {
        "newsflow_mb": peak["newsflow"] / 1024,
        "server_mb": peak["server"] / 1024,
        "wall_s": wall,
    }


def run_pipeline(config: Config, workdir: Path, name: str) -> dict:
    """``newsflow run --json`` over ``config`` in a subprocess."""
    db = workdir / f"{name}.duckdb"
    warehouse = config.warehouse.model_copy(update={"path": str(db)})
    toml = write_config(
        config.model_copy(update={"warehouse": warehouse}), workdir / f"{name}.toml"
    )
    cli = [sys.executable, "-m", "newsflow.cli.main", "run", "--config", str(toml), "--json"]
    done, measured = sampled(cli, workdir)
    if done.returncode not in (0, 1):
        raise SystemExit(f"newsflow run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    with duckdb.connect(str(db), read_only=True) as con:
        slowest = con.execute(
            "SELECT source, elapsed_ms, error FROM feed_fetches ORDER BY elapsed_ms DESC LIMIT 3"
        ).fetchall()
        feed_errors = con.execute(
            "SELECT count(*) FROM feed_fetches WHERE error IS NOT NULL"
        ).fetchone()[0]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {**measured, "summary": summary, "slowest": slowest, "feed_errors": feed_errors}


def fetch_layer_child(spec: dict) -> None:
    """(In the child.) Fetch every hostile feed and page at once, as the pipeline would."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from newsflow.schemas.records import FeedEntry
    from newsflow.tasks.fetch.feeds import poll_result
    from newsflow.tasks.fetch.http import FetchPolicy, HttpClient
    from newsflow.tasks.fetch.pages import page_outcome

    def feed(url: str) -> str | None:
        policy = FetchPolicy(
            allow_private=spec["allow"], deadline_s=spec["deadline"], max_bytes=spec["feed_cap"]
        )
        with HttpClient(policy) as client:
            return poll_result("s", url, client.get(url), datetime.now(UTC)).error

    def page(url: str) -> str | None:
        policy = FetchPolicy(
            allow_private=spec["allow"], deadline_s=spec["deadline"], max_bytes=spec["page_cap"]
        )
        with HttpClient(policy) as client:
            entry = FeedEntry(source="s", entry_id=url, url=url)
            return page_outcome(entry, client.get(url), datetime.now(UTC)).error

    with ThreadPoolExecutor(24) as pool:
        jobs = [pool.submit(feed, u) for u in spec["feeds"]]
        jobs += [pool.submit(page, u) for u in spec["pages"]]
        errors = [j.result() for j in jobs]
    print(json.dumps({"recorded": sum(e is not None for e in errors), "total": len(errors)}))


def run_fetch_layer(site: HostileSite, config: Config, workdir: Path) -> dict:
    spec = {
        "allow": list(config.fetch.allow_private),
        "deadline": config.fetch.page_deadline_s,
        "feed_cap": config.fetch.max_feed_bytes,
        "page_cap": config.fetch.max_page_bytes,
        "feeds": [site.main.url(c.path) for c in FEED_CASES],
        "pages": [site.case_url(c) for c in PAGE_CASES],
    }
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-fetch", json.dumps(spec)]
    done, measured = sampled(cmd, workdir)
    if done.returncode != 0:
        raise SystemExit(f"fetch layer run failed:\n{done.stderr[-3000:]}")
    return {**measured, **json.loads(done.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--deadline", type=float, default=10.0, help="feed and page deadline, s (%(default)s)"
    )
    parser.add_argument("--child-fetch", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_fetch:
        fetch_layer_child(json.loads(args.child_fetch))
        return 0

    fetch = {
        "feed_deadline_s": args.deadline,
        "page_deadline_s": args.deadline,
        "connect_timeout_s": 5.0,
        "read_timeout_s": 5.0,
        "retry_backoff_s": 0.5,
        "pause_after_errors": 5,
    }
    with HostileSite() as site, tempfile.TemporaryDirectory(prefix="newsflow-hostile-") as tmp:
        work = Path(tmp)
        full = site.config(str(work / "unused.duckdb"), **fetch)
        healthy_only = full.model_copy(
            update={"sources": [s for s in full.sources if s.name == HEALTHY_SOURCE]}
        )
        base = run_pipeline(healthy_only, work, "healthy")
        hostile = run_pipeline(full, work, "hostile")
        layer = run_fetch_layer(site, full, work)

    f, s = full.fetch, hostile["summary"]
    ok = hostile["newsflow_mb"] < RSS_LIMIT_MB
    print(f"hostile site: {len(full.sources) - 1} hostile sources, {s['pages_fetched']} pages")
    print(
        f"  deadlines: feed {f.feed_deadline_s:g} s, page {f.page_deadline_s:g} s; caps: feed "
        f"{f.max_feed_bytes >> 20} MiB, page {f.max_page_bytes >> 20} MiB; retries {f.retries}"
    )
    print(
        f"  peak RSS of the newsflow run (process + extraction workers): "
        f"{hostile['newsflow_mb']:.0f} MB -> {'below' if ok else 'ABOVE'} {RSS_LIMIT_MB} MB"
    )
    print(f"    same run over the healthy source alone: {base['newsflow_mb']:.0f} MB")
    print(
        f"    fetch layer alone, every hostile case at once: {layer['newsflow_mb']:.0f} MB "
        f"({layer['recorded']} of {layer['total']} recorded with a reason)"
    )
    print(f"    Prefect's temporary API server, a separate process: {hostile['server_mb']:.0f} MB")
    print(
        f"  wall: process {hostile['wall_s']:.1f} s (healthy alone {base['wall_s']:.1f} s), "
        f"flow {s['elapsed_s']:.1f} s; fetch layer alone {layer['wall_s']:.1f} s"
    )
    print("  time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in s["stage_s"].items()))
    for source, ms, error in hostile["slowest"]:
        print(f"  slow feed {source}: {ms / 1000:.2f} s ({(error or 'ok')[:70]})")
    print(
        f"  slowest request {hostile['slowest'][0][1] / 1000:.2f} s vs deadline "
        f"{f.feed_deadline_s:g} s; a transient failure costs at most {f.retries + 1} attempts"
    )
    print(
        f"  recorded: {hostile['feed_errors']} feed polls and {len(s['page_errors'])} pages with "
        f"a reason, {s['loaded']['new']} articles loaded"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
