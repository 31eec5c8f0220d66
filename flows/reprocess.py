"""The ``reprocess`` flow: rerun extract → clean → validate → load over the page archive.

``raw_pages`` keeps every fetched page's HTML (gzip) with what extraction needs besides it (URL
after redirects, header charset, the feed entry's headline and date, and the per-source
boilerplate set its run applied; see tasks/warehouse/archive.py). Reprocessing reads it back and
sends it through exactly the path an ingest run uses (``flows/pipeline.extract_and_load``), with
no network at all: no feed is polled, no page is requested, no HTTP client is even made.

Use it after improving extraction, cleaning or the row checks: articles whose content changes
get a new version (``article_versions`` keeps the old one); unchanged articles are left exactly
as they were (``last_seen_at`` and ``run_id`` included: reprocessing sees nothing new on the
sites). So with unchanged code it reproduces ``articles`` row for row. Pages whose extraction
failed before are tried again, and their old error is cleared when they now give an article.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from prefect import flow

from newsflow import progress
from newsflow.flows.pipeline import extract_and_load
from newsflow.flows.scaffold import Run, RunSummary, run_flow
from newsflow.schemas.config import Config
from newsflow.schemas.records import Page
from newsflow.tasks.extract import transform
from newsflow.tasks.extract.boilerplate import learn_boilerplate
from newsflow.tasks.quality import gate
from newsflow.tasks.quality.gate import QualityReport
from newsflow.tasks.quality.tasks import document_row_checks, run_checks
from newsflow.tasks.stories.tasks import cluster_stories
from newsflow.tasks.warehouse.archive import since_datetime, split_by_boilerplate
from newsflow.tasks.warehouse.warehouse import Warehouse


@flow(name="newsflow-reprocess", log_prints=False)
def reprocess(
    config_path: str | None = None,
    db: str | None = None,
    config: Config | None = None,
    source: str | None = None,
    since: str | None = None,
) -> RunSummary:
    """Re-extract and reload archived pages (of ``source``, fetched on or after ``since``)."""

    def stages(run: Run) -> QualityReport:
        return reprocess_stages(run, source=source, since=since)

    return run_flow("reprocess", stages, RunSummary, config_path=config_path, db=db, config=config)


def reprocess_stages(run: Run, *, source: str | None, since: str | None) -> QualityReport:
    warehouse, config, run_id, summary = run.warehouse, run.config, run.run_id, run.summary
    urls = warehouse.archived_urls(source=source, since=since_datetime(since))
    learnt: dict[str, frozenset[str]] = {}  # now; for pages whose run recorded none
    frames: list[Any] = []  # each batch's checked rows, for one Data Docs page per run
    size = max(1, config.fetch.batch_size)
    with (
        progress.progress("Reprocessing pages", len(urls)) as bar,
        transform.extraction_pool(len(urls)) as pool,  # one pool for the whole run
    ):
        for start in range(0, len(urls), size):
            pages = warehouse.raw_pages(urls[start : start + size])
            for name in {p.source for p in pages} - learnt.keys():
                learnt[name] = learn_boilerplate(warehouse.source_line_hashes(name))
            for group, boilerplate in split_by_boilerplate(pages, learnt):
                args = (warehouse, run_id, group, config, boilerplate, summary)
                reprocess_pages(*args, pool=pool, frames=frames)
            bar.advance(len(pages))
    if frames:
        with summary.timed("validate"):
            document_row_checks(frames, gate.data_docs_dir(config, warehouse.published), run_id)
    with summary.timed("clusters"):
        cluster_stories(warehouse, run_id, window_days=config.stories.window_days)
    with summary.timed("checks"):
        return run_checks(
            warehouse,
            run_id,
            config,
            summary.row_checks,
            checked_run_id=warehouse.latest_ingest_run(),
        )


def reprocess_pages(
    warehouse: Warehouse,
    run_id: str,
    pages: list[Page],
    config: Config,
    boilerplate: dict[str, frozenset[str]],
    summary: RunSummary,
    *,
    pool: Executor | None = None,
    frames: list[Any] | None = None,
) -> None:
    """Archived pages through the ingest path; the old errors of pages that now give a loaded
    article are cleared (a page now rejected by the row checks keeps its error, so the reject
    counts of the run that fetched it stand)."""
    loaded = extract_and_load(
        warehouse,
        run_id,
        pages,
        config,
        boilerplate,
        summary,
        touch_unchanged=False,
        pool=pool,
        frames=frames,
    )
    warehouse.clear_page_errors(loaded)
