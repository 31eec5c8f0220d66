"""Peak memory of ``newsflow reprocess`` over a 1,000-page working file, against the configured
``[warehouse] memory_limit``.

    python benchmarks/reprocess_memory.py                        # 1,000 pages, 4 hosts, 256MB
    python benchmarks/reprocess_memory.py --memory-limit 512MB --pages 2000

Serves the synthetic corpus of benchmarks/corpus.py (50–300 KB pages, as real news pages) on
loopback, ingests it once with ``newsflow run`` (building the working file and its
``raw_pages`` archive), then measures, each a fresh ``newsflow reprocess`` subprocess whose RSS
and its children's (the extraction workers) is sampled from /proc every 50 ms:

1. ``reprocess --since`` a date after every fetch: no page at all, the process's baseline
   (Python, Prefect, Great Expectations, pandas, trafilatura, DuckDB loaded, one flow run);
2. ``reprocess`` of every archived page.

Prefect's temporary API server is another process, reported apart. The bound: the newsflow
side's peak stays under ``memory_limit`` (DuckDB's buffer pool, which it cannot exceed) plus
``PYTHON_OVERHEAD_MB`` (the interpreter and its libraries, the extraction workers and one batch
of pages in flight, none of which DuckDB's limit counts). Exits 1 when the bound does not hold.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb  # noqa: E402
from corpus import BenchSite  # noqa: E402
from hostile_memory import sampled  # noqa: E402

#: What the process tree holds beside DuckDB's buffer pool: the interpreter with Prefect, GX,
#: pandas, trafilatura and DuckDB's own code (431 MB measured as the baseline, a reprocess of
#: no page), the extraction workers, and a batch of HTML with its extracted text and GX frames.
PYTHON_OVERHEAD_MB = 500


def _megabytes(size: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(KB|MB|GB|KiB|MiB|GiB)", size.strip(), re.I)
    if not match:
        raise SystemExit(f"--memory-limit {size!r}: a size like 256MB")
    unit = match[2].lower()
    factor = {"kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 2**10, "mib": 2**20, "gib": 2**30}[unit]
    return float(match[1]) * factor / 2**20


def write_config(path: Path, db: Path, hosts: list[tuple[str, int]], args: argparse.Namespace):
    lines = [
        "[warehouse]",
        f'path = "{db}"',
        f'memory_limit = "{args.memory_limit}"',
        "[fetch]",
        f"allow_private = {json.dumps([f'{a}:{p}' for a, p in hosts])}",
        "per_host_delay_s = 0.0",
        f"max_entries_per_feed = {args.pages}",
        f"max_workers = {len(hosts)}",
    ]
    for h, (address, port) in enumerate(hosts):
        lines += [
            "[[sources]]",
            f'name = "bench-{h}"',
            f'feed = "http://{address}:{port}/feed.xml"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _newsflow(*args: str) -> list[str]:
    return [sys.executable, "-m", "newsflow.cli.main", *args]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--memory-limit", default="256MB", help="[warehouse] memory_limit")
    args = parser.parse_args(argv)

    site = BenchSite(args.pages, args.hosts)
    with tempfile.TemporaryDirectory(prefix="newsflow-reprocess-") as tmp:
        folder = Path(tmp)
        db = folder / "bench.duckdb"
        try:
            config = write_config(folder / "bench.toml", db, site.hosts, args)
            started = time.perf_counter()
            ingest = subprocess.run(
                _newsflow("run", "--config", str(config), "--json"),
                capture_output=True,
                text=True,
                cwd=folder,
            )
            ingest_s = time.perf_counter() - started
        finally:
            site.stop()
        if ingest.returncode not in (0, 1):
            raise SystemExit(f"newsflow run failed ({ingest.returncode}):\n{ingest.stderr[-3000:]}")
        working = folder / "bench.work.duckdb"
        with duckdb.connect(str(working), read_only=True) as con:
            pages, html_mb = con.execute(
                "SELECT count(*), sum(octet_length(html)) / 2^20 FROM raw_pages "
                "WHERE html IS NOT NULL"
            ).fetchone()
        file_mb = working.stat().st_size / 2**20

        idle, idle_m = sampled(
            _newsflow("reprocess", "--config", str(config), "--since", "2999-01-01"), folder
        )
        full, full_m = sampled(_newsflow("reprocess", "--config", str(config)), folder)
    for name, done in (("baseline reprocess", idle), ("reprocess", full)):
        if done.returncode not in (0, 1):
            print(f"{name} exited {done.returncode}:\n{done.stderr[-3000:]}")
            return 1

    limit_mb = _megabytes(args.memory_limit)
    bound_mb = limit_mb + PYTHON_OVERHEAD_MB
    print(
        f"working file: {pages} archived pages ({html_mb:.0f} MB of gzip HTML), "
        f"{file_mb:.0f} MB on disk; ingest {ingest_s:.0f} s"
    )
    print(
        f"baseline (no page): peak {idle_m['newsflow_mb']:.0f} MB, {idle_m['wall_s']:.0f} s; "
        f"Prefect server {idle_m['server_mb']:.0f} MB"
    )
    print(
        f"reprocess of {pages} pages: exit {full.returncode}, peak {full_m['newsflow_mb']:.0f} MB "
        f"(+{full_m['newsflow_mb'] - idle_m['newsflow_mb']:.0f} MB over the baseline), "
        f"{full_m['wall_s']:.0f} s; Prefect server {full_m['server_mb']:.0f} MB"
    )
    held = full_m["newsflow_mb"] <= bound_mb
    print(
        f"bound: memory_limit {limit_mb:.0f} MB + Python overhead {PYTHON_OVERHEAD_MB} MB = "
        f"{bound_mb:.0f} MB: {'holds' if held else 'EXCEEDED'}"
    )
    return 0 if held else 1


if __name__ == "__main__":
    raise SystemExit(main())
