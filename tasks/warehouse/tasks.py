"""The warehouse stage's Prefect task: one load per batch of validated rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.schemas.records import Page
from newsflow.tasks.quality.validate import ValidationOutcome
from newsflow.tasks.warehouse.warehouse import LoadCounts, Warehouse


@task(name="load-articles", cache_policy=NO_CACHE)
def load_batch(
    warehouse: Warehouse,
    run_id: str,
    outcome: ValidationOutcome,
    line_hashes: Mapping[str, list[str]],
    touch_unchanged: bool = True,
    pages: Sequence[Page] = (),
    page_errors: Mapping[str, str] | None = None,
) -> LoadCounts:
    """Valid rows into ``articles``, rejects into ``rejected_articles``, extraction errors into
    ``raw_pages.error``, results into ``dq_results``, and the entries of ``pages`` marked done:
    one transaction, so an entry is done exactly when its outcome is stored.
    ``touch_unchanged=False``: reprocessing, nothing was seen on the site, and its rejects
    replace those of earlier reprocess runs."""
    with warehouse.batch():
        counts = warehouse.load_articles(
            run_id,
            outcome.valid,
            {r["article_id"]: line_hashes.get(r["article_id"], []) for r in outcome.valid},
            touch_unchanged=touch_unchanged,
        )
        rejected = [
            {
                "url": r.record["url"],
                "source": r.record["source"],
                "failed_checks": r.failed_checks,
                "details": r.details,
                "record": r.record,
            }
            for r in outcome.rejected
        ]
        judged = [] if touch_unchanged else [r["url"] for r in (*outcome.valid, *rejected)]
        warehouse.save_rejections(run_id, rejected, replacing=judged)
        warehouse.mark_page_errors(dict(page_errors or {}))
        warehouse.save_dq_results(run_id, outcome.results)
        warehouse.mark_entries_done(pages)
    return counts
