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
from newsflow.flows.pipeline import after_loads, archived_groups, extract_and_load
from newsflow.flows.scaffold import Run, RunSummary, run_flow
from newsflow.schemas.config import Config
from newsflow.schemas.records import Page
from newsflow.tasks.extract import transform
from newsflow.tasks.extract.tasks import source_boilerplate
from newsflow.tasks.quality.gate import QualityReport
from newsflow.tasks.warehouse.archive import since_datetime
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

    def stages(run: Run[RunSummary]) -> QualityReport:
        return reprocess_stages(run, source=source, since=since)

    return run_flow("reprocess", stages, RunSummary, config_path=config_path, db=db, config=config)


def reprocess_stages(
    run: Run[RunSummary], *, source: str | None, since: str | None
) -> QualityReport:
    warehouse, config, run_id, summary = run.warehouse, run.config, run.run_id, run.summary
    urls = warehouse.archived_urls(source=source, since=since_datetime(since))
    learnt: dict[str, frozenset[str]] = {}  # now; for pages whose run recorded none

    def learn_on_first_sight(pages: list[Page]) -> dict[str, frozenset[str]]:
        learnt.update(
            source_boilerplate(warehouse, sorted({p.source for p in pages} - learnt.keys()))
        )
        return learnt

    frames: list[Any] = []  # each batch's checked rows, for one Data Docs page per run
    size = config.fetch.batch_size
    with (
        progress.progress("Reprocessing pages", len(urls)) as bar,
        transform.extraction_pool(len(urls)) as pool,  # one pool for the whole run
    ):
        for group, boilerplate in archived_groups(warehouse, urls, size, learn_on_first_sight):
            args = (warehouse, run_id, group, config, boilerplate, summary)
            reprocess_pages(*args, pool=pool, frames=frames)
            bar.advance(len(group))
    return after_loads(run, frames, checked_run_id=warehouse.latest_ingest_run())


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
