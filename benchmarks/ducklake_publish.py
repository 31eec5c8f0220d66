"""What publishing into a DuckLake costs, beside the DuckDB-file publish of the same runs.

    python benchmarks/ducklake_publish.py                         # 2,000 articles, 1/2/4 writers
    python benchmarks/ducklake_publish.py --articles 10000 --writers 1 2 4 --rounds 3

PostgreSQL (the catalog, from the ``pgserver`` package's binaries) and moto's S3 API (the data)
are started on loopback, as the tests start them (``tests/lake_servers.py``).

1. **One writer.** A working file gets a run of ``--articles`` new articles (generated, 150–300
   words); the file snapshot is published (``Warehouse.publish`` without a lake), then the run
   is published into the lake (``lake.publish``). A second run changes 10 % of them and adds
   50: both publishes again.
2. **Concurrent writers.** For each count in ``--writers``, that many processes
   (``tests/lake_writer.py``), each with its own working file, publish ``--rounds`` runs at the
   same moments into one fresh lake; every run has ``--own`` articles of its own and
   ``--shared`` shared with the other writers' run of the same round. Reported: the slowest
   publish of each round summed (the rounds' wall time), article rows merged per second over
   it, and the commit attempts (1 = no conflict).

Times are from one run on a shared machine; compare within a run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsflow.tasks.warehouse import lake  # noqa: E402
from newsflow.tasks.warehouse.lake_connection import LakeTarget  # noqa: E402
from newsflow.tasks.warehouse.warehouse import Warehouse  # noqa: E402
from tests.lake_servers import running_postgres, running_s3  # noqa: E402

WORDS = (
    "council harbour ferry grain freight rail strike budget school winter storm port minister "
    "vote court river bridge energy price market union report police hospital water road"
).split()


def _article(article_id: str, rng: random.Random, edit: str = "") -> dict[str, object]:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(150, 300))) + edit
    return {
        "article_id": article_id,
        "url": f"https://news.example/{article_id}",
        "source": f"source-{int(article_id[1:]) % 50}",
        "title": f"Story {article_id}",
        "text": text,
        "authors": ["Desk"],
        "published_at": datetime.now(UTC),
        "language": "en",
        "captions": [],
        "word_count": len(text.split()),
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
    }


def _timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _fresh_lake(pg, s3, folder: Path) -> LakeTarget:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    pg.create_database(name)
    return LakeTarget(pg.catalog(name), f"s3://{s3.bucket}/{name}/")


def one_writer(pg, s3, tmp: Path, articles: int) -> None:
    rng = random.Random(14)
    target = _fresh_lake(pg, s3, tmp)
    ids = [f"a{i}" for i in range(articles)]
    print(f"\none writer, {articles:,} articles (file snapshot vs lake, seconds)")
    print(f"{'run':<34} {'file publish':>12} {'lake publish':>12} {'rows merged':>12}")
    with Warehouse.open(tmp / "one.duckdb", lock_timeout_s=30) as warehouse:
        warehouse.publish()  # the empty snapshot a first run publishes
        lake.publish(warehouse.con, target)  # the lake's tables
        runs = [
            ("r1: all new", [_article(i, rng) for i in ids]),
            (
                "r2: 10 % edited, 50 new",
                [_article(i, rng, " edited") for i in ids[: articles // 10]]
                + [_article(f"a{articles + k}", rng) for k in range(50)],
            ),
        ]
        for label, rows in runs:
            run_id = label.split(":")[0]
            warehouse.start_run(run_id, "ingest")
            for start in range(0, len(rows), 5000):
                with warehouse.batch():
                    warehouse.load_articles(run_id, rows[start : start + 5000])
            warehouse.finish_run(run_id, "completed", {}, None)
            file_s, _ = _timed(warehouse.publish)
            lake_s, done = _timed(lambda: lake.publish(warehouse.con, target))
            print(f"{label:<34} {file_s:>12.2f} {lake_s:>12.2f} {done.articles:>12,}")


def concurrent(pg, s3, tmp: Path, writers: int, rounds: int, own: int, shared: int) -> None:
    target = _fresh_lake(pg, s3, tmp)
    gate = tmp / f"gate-{writers}"
    for run in range(rounds):
        (gate / str(run)).mkdir(parents=True)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.lake_writer",
                "--db",
                str(tmp / f"w{writers}-{i}.duckdb"),
                "--writer",
                str(i),
                "--writers",
                str(writers),
                "--runs",
                str(rounds),
                "--shared",
                str(shared),
                "--own",
                str(own),
                "--gate",
                str(gate),
                "--catalog",
                target.catalog,
                "--data-path",
                target.data_path,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(writers)
    ]
    outputs = [p.communicate(timeout=1800) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        if proc.returncode:
            raise SystemExit(f"a writer failed:\n{err[-3000:]}")
    per_writer = [[json.loads(line) for line in out.splitlines()] for out, _ in outputs]
    wall = sum(max(w[r]["seconds"] for w in per_writer) for r in range(rounds))
    merged = sum(p["articles"] for w in per_writer for p in w)
    attempts = [p["attempts"] for w in per_writer for p in w]
    print(
        f"{writers:>7} {rounds:>6} {merged:>12,} {wall:>10.2f} {merged / wall:>10,.0f} "
        f"{sum(attempts) / len(attempts):>13.2f} {max(attempts):>12}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--own", type=int, default=200)
    parser.add_argument("--shared", type=int, default=50)
    args = parser.parse_args()
    with (
        running_postgres() as pg,
        running_s3() as s3,
        tempfile.TemporaryDirectory(prefix="newsflow-lake-bench-") as folder,
    ):
        os.environ.update(
            PGUSER=pg.user,
            PGPASSWORD=pg.password,
            AWS_ENDPOINT_URL=s3.endpoint,
            AWS_ACCESS_KEY_ID=s3.key_id,
            AWS_SECRET_ACCESS_KEY=s3.secret,
            AWS_REGION=s3.region,
        )
        tmp = Path(folder)
        one_writer(pg, s3, tmp, args.articles)
        print(
            f"\nconcurrent writers: {args.own} own + {args.shared} shared articles a run, "
            "all writers publishing each round at once"
        )
        print(
            f"{'writers':>7} {'rounds':>6} {'rows merged':>12} {'wall s':>10} {'rows/s':>10} "
            f"{'mean attempts':>13} {'max attempts':>12}"
        )
        for writers in args.writers:
            concurrent(pg, s3, tmp, writers, args.rounds, args.own, args.shared)


if __name__ == "__main__":
    main()
