"""End-to-end throughput against the extraction ceiling, measured in one run.

    python benchmarks/throughput.py --n 500
    python benchmarks/throughput.py --n 5000

1. Serves N synthetic article pages (50–300 KB) over H hosts on distinct loopback addresses
   (127.0.0.2 …), each with its RSS feed, from a separate process.
2. Runs ``newsflow run`` (a real Prefect flow, politeness delay 0 for these hosts) into a fresh
   DuckDB file, sampling the RSS of the pipeline's process tree.
3. Measures the ceiling: the same extract + clean over the same pages with the same number of
   worker processes, no network, no database.
4. Runs ``newsflow run`` again: every feed answers 304 (the incremental cost).

Prints pages/second end to end, the ceiling, their ratio, peak RSS and time per stage.
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
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import BenchSite, article_page, page_count_per_host  # noqa: E402


def _tree_rss_kb(root: int) -> tuple[int, int]:
    """(RSS of ``root``, RSS of ``root`` and all its descendants), in KiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            ppid = int(parts[1])
            with open(f"/proc/{entry}/statm") as f:
                pages = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        pid = int(entry)
        children.setdefault(ppid, []).append(pid)
        rss[pid] = pages * os.sysconf("SC_PAGE_SIZE") // 1024
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return rss.get(root, 0), total


def run_pipeline(config: Path, db: Path) -> dict:
    """``newsflow run --json`` in a subprocess, with its peak RSS sampled every 100 ms."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsflow.cli.main",
            "run",
            "--config",
            str(config),
            "--db",
            str(db),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0, 0]

    def sample() -> None:
        while proc.poll() is None:
            own, tree = _tree_rss_kb(proc.pid)
            peak[0], peak[1] = max(peak[0], own), max(peak[1], tree)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"newsflow run failed ({proc.returncode}):\n{err[-3000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    return {
        "summary": summary,
        "wall_s": wall,
        "peak_rss_mb": peak[0] / 1024,
        "peak_tree_rss_mb": peak[1] / 1024,
    }


def _extract(args: tuple[bytes, str]) -> bool:
    from newsflow.tasks.extract.extract import extract_article

    html, url = args
    return extract_article(html, url).error is None


def ceiling(n: int, hosts: list[tuple[str, int]], workers: int) -> float:
    """Pages/second of extract + clean alone over the same pages, same worker count."""
    jobs = []
    for h, count in enumerate(page_count_per_host(n, len(hosts))):
        address, port = hosts[h]
        base = f"http://{address}:{port}"
        jobs.extend((h, i, base) for i in range(count))
    elapsed = 0.0
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        list(
            pool.map(_extract, [(article_page(0, 0, base="http://x"), "http://x/a")] * workers)
        )  # warm
        for start in range(0, len(jobs), 500):
            chunk = [
                (article_page(h, i, base=base), f"{base}/a/{i}.html")
                for h, i, base in jobs[start : start + 500]
            ]
            t0 = time.perf_counter()
            list(pool.map(_extract, chunk, chunksize=max(1, len(chunk) // (4 * workers))))
            elapsed += time.perf_counter() - t0
    return n / elapsed


def write_config(path: Path, hosts: list[tuple[str, int]], n: int, batch_size: int | None) -> None:
    lines = [
        "[fetch]",
        f"allow_private = {json.dumps([f'{a}:{p}' for a, p in hosts])}",
        "per_host_delay_s = 0.0",
        f"max_entries_per_feed = {n}",
        f"max_workers = {len(hosts)}",
    ]
    if batch_size:
        lines.append(f"batch_size = {batch_size}")
    for h, (address, port) in enumerate(hosts):
        lines += [
            "[[sources]]",
            f'name = "bench-{h}"',
            f'feed = "http://{address}:{port}/feed.xml"',
            'language = "en"',
        ]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="article pages (default %(default)s)")
    parser.add_argument(
        "--hosts", type=int, default=10, help="loopback hosts (default %(default)s)"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="extraction processes"
    )
    parser.add_argument(
        "--batch-size", type=int, help="pages per task run (default: the config default)"
    )
    parser.add_argument("--skip-ceiling", action="store_true")
    args = parser.parse_args(argv)

    site = BenchSite(args.n, args.hosts)
    try:
        with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp:
            config, db = Path(tmp) / "bench.toml", Path(tmp) / "bench.duckdb"
            write_config(config, site.hosts, args.n, args.batch_size)
            first = run_pipeline(config, db)
            repoll = run_pipeline(config, db)
        ceil = None if args.skip_ceiling else ceiling(args.n, site.hosts, args.workers)
    finally:
        site.stop()

    s = first["summary"]
    loaded = s["loaded"]["new"]
    e2e = args.n / s["elapsed_s"]
    print(f"N = {args.n} pages over {args.hosts} hosts, {args.workers} extraction workers")
    print(
        f"  loaded: {loaded} articles, {len(s['page_errors'])} page errors, "
        f"{len(s['rejected'])} rejected"
    )
    print(
        f"  end to end (flow): {s['elapsed_s']:.1f} s → {e2e:.1f} pages/s"
        f"   (process wall {first['wall_s']:.1f} s)"
    )
    if ceil:
        print(f"  extraction ceiling: {ceil:.1f} pages/s   ratio {e2e / ceil:.0%}")
    print(
        f"  peak RSS: pipeline process {first['peak_rss_mb']:.0f} MB, "
        f"with workers {first['peak_tree_rss_mb']:.0f} MB"
    )
    print("  time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in s["stage_s"].items()))
    r = repoll["summary"]
    print(
        f"  re-poll, all 304: flow {r['elapsed_s']:.2f} s, process wall {repoll['wall_s']:.1f} s, "
        f"pages fetched {r['pages_fetched']}"
    )
    print("    re-poll stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["stage_s"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
