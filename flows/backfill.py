"""The backfill flow: a source's past articles from its site's sitemaps.

read the sitemaps (once per job) → queue the URLs in the window → finish what a killed backfill
archived → fetch pages → extract and clean → validate → load → stories → table checks →
(announce, finish, publish: flows/scaffold.py).

The pages go through the batch pump of ``ingest`` (``flows/pipeline.run_batches``): the same
politeness, robots.txt, caps, address guard, retries, batches (one task run per batch of pages)
and writer slot, and rows marked ``origin = 'backfill'``. A job is the source, the window and
``--max``: run again while unfinished it resumes (the sitemaps are not read again once their
URLs are queued); run again once finished it does nothing.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prefect import flow

from newsflow import progress
from newsflow.flows.pipeline import (
    after_loads,
    archived_groups,
    batches,
    extract_and_load,
    run_batches,
)
from newsflow.flows.scaffold import Run, RunSummary, run_flow
from newsflow.schemas.config import Config, ConfigError
from newsflow.tasks.extract import transform
from newsflow.tasks.extract.tasks import source_boilerplate
from newsflow.tasks.fetch import sitemaps
from newsflow.tasks.fetch.sitemap_tasks import discover_sitemaps
from newsflow.tasks.quality import gate
from newsflow.tasks.quality.gate import QualityReport
from newsflow.tasks.warehouse.backfill_store import BACKFILL
from newsflow.tasks.warehouse.warehouse import Warehouse


@dataclass
class BackfillSummary(RunSummary):
    """What a backfill run did, besides what every run does."""

    source: str = ""
    job_id: str = ""
    already_done: bool = False  # the same backfill finished before: nothing was done
    resumed: bool = False  # the job's URLs were queued by an earlier, interrupted run
    sitemaps_read: int = 0
    urls_listed: int = 0  # the site's article URLs in its sitemaps, in or out of the window
    urls_queued: int = 0  # in the window and new to newsflow
    sitemap_errors: list[str] = field(default_factory=list)
    remaining: int = 0  # URLs still to fetch (retries not due yet); 0 once finished

    def dead_reason(self) -> str | None:
        if self.sitemaps_read and not self.urls_listed and not self.resumed:
            why = f": {self.sitemap_errors[0]}" if self.sitemap_errors else ""
            return f"no sitemap of source {self.source} listed an article URL{why}"
        return super().dead_reason()


def job_id(
    source: str, since: datetime | None, until: datetime | None, max_items: int | None
) -> str:
    """The same command (source, window, --max) is the same job."""
    key = "|".join(
        [
            source,
            since.isoformat() if since else "",
            until.isoformat() if until else "",
            str(max_items or ""),
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def parse_day(value: str | None, option: str) -> datetime | None:
    """``--since`` / ``--until``: a date (midnight UTC) or an ISO datetime (UTC if no zone)."""
    if value is None:
        return None
    when = sitemaps.parse_w3c_date(value)
    if when is None:
        raise ConfigError(f"{option}: {value!r} is not a date (YYYY-MM-DD or an ISO datetime)")
    return when


@flow(name="newsflow-backfill", log_prints=False)
def backfill(
    source: str,
    since: str | None = None,
    until: str | None = None,
    max_items: int | None = None,
    config_path: str | None = None,
    db: str | None = None,
    config: Config | None = None,
) -> BackfillSummary:
    """Load ``source``'s articles of ``[since, until)`` from its site's sitemaps."""
    start, end = parse_day(since, "--since"), parse_day(until, "--until")
    if start and end and end <= start:
        raise ConfigError("--until must be after --since")

    def stages(run: Run[BackfillSummary]) -> QualityReport:
        return backfill_stages(run, source=source, since=start, until=end, max_items=max_items)

    return run_flow(
        "backfill", stages, BackfillSummary, config_path=config_path, db=db, config=config
    )


def backfill_stages(
    run: Run[BackfillSummary],
    *,
    source: str,
    since: datetime | None,
    until: datetime | None,
    max_items: int | None,
) -> QualityReport:
    warehouse, config, run_id, summary = run.warehouse, run.config, run.run_id, run.summary
    configured = {s.name: s for s in config.sources}
    if source not in configured:
        raise ConfigError(
            f"--source: no source named {source!r} in the config "
            f"(sources: {', '.join(configured) or 'none'})"
        )
    warehouse.origin = BACKFILL  # raw_pages, seen_entries and new articles say so
    summary.source = source
    now = datetime.now(UTC)
    summary.at_stage("discover sitemaps")
    job = warehouse.open_backfill_job(
        job_id(source, since, until, max_items), source, since, until, max_items, now, run_id
    )
    summary.job_id = job.job_id
    if job.finished:
        summary.already_done = True
        return gate.standing_report(warehouse, run_id)
    summary.resumed = job.discovered
    if not job.discovered:
        discovery = discover_sitemaps(configured[source].feed, config.fetch, since)
        chosen = sitemaps.in_window(discovery.items, since, until, max_items)
        known = warehouse.known_page_urls([i.url for i in chosen])
        chosen = [i for i in chosen if i.url not in known]
        warehouse.queue_backfill(
            job.job_id,
            source,
            run_id,
            chosen,
            documents=discovery.documents,
            listed=len(discovery.items),
            errors=discovery.errors,
            now=now,
        )
        summary.sitemaps_read, summary.urls_listed = discovery.documents, len(discovery.items)
        summary.urls_queued, summary.sitemap_errors = len(chosen), discovery.errors
    else:
        summary.urls_queued = job.urls_queued

    entries = warehouse.backfill_due(job.job_id, now)
    boilerplate = source_boilerplate(warehouse, [source])
    warehouse.save_run_boilerplate(run_id, boilerplate)  # reprocess reuses it
    jobs = [(batch, None) for batch in batches(entries, config.fetch.batch_size)]
    frames: list[Any] = []
    summary.at_stage("fetch pages")
    unfinished = warehouse.unfinished_urls()  # this origin's pages a killed backfill archived
    with transform.extraction_pool(len(entries) + len(unfinished)) as pool:
        finish_backfill_archive(
            warehouse, run_id, unfinished, config, boilerplate, summary, pool, frames
        )
        with progress.progress("Backfilling pages", len(entries)) as bar:
            run_batches(warehouse, run_id, jobs, config, boilerplate, summary, bar, pool, frames)
    summary.new_pages = len(entries)
    summary.new_page_errors = {
        e.url: summary.page_errors[e.url] for e in entries if e.url in summary.page_errors
    }
    states = warehouse.backfill_states(job.job_id)
    summary.remaining = sum(states.get(s, 0) for s in ("pending", "archived", "retry"))
    if not summary.remaining:
        warehouse.finish_backfill_job(job.job_id, datetime.now(UTC))
    return after_loads(run, frames, idle=not (summary.pages_fetched or unfinished))


def finish_backfill_archive(
    warehouse: Warehouse,
    run_id: str,
    urls: list[str],
    config: Config,
    boilerplate: dict[str, frozenset[str]],
    summary: BackfillSummary,
    pool: Executor | None,
    frames: list[Any],
) -> None:
    """Pages a killed backfill archived but never loaded, from the archive (as
    ``pipeline.finish_archived``), each with its backfill entry, so the sitemap's date and
    lastmod count as they would have."""
    size = config.fetch.batch_size
    for group, sets in archived_groups(warehouse, urls, size, lambda _pages: boilerplate):
        entries = warehouse.backfill_entries([p.url for p in group])
        for page in group:
            page.entry = entries.get(page.url, page.entry)
        extract_and_load(warehouse, run_id, group, config, sets, summary, pool=pool, frames=frames)
