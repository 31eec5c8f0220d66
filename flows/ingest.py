"""The ingest flow: one pass over the configured sources.

poll feeds → keep new entries → finish what a killed run archived → fetch pages → extract and
clean → validate → load → stories → table checks → (announce, finish, publish: flows/scaffold.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from prefect import flow

from newsflow import progress
from newsflow.flows.pipeline import (
    after_loads,
    batches,
    finish_archived,
    first_try_errors,
    new_entries,
    release_freed_memory,
    run_batches,
)
from newsflow.flows.scaffold import Run, RunSummary, run_flow
from newsflow.schemas.config import Config
from newsflow.tasks.extract import transform
from newsflow.tasks.extract.tasks import source_boilerplate
from newsflow.tasks.fetch import lifecycle, refetch
from newsflow.tasks.quality.gate import QualityReport


@flow(name="newsflow-ingest", log_prints=False)
def ingest(
    config_path: str | None = None,
    db: str | None = None,
    config: Config | None = None,
    retry_failed: bool = False,
    retry_sources: list[str] | None = None,
) -> RunSummary:
    """Poll every enabled source once and load what is new. ``retry_failed``: pages that
    failed before (of ``retry_sources``, default every enabled source) are due now, given-up
    ones included, whatever their retry schedule says."""
    stages = partial(ingest_stages, retry_failed=retry_failed, retry_sources=retry_sources)
    return run_flow("ingest", stages, RunSummary, config_path=config_path, db=db, config=config)


def ingest_stages(
    run: Run[RunSummary], *, retry_failed: bool = False, retry_sources: list[str] | None = None
) -> QualityReport:
    warehouse, config, run_id, summary = run.warehouse, run.config, run.run_id, run.summary
    sources = [s for s in config.sources if s.enabled]
    if retry_failed:
        names = retry_sources or [s.name for s in sources]
        summary.pages_due_again = warehouse.retry_failed_now(names)

    # Sources that are gone, paused or waiting out a Retry-After are skipped (and recorded).
    summary.at_stage("poll feeds")  # the stage a failure is reported at, until the next one
    polls, feed_round = lifecycle.poll_sources(warehouse, sources, config)
    release_freed_memory()  # feed bodies (up to max_feed_bytes each) are parsed and gone
    summary.feeds_polled = sum(1 for p in polls if not p.skipped)
    summary.feed_errors = {p.source: p.error for p in polls if p.error}
    summary.feeds_failed = {p.source: p.error for p in polls if p.gave_nothing}
    entries, per_source = new_entries(warehouse, polls, not_due=feed_round.not_due)
    # Retries of pages that failed before are left out of the dead-run rule (flows/outcome.py).
    tried_before = warehouse.entries_tried_before([(e.source, e.entry_id) for e in entries])
    warehouse.record_feed_polls(run_id, polls, per_source, entries)
    lifecycle.save_round(warehouse, run_id, feed_round, config)

    boilerplate = source_boilerplate(warehouse, [s.name for s in sources])
    warehouse.save_run_boilerplate(run_id, boilerplate)  # reprocess reuses it
    # Recently seen pages are asked for again, conditionally, to catch edits.
    rechecks = refetch.due_for_recheck(
        warehouse, config.fetch, [s.name for s in sources], datetime.now(UTC)
    )
    size = config.fetch.batch_size
    jobs = [(batch, None) for batch in batches(entries, size)]
    jobs += [(batch, rechecks.headers) for batch in batches(rechecks.entries, size)]
    frames: list[Any] = []  # each batch's checked rows, for one Data Docs page per run
    summary.at_stage("fetch pages")
    pages = len(entries) + len(rechecks)
    unfinished = warehouse.unfinished_urls()  # archived by a killed run, never loaded
    with transform.extraction_pool(pages + len(unfinished)) as pool:
        finish_archived(
            warehouse, run_id, unfinished, config, boilerplate, summary, pool=pool, frames=frames
        )
        with progress.progress("Fetching pages", pages) as bar:
            run_batches(warehouse, run_id, jobs, config, boilerplate, summary, bar, pool, frames)
    warehouse.save_run_boilerplate(run_id, boilerplate)  # grown by the run's own articles
    summary.new_pages, summary.new_page_errors = first_try_errors(
        entries, tried_before, summary.page_errors
    )
    # Every feed unchanged: no article moved, so the verdict stands as last evaluated.
    return after_loads(run, frames, idle=not (summary.pages_fetched or unfinished))
