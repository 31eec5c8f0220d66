"""The warehouse stage's Prefect task: one load per batch of validated rows."""

from __future__ import annotations

from collections.abc import Mapping

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.tasks.quality.validate import ValidationOutcome
from newsflow.tasks.warehouse.warehouse import LoadCounts, Warehouse


@task(name="load-articles", cache_policy=NO_CACHE)
def load_batch(
    warehouse: Warehouse,
    run_id: str,
    outcome: ValidationOutcome,
    line_hashes: Mapping[str, list[str]],
    touch_unchanged: bool = True,
) -> LoadCounts:
    """Valid rows into ``articles``, rejects into ``rejected_articles``, results into
    ``dq_results``. ``touch_unchanged=False``: reprocessing, nothing was seen on the site."""
    counts = warehouse.load_articles(
        run_id,
        outcome.valid,
        {r["article_id"]: line_hashes.get(r["article_id"], []) for r in outcome.valid},
        touch_unchanged=touch_unchanged,
    )
    warehouse.save_rejections(
        run_id,
        [
            {
                "url": r.record["url"],
                "source": r.record["source"],
                "failed_checks": r.failed_checks,
                "details": r.details,
                "record": r.record,
            }
            for r in outcome.rejected
        ],
    )
    warehouse.save_dq_results(run_id, outcome.results)
    return counts
