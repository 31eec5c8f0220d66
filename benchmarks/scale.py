"""Warehouse scale, first cut: how publishing costs grow with the warehouse.

Grows a warehouse to each size through the warehouse's own write path (``Warehouse.load_articles``
with generated articles, in batches of 5,000), then times, in the same process:

- an idle publish (``publish(articles_changed=False)``: no article changed),
- a publish after 50 new articles (``publish()``),

and reports the published file's size and the process's peak RSS. The full issue-13 benchmark
(1,000 loopback sources, real ticks) is still to come; this shows whether a run's publish cost
follows its new work or the warehouse's size.

    python benchmarks/scale.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from newsflow.tasks.warehouse.warehouse import Warehouse

WORDS = "harbour council ferry strike grain trains winter deal market parking school roof".split()


def _article(i: int) -> dict:
    text = "\n".join(
        " ".join(WORDS[(i + k) % len(WORDS)] for k in range(60)) + f" {i} {p}" for p in range(5)
    )
    url = f"https://host{i % 10}.example/2026/11/story-{i}.html"
    return {
        "article_id": hashlib.sha256(url.encode()).hexdigest()[:32],
        "url": url,
        "source": f"source-{i % 1000}",
        "title": f"Story {i}",
        "text": text,
        "authors": ["A. Writer"],
        "published_at": datetime(2026, 11, 1, tzinfo=UTC),
        "language": "en",
        "captions": [],
        "word_count": 300,
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
    }


def _grow(warehouse: Warehouse, start: int, stop: int) -> None:
    for lo in range(start, stop, 5000):
        warehouse.load_articles("grow", [_article(i) for i in range(lo, min(lo + 5000, stop))])


def _timed(call) -> float:  # noqa: ANN001
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    head = ("articles", "idle publish s", "+50 publish s", "file MB", "peak RSS MB")
    print("  ".join(f"{h:>14}" for h in head))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "scale.duckdb"
        grown = 0
        with Warehouse.open(db, lock_timeout_s=5) as warehouse:
            for size in sorted(args.sizes):
                _grow(warehouse, grown, size)
                grown = size
                warehouse.publish()
                idle = _timed(lambda: warehouse.publish(articles_changed=False))
                _grow(warehouse, grown, grown + 50)
                grown += 50
                new = _timed(warehouse.publish)
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                mb = db.stat().st_size / 1e6
                cells = (f"{size:,}", f"{idle:.2f}", f"{new:.2f}", f"{mb:.1f}", f"{rss:.0f}")
                print("  ".join(f"{c:>14}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
