"""The ingest flow: one pass over the configured sources.

poll feeds → keep new entries → fetch pages → extract and clean → validate → load → publish.
"""

from __future__ import annotations

import contextvars
import ctypes
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from newsflow.flows import console, feed_lifecycle, quality, steps
from newsflow.flows.writer import open_for_writing
from newsflow.schemas.config import Config, load_config
from newsflow.schemas.records import FeedEntry
from newsflow.tasks import archive, refetch, transform
from newsflow.tasks.boilerplate import learn_boilerplate
from newsflow.tasks.feeds import FeedPoll
from newsflow.tasks.load import LoadCounts, Warehouse
from newsflow.tasks.urls import normalise_url


@dataclass
class RunSummary:
    """What a run did, for the CLI's closing summary and for tests."""

    run_id: str
    db: str
    status: str = "completed"
    feeds_polled: int = 0
    feed_errors: dict[str, str] = field(default_factory=dict)
    pages_fetched: int = 0
    page_errors: dict[str, str] = field(default_factory=dict)  # url → reason
    loaded: LoadCounts = field(default_factory=LoadCounts)
    rejected: dict[str, list[str]] = field(default_factory=dict)  # url → failed checks
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    critical_failed: bool = False
    elapsed_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=dict)  # wall time per stage
    # Data quality (flows/quality.py): row-suite results folded per check over the batches,
    # alerts built this run (kind, title, body, destinations, delivered), this run's Data Docs.
    row_checks: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    data_docs: str | None = None

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_s[stage] = self.stage_s.get(stage, 0.0) + time.perf_counter() - started

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["loaded"] = asdict(self.loaded)
        return data

    def counts(self) -> dict[str, int]:
        return {
            "feeds_polled": self.feeds_polled,
            "pages_fetched": self.pages_fetched,
            "page_errors": len(self.page_errors),
            "articles_new": self.loaded.new,
            "articles_updated": self.loaded.updated,
            "articles_unchanged": self.loaded.unchanged,
            "rejected": len(self.rejected),
            "checks_failed": len(self.checks_failed),
        }


def current_run_id() -> str:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else uuid.uuid4().hex


def new_entries(
    warehouse: Warehouse, polls: list[FeedPoll]
) -> tuple[list[FeedEntry], dict[str, int]]:
    """Entries whose pages have not been handled yet.

    An article listed by two feeds (often with tracking parameters on one link) is fetched once,
    for the source configured first.
    """
    chosen: list[FeedEntry] = []
    per_source: dict[str, int] = {}
    seen_urls: set[str] = set()
    for poll in polls:
        unseen = warehouse.unseen_entry_ids(poll.source, [e.entry_id for e in poll.entries])
        fresh = []
        for entry in poll.entries:
            key = normalise_url(entry.url)
            if entry.entry_id in unseen and key not in seen_urls:
                seen_urls.add(key)
                fresh.append(entry)
        per_source[poll.source] = len(fresh)
        chosen.extend(fresh)
    return chosen, per_source


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


@flow(name="newsflow-ingest", log_prints=False)
def ingest(
    config_path: str | None = None, db: str | None = None, config: Config | None = None
) -> RunSummary:
    """Poll every enabled source once and load what is new."""
    started = time.monotonic()
    config = config or load_config(config_path)
    db_path = db or config.warehouse.path
    run_id = current_run_id()
    summary = RunSummary(run_id=run_id, db=db_path)
    sources = [s for s in config.sources if s.enabled]

    # One writer at a time: deployment limit, Prefect writer slot, DuckDB lock (flows/writer.py).
    with open_for_writing(db_path, lock_timeout_s=config.warehouse.lock_timeout_s) as warehouse:
        warehouse.start_run(run_id, "ingest")
        try:
            # Sources that are gone, paused or waiting out a Retry-After are skipped (and recorded).
            polls, feed_round = feed_lifecycle.poll_sources(warehouse, sources, config)
            release_freed_memory()  # feed bodies (up to max_feed_bytes each) are parsed and gone
            summary.feeds_polled = sum(1 for p in polls if not p.skipped)
            summary.feed_errors = {p.source: p.error for p in polls if p.error}
            entries, per_source = new_entries(warehouse, polls)
            warehouse.record_feed_polls(run_id, polls, per_source)
            feed_lifecycle.save_round(warehouse, run_id, feed_round, config)

            boilerplate = {
                s.name: learn_boilerplate(warehouse.source_line_hashes(s.name)) for s in sources
            }
            archive.save_run_boilerplate(warehouse, run_id, boilerplate)  # reprocess reuses it
            # Recently seen pages are asked for again, conditionally, to catch edits.
            rechecks = refetch.due_for_recheck(
                warehouse, config.fetch, [s.name for s in sources], datetime.now(UTC)
            )
            size = config.fetch.batch_size
            jobs = [(batch, None) for batch in _batches(entries, size)]
            jobs += [(batch, rechecks.headers) for batch in _batches(rechecks.entries, size)]
            frames: list[Any] = []  # each batch's checked rows, for one Data Docs page per run
            pages = len(entries) + len(rechecks)
            with (
                console.progress("Fetching pages", pages) as bar,
                transform.extraction_pool(pages) as pool,
            ):
                run_batches(
                    warehouse, run_id, jobs, config, boilerplate, summary, bar, pool, frames
                )
            if frames:
                with summary.timed("validate"):
                    docs = quality.data_docs_dir(config, warehouse.published)
                    steps.document_row_checks(frames, docs, run_id)
            with summary.timed("clusters"):
                steps.cluster_stories(warehouse, run_id)

            # Valid rows are loaded and rejects recorded; now the table checks and alert state.
            if summary.pages_fetched:
                with summary.timed("checks"):
                    report = quality.run_checks(warehouse, run_id, config, summary.row_checks)
            else:
                # Every feed unchanged: no article moved, so the verdict stands as last evaluated.
                # Freshness over idle ticks is the hourly `checks` flow's job.
                report = quality.standing_report(warehouse, run_id)
            quality.apply_to_summary(report, summary)
            with summary.timed("alerts"):
                quality.announce(warehouse, report, config)  # never raises
            summary.alerts = quality.alert_summaries(report)
            warehouse.finish_run(run_id, summary.status, summary.counts(), report.failure_message)
            with summary.timed("publish"):
                warehouse.publish(articles_changed=summary.pages_fetched > 0)
        except BaseException as exc:
            warehouse.finish_run(run_id, "failed", summary.counts(), f"{type(exc).__name__}: {exc}")
            raise
    summary.elapsed_s = time.monotonic() - started
    if summary.critical_failed:  # Prefect state Failed; a direct call raises with the summary
        return quality.failed_state(summary, report.failure_message)
    return summary


Job = tuple[list[FeedEntry], dict[str, dict[str, str]] | None]


def run_batches(
    warehouse: Warehouse,
    run_id: str,
    jobs: list[Job],
    config: Config,
    boilerplate: dict[str, frozenset[str]],
    summary: RunSummary,
    bar: Any,
    pool: Executor | None,
    frames: list[Any],
) -> None:
    """Batches of pages through fetch → extract → validate → load, the next batch's pages
    downloading while this one is extracted and loaded. Each job is a batch of entries and,
    for re-checks of known pages (tasks/refetch.py), their conditional headers; only re-checked
    pages that changed go on. At most two batches of HTML are in memory at once."""

    def fetch(job: Job) -> Future[list[dict[str, Any]]]:
        # A plain thread running the task in this flow's context: a task run like any other,
        # but unlike ``.submit`` nothing keeps each batch's HTML alive after it is used
        # (measured: ``.submit`` futures grew the run by megabytes per batch).
        batch, conditional = job
        call = partial(steps.fetch_batch, batch, config, lambda _page: bar.advance(), conditional)
        return prefetcher.submit(contextvars.copy_context().run, call)

    def finish(batch: tuple[list[dict[str, Any]], Any] | None) -> None:
        if batch is not None:
            fetched, started = batch
            args = (config, boilerplate, summary)
            extract_and_load(warehouse, run_id, fetched, *args, started=started, frames=frames)

    # Three batches in flight at most: one downloading, one in the extraction pool, and one
    # being validated and loaded here while the pool works.
    previous = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsflow-prefetch") as prefetcher:
        pending = fetch(jobs[0]) if jobs else None
        for index, (_batch, conditional) in enumerate(jobs):
            with summary.timed("fetch"):  # time spent waiting for pages, not hidden behind work
                fetched = pending.result()
            pending = fetch(jobs[index + 1]) if index + 1 < len(jobs) else None
            fetched = archive_fetched(warehouse, run_id, fetched, conditional, summary)
            started = None
            if pool is not None:
                started = transform.start_extraction(
                    steps.html_pages_of(fetched), boilerplate, pool
                )
            finish(previous)
            previous = (fetched, started)
            release_freed_memory()
        finish(previous)
        release_freed_memory()


def release_freed_memory() -> None:
    """Give the heap's free pages back to the OS after a batch. Each batch allocates and frees
    megabytes of HTML and text; glibc keeps freed arenas mapped, so without this a long run's
    RSS creeps up with the number of batches though its live data does not."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def archive_fetched(
    warehouse: Warehouse,
    run_id: str,
    fetched: list[dict[str, Any]],
    conditional: dict[str, dict[str, str]] | None,
    summary: RunSummary,
) -> list[dict[str, Any]]:
    """Archive a fetched batch and return the pages that go on: re-checked pages that did not
    change stop here."""
    summary.pages_fetched += len(fetched)
    if conditional is not None:
        fetched = refetch.keep_changed(warehouse, fetched)
    with summary.timed("archive"):
        warehouse.save_pages(run_id, fetched)
    summary.page_errors.update({p["url"]: p["error"] for p in fetched if p["error"]})
    return fetched


def extract_and_load(
    warehouse: Warehouse,
    run_id: str,
    fetched: list[dict[str, Any]],
    config: Config,
    boilerplate: dict[str, frozenset[str]],
    summary: RunSummary,
    *,
    touch_unchanged: bool = True,
    pool: Executor | None = None,
    started: Any = None,
    frames: list[Any] | None = None,
) -> None:
    """Fetched (or archived) pages through extract → validate → load: the path ``ingest`` and
    ``reprocess`` share, so both give the same rows for the same HTML.

    With ``frames``, the checked rows are collected there for one Data Docs page at the end of
    the run; without, this validation goes into the Data Docs itself."""
    with summary.timed("extract"):
        rows, extract_errors, line_hashes = steps.extract_batch(fetched, boilerplate, pool, started)
    warehouse.mark_page_errors(extract_errors)
    summary.page_errors.update(extract_errors)
    with summary.timed("validate"):
        docs = None if frames is not None else quality.data_docs_dir(config, warehouse.published)
        outcome = steps.validate_batch(rows, config, docs, run_id)
        if frames is not None:
            frames.append(outcome.frame)
    with summary.timed("load"):
        summary.loaded += steps.load_batch(
            warehouse, run_id, outcome, line_hashes, touch_unchanged=touch_unchanged
        )
    summary.rejected.update({r.record["url"]: r.failed_checks for r in outcome.rejected})
    quality.tally_row_results(summary.row_checks, outcome.results)  # counted once per run
