"""Story clustering at scale: what one tick's ``refresh_story_clusters`` costs as the warehouse
grows.

For each size N it grows a warehouse of N generated articles through the warehouse's own write
path (``Warehouse.load_articles``, with the pipeline's clock set so that first_seen_at spreads
over two years; 3 % of the articles are light edits of one loaded a few days earlier), writes
their signatures through ``save_fingerprints`` and brings the clusters up to date once. Then,
each in a fresh process (so peak RSS is that tick's), it times:

- an idle tick: nothing loaded, changed or removed since the last refresh;
- a tick with 50 new articles (10 of them copies of stories from the last days).

    nice python benchmarks/clusters_scale.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import newsflow.tasks.warehouse.warehouse as warehouse_module
from newsflow.tasks.stories.clusters import signature, signature_bytes
from newsflow.tasks.stories.tasks import refresh_story_clusters
from newsflow.tasks.warehouse.warehouse import Warehouse

START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)


def _batch(size: int) -> int:
    """Articles loaded at one clock time: 500 loads over the two years at any size."""
    return max(50, size // 500)


def _last_load(size: int) -> datetime:
    return START + SPAN * ((size - _batch(size)) / size)


COPY_SHARE = 0.03


def _text(story: int, variant: int = 0) -> str:
    return " ".join(f"s{story}w{i}" for i in range(60) if variant == 0 or i % 10 != variant)


def _row(i: int, text: str) -> dict:
    return {
        "article_id": f"{i:016x}",
        "url": f"https://host{i % 10}.example/story-{i}.html",
        "source": f"source-{i % 1000}",
        "title": f"Story {i}",
        "text": text,
        "authors": [],
        "published_at": START,
        "language": "en",
        "captions": [],
        "word_count": len(text.split()),
        "content_hash": f"{hash(text):x}",
    }


def _texts(first: int, stop: int, rng: random.Random) -> list[tuple[int, str]]:
    """Article i is its own story, or (3 %) a light edit of one of the 3,000 before it."""
    out = []
    for i in range(first, stop):
        if i > 100 and rng.random() < COPY_SHARE:
            out.append((i, _text(rng.randint(max(0, i - 3000), i - 1), rng.randint(1, 9))))
        else:
            out.append((i, _text(i)))
    return out


def grow(db: Path, size: int) -> None:
    rng = random.Random(size)
    clock = {"now": START}
    warehouse_module._now = lambda: clock["now"]  # the pipeline's clock, for growing fast
    with Warehouse.open(db, lock_timeout_s=5) as wh:
        for lo in range(0, size, _batch(size)):
            clock["now"] = START + SPAN * (lo / size)
            batch = _texts(lo, min(lo + _batch(size), size), rng)
            wh.load_articles("grow", [_row(i, t) for i, t in batch])
            wh.save_fingerprints(
                [
                    (f"{i:016x}", f"{hash(t):x}", signature_bytes(signature(t)), clock["now"])
                    for i, t in batch
                ]
            )
        refresh_story_clusters(wh, "grown")  # the first refresh: every article, by batches


def tick(db: Path, size: int, new: int) -> dict:
    rng = random.Random(-size)
    now = _last_load(size) + timedelta(hours=2)
    warehouse_module._now = lambda: now
    with Warehouse.open(db, lock_timeout_s=5) as wh:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        if new:
            rows = [
                _row(
                    size + k,
                    _text(rng.randint(size - 200, size - 1), 2) if k < 10 else _text(size + k),
                )
                for k in range(new)
            ]
            wh.load_articles("tick", rows)
        loaded = time.perf_counter()
        after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats = refresh_story_clusters(wh, "tick")
        done = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "size": size,
        "new": new,
        "load_s": round(loaded - started, 3),
        "refresh_s": round(done - loaded, 3),
        "peak_rss_mb": round(peak / 1024),
        "rss_before_mb": round(base / 1024),
        "rss_after_load_mb": round(after_load / 1024),
        "reconsidered": stats.reconsidered,
        "rewritten": stats.rewritten,
        "clusters": stats.clusters,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--step", choices=["grow", "tick"], help=argparse.SUPPRESS)
    parser.add_argument("--new", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "grow":
        grow(args.dir / "news.duckdb", args.sizes[0])
        return
    if args.step == "tick":
        print(json.dumps(tick(args.dir / "news.duckdb", args.sizes[0], args.new)))
        return
    me = [sys.executable, __file__]
    results = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            started = time.perf_counter()
            subprocess.run([*me, "--step", "grow", "--sizes", str(size), "--dir", tmp], check=True)
            print(f"grew {size:,} articles in {time.perf_counter() - started:.0f} s", flush=True)
            for new in (0, 50):
                out = subprocess.run(
                    [*me, "--step", "tick", "--sizes", str(size), "--dir", tmp, "--new", str(new)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(results[-1], flush=True)
    print(
        "\n| articles | tick | load s | refresh s | RSS MB at open / after load / peak "
        "| reconsidered | rows written |"
    )
    print("|---:|---|---:|---:|---|---:|---:|")
    for r in results:
        kind = "idle" if r["new"] == 0 else f"{r['new']} new"
        print(
            f"| {r['size']:,} | {kind} | {r['load_s']} | {r['refresh_s']} "
            f"| {r['rss_before_mb']} / {r['rss_after_load_mb']} / {r['peak_rss_mb']} "
            f"| {r['reconsidered']} | {r['rewritten']} |"
        )


if __name__ == "__main__":
    main()
