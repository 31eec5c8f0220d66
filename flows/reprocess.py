"""The ``reprocess`` flow: rerun extract → clean → validate → load over the page archive.

``raw_pages`` keeps every fetched page's HTML (gzip) with what extraction needs besides it (URL
after redirects, header charset, the feed entry's headline and date, and the per-source
boilerplate set its run applied; see tasks/archive.py). Reprocessing reads it back and sends it
through exactly the path an ingest run uses (``ingest.extract_and_load``), with no network at
all: no feed is polled, no page is requested, no HTTP client is even made.

Use it after improving extraction, cleaning or the row checks: articles whose content changes
get a new version (``article_versions`` keeps the old one); unchanged articles are left exactly
as they were (``last_seen_at`` and ``run_id`` included: reprocessing sees nothing new on the
sites). So with unchanged code it reproduces ``articles`` row for row. Pages whose extraction
failed before are tried again, and their old error is cleared when they now give an article.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from typing import Any

from prefect import flow

from newsflow.flows import console, quality, steps
from newsflow.flows.ingest import RunSummary, current_run_id, extract_and_load
from newsflow.flows.writer import open_for_writing
from newsflow.schemas.config import Config, load_config
from newsflow.tasks import transform
from newsflow.tasks.archive import since_datetime, split_by_boilerplate
from newsflow.tasks.boilerplate import learn_boilerplate
from newsflow.tasks.load import Warehouse
from newsflow.tasks.table_checks import latest_ingest_run


@flow(name="newsflow-reprocess", log_prints=False)
def reprocess(
    config_path: str | None = None,
    db: str | None = None,
    config: Config | None = None,
    source: str | None = None,
    since: str | None = None,
) -> RunSummary:
    """Re-extract and reload archived pages (of ``source``, fetched on or after ``since``)."""
    started = time.monotonic()
    config = config or load_config(config_path)
    db_path = db or config.warehouse.path
    run_id = current_run_id()
    summary = RunSummary(run_id=run_id, db=db_path)
    since_at = since_datetime(since)

    with open_for_writing(db_path, lock_timeout_s=config.warehouse.lock_timeout_s) as warehouse:
        warehouse.start_run(run_id, "reprocess")
        try:
            urls = warehouse.archived_urls(source=source, since=since_at)
            learnt: dict[str, frozenset[str]] = {}  # now; for pages whose run recorded none
            frames: list[Any] = []  # each batch's checked rows, for one Data Docs page per run
            with (
                console.progress("Reprocessing pages", len(urls)) as bar,
                transform.extraction_pool(len(urls)) as pool,  # one pool for the whole run
            ):
                for start in range(0, len(urls), max(1, config.fetch.batch_size)):
                    pages = warehouse.raw_pages(urls[start : start + config.fetch.batch_size])
                    for name in {p["source"] for p in pages} - learnt.keys():
                        learnt[name] = learn_boilerplate(warehouse.source_line_hashes(name))
                    for group, boilerplate in split_by_boilerplate(pages, learnt):
                        args = (warehouse, run_id, group, config, boilerplate, summary)
                        reprocess_pages(*args, pool=pool, frames=frames)
                    for _ in pages:
                        bar.advance()
            if frames:
                with summary.timed("validate"):
                    docs = quality.data_docs_dir(config, warehouse.published)
                    steps.document_row_checks(frames, docs, run_id)
            with summary.timed("clusters"):
                steps.cluster_stories(warehouse, run_id)
            with summary.timed("checks"):
                report = quality.run_checks(
                    warehouse,
                    run_id,
                    config,
                    summary.row_checks,
                    checked_run_id=latest_ingest_run(warehouse.con),
                )
            quality.apply_to_summary(report, summary)
            warehouse.finish_run(run_id, summary.status, summary.counts(), report.failure_message)
            with summary.timed("publish"):
                warehouse.publish()
            quality.announce(warehouse, report, config)  # never raises
            summary.alerts = quality.alert_summaries(report)
        except BaseException as exc:
            warehouse.finish_run(run_id, "failed", summary.counts(), f"{type(exc).__name__}: {exc}")
            raise
    summary.elapsed_s = time.monotonic() - started
    if summary.critical_failed:
        return quality.failed_state(summary, report.failure_message)
    return summary


def reprocess_pages(
    warehouse: Warehouse,
    run_id: str,
    pages: list[dict[str, Any]],
    config: Config,
    boilerplate: dict[str, frozenset[str]],
    summary: RunSummary,
    *,
    pool: Executor | None = None,
    frames: list[Any] | None = None,
) -> None:
    """Archived pages through the ingest path; old extraction errors of pages that now give an
    article are cleared."""
    errors_before = set(summary.page_errors)
    extract_and_load(
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
    failed = set(summary.page_errors) - errors_before
    warehouse.clear_page_errors(p["url"] for p in pages if p["url"] not in failed)
