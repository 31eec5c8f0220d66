"""What the health report costs to draw: the demo's size and a big warehouse's, in one process.

Rendering is a pure function of the records (``tasks/report/render.py``), so this times it on
synthetic records the size the warehouse reads return: the demo (3 sources, 2 runs) and a
warehouse at the window's caps (1,000 sources, a run every 15 minutes for 30 days capped at
500 runs, 20,000 check evaluations, 30 days of articles per source). The first render includes
importing matplotlib, which is what the first report after a run pays. Wall and CPU time
are both printed: on a shared machine the CPU time is the steadier figure.

    python benchmarks/report_render.py
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from newsflow.schemas.health import (
    CheckEvaluation,
    DailyArticles,
    RunRecord,
    SourceHealth,
    WarehouseHealth,
)
from newsflow.tasks.report.render import render_report
from newsflow.tasks.warehouse.health import MAX_EVALUATIONS, MAX_RUNS

CHECKS = ("freshness", "reject_rate", "page_error_rate", "volume", "no_duplicate_urls")


def synthetic(sources: int, runs: int, evaluations: int, days: int) -> WarehouseHealth:
    rng = random.Random(7)
    end = datetime(2026, 12, 1, tzinfo=UTC)
    names = [f"source-{i:04d}" for i in range(sources)]
    run_records = []
    for i in range(runs):
        started = end - timedelta(minutes=15 * (runs - i))
        took = timedelta(seconds=rng.uniform(3, 40))
        status = "failed" if rng.random() < 0.05 else "completed"
        run_records.append(
            RunRecord(f"run-{i}", "ingest", started, started + took, status, 5, 1, 0, 0)
        )
    daily = [
        DailyArticles((end - timedelta(days=d)).date(), name, rng.randint(0, 30))
        for name in names
        for d in range(days)
    ]
    health = [
        SourceHealth(
            name,
            end,
            end - timedelta(hours=rng.uniform(0, 72)),
            rng.randint(0, 3),
            rng.randint(0, 400),
            rng.random() * 0.2,
            rng.random() * 0.1,
            1000,
        )
        for name in names
    ]
    checks = [
        CheckEvaluation(
            rng.choice(CHECKS),
            rng.choice(names),
            "critical",
            rng.random() > 0.1,
            end - timedelta(minutes=rng.uniform(0, 60 * 24 * days)),
        )
        for _ in range(evaluations)
    ]
    checks.sort(key=lambda e: e.checked_at)
    return WarehouseHealth("bench.duckdb", end, days, run_records, daily, health, checks)


def main() -> None:
    for label, health in (
        ("demo size (3 sources, 2 runs)", synthetic(3, 2, 54, 8)),
        ("at the caps (1,000 sources)", synthetic(1000, MAX_RUNS, MAX_EVALUATIONS, 30)),
    ):
        for attempt in ("first", "second"):
            started, cpu = time.perf_counter(), time.process_time()
            page = render_report(health)
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(
                f"{label:32} {attempt:6} render {took:6.2f} s wall, {cpu:6.2f} s CPU, "
                f"{len(page) / 1e6:5.2f} MB"
            )


if __name__ == "__main__":
    main()
