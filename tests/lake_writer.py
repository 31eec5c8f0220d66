"""One writer of the concurrent-publish test, as a process of its own (``python -m
tests.lake_writer``): its own working file, several runs that each load articles (some shared
with the other writers, some its own) and publish into the lake named by the arguments, the
credentials coming from the environment as in a deployment.

Each run waits until every writer is ready (a file per writer in ``--gate``), so the publishes
of the writers overlap. Prints one JSON line per publish: the runs merged, the commit
attempts, the article rows and the seconds it took (``benchmarks/ducklake_publish.py`` reads
them too).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from newsflow.tasks.warehouse import lake
from newsflow.tasks.warehouse.lake_connection import LakeTarget
from newsflow.tasks.warehouse.warehouse import Warehouse


def article(article_id: str, text: str) -> dict[str, object]:
    return {
        "article_id": article_id,
        "url": f"https://news.example/{article_id}",
        "source": "wire",
        "title": f"Story {article_id}",
        "text": text,
        "authors": ["Desk"],
        "published_at": datetime.now(UTC),
        "language": "en",
        "captions": [],
        "word_count": len(text.split()),
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
    }


def wait_for_all(gate: Path, name: str, writers: int, timeout_s: float = 60.0) -> None:
    """A barrier between processes: this writer's file in ``gate``, then every writer's."""
    (gate / name).touch()
    deadline = time.monotonic() + timeout_s
    while sum(1 for _ in gate.iterdir()) < writers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {sum(1 for _ in gate.iterdir())} of {writers} writers")
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--writer", type=int, required=True)
    parser.add_argument("--writers", type=int, required=True)
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--shared", type=int, required=True)
    parser.add_argument("--own", type=int, required=True)
    parser.add_argument("--gate", required=True)
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--data-path", required=True)
    args = parser.parse_args()
    target = LakeTarget(args.catalog, args.data_path)
    with Warehouse.open(args.db, lock_timeout_s=30) as warehouse:
        for run in range(args.runs):
            run_id = f"w{args.writer}-r{run}"
            warehouse.start_run(run_id, "ingest")
            rows = [article(f"shared-{run}-{k}", f"shared {run} {k}") for k in range(args.shared)]
            rows += [
                article(f"own-{args.writer}-{run}-{k}", f"own {args.writer} {run} {k}")
                for k in range(args.own)
            ]
            with warehouse.batch():
                counts = warehouse.load_articles(run_id, rows)
            warehouse.finish_run(run_id, "completed", {"articles_new": counts.new}, None)
            gate = Path(args.gate) / str(run)
            wait_for_all(gate, str(args.writer), args.writers)
            started = time.perf_counter()
            done = lake.publish(warehouse.con, target)
            seconds = time.perf_counter() - started
            print(
                json.dumps(
                    {
                        "runs": list(done.runs),
                        "attempts": done.attempts,
                        "articles": done.articles,
                        "seconds": seconds,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
