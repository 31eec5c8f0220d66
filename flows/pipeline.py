"""The batch pump shared by ``ingest`` and ``reprocess``: pages in batches through
fetch → archive → extract → validate → load, the next batch downloading while the current one
is extracted and loaded, so both flows give the same rows for the same HTML.

Archiving a page does not finish its feed entry: the load that stores its outcome does, in the
same transaction. Pages a killed run archived but never loaded are finished by the next ingest
from the archive (``finish_archived``), before it fetches anything new.
"""

from __future__ import annotations

import contextvars
import ctypes
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from typing import Any

from newsflow.flows.scaffold import Run, RunSummary
from newsflow.schemas.config import Config
from newsflow.schemas.records import FeedEntry, Page
from newsflow.tasks.extract import transform
from newsflow.tasks.extract.tasks import extract_batch, html_pages_of
from newsflow.tasks.fetch import refetch
from newsflow.tasks.fetch.feeds import FeedPoll
from newsflow.tasks.fetch.tasks import fetch_batch
from newsflow.tasks.fetch.urls import normalise_url
from newsflow.tasks.quality import gate
from newsflow.tasks.quality.gate import QualityReport
from newsflow.tasks.quality.tasks import document_row_checks, run_checks, validate_batch
from newsflow.tasks.stories.tasks import cluster_stories
from newsflow.tasks.warehouse.archive import split_by_boilerplate
from newsflow.tasks.warehouse.tasks import load_batch
from newsflow.tasks.warehouse.warehouse import Warehouse


def new_entries(
    warehouse: Warehouse,
    polls: list[FeedPoll],
    now: datetime | None = None,
    not_due: Collection[str] = (),
) -> tuple[list[FeedEntry], dict[str, int]]:
    """Entries whose pages have not been handled yet: those the feeds list now, then those an
    earlier run kept (``pending`` after a kill, a ``retry`` that is due) that the feed no
    longer lists or did not send (304). ``per_source`` counts the entries listed now.

    An article listed by two feeds (often with tracking parameters on one link) is fetched once,
    for the source configured first. Sources not polled (paused, waiting out a Retry-After)
    get no page requests either.
    """
    now = now or datetime.now(UTC)
    chosen: list[FeedEntry] = []
    per_source: dict[str, int] = {}
    seen_urls: set[str] = set()
    listed: set[tuple[str, str]] = set()

    def take(entry: FeedEntry) -> bool:
        key = normalise_url(entry.url)
        if key in seen_urls or (entry.source, entry.entry_id) in listed:
            return False
        seen_urls.add(key)
        listed.add((entry.source, entry.entry_id))
        chosen.append(entry)
        return True

    for poll in polls:
        unseen = warehouse.unseen_entry_ids(poll.source, [e.entry_id for e in poll.entries], now)
        per_source[poll.source] = sum(
            take(entry) for entry in poll.entries if entry.entry_id in unseen
        )
    polled = [p.source for p in polls if not p.skipped]
    # Sources adaptive polling left alone this run (``not_due``) still get their retries.
    for entry in warehouse.due_entries([*polled, *not_due], now):
        take(entry)
    return chosen, per_source


def first_try_errors(
    entries: list[FeedEntry],
    tried_before: Collection[tuple[str, str]],
    page_errors: Mapping[str, str],
) -> tuple[int, dict[str, str]]:
    """How many of ``entries`` were first tries, and the errors of those pages: what the
    dead-run rule judges pages on (flows/outcome.py), so that a known-bad page retried and
    failing again does not make a run dead. ``tried_before``: (source, entry_id) pairs."""
    first = [e for e in entries if (e.source, e.entry_id) not in tried_before]
    return len(first), {e.url: page_errors[e.url] for e in first if e.url in page_errors}


def batches(items: list[Any], size: int) -> list[list[Any]]:
    """``items`` in slices of ``size`` (at least 1), the last one shorter."""
    size = max(1, size)
    return [items[i : i + size] for i in range(0, len(items), size)]


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
    for re-checks of known pages (tasks/fetch/refetch.py), their conditional headers; only
    re-checked pages that changed go on. At most two batches of HTML are in memory at once."""

    def fetch(job: Job) -> Future[list[Page]]:
        # A plain thread running the task in this flow's context: a task run like any other,
        # but unlike ``.submit`` nothing keeps each batch's HTML alive after it is used
        # (measured: ``.submit`` futures grew the run by megabytes per batch).
        batch, conditional = job
        call = partial(fetch_batch, batch, config.fetch, lambda _page: bar.advance(), conditional)
        return prefetcher.submit(contextvars.copy_context().run, call)

    def finish(batch: tuple[list[Page], Any] | None) -> None:
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
            fetched = archive_fetched(warehouse, run_id, fetched, conditional, summary, config)
            started = None
            if pool is not None:
                started = transform.start_extraction(html_pages_of(fetched), boilerplate, pool)
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
    fetched: list[Page],
    conditional: dict[str, dict[str, str]] | None,
    summary: RunSummary,
    config: Config,
) -> list[Page]:
    """Archive a fetched batch and return the pages that go on: re-checked pages that did not
    change stop here."""
    summary.pages_fetched += len(fetched)
    if conditional is not None:
        fetched = refetch.keep_changed(warehouse, fetched)
    with summary.timed("archive"):
        warehouse.save_pages(run_id, fetched, config.fetch.retry_schedule())
    summary.page_errors.update({p.url: p.error for p in fetched if p.error})
    return fetched


def extract_and_load(
    warehouse: Warehouse,
    run_id: str,
    fetched: list[Page],
    config: Config,
    boilerplate: dict[str, frozenset[str]],
    summary: RunSummary,
    *,
    touch_unchanged: bool = True,
    pool: Executor | None = None,
    started: Any = None,
    frames: list[Any] | None = None,
) -> set[str]:
    """Fetched (or archived) pages through extract → validate → load: the path ``ingest`` and
    ``reprocess`` share, so both give the same rows for the same HTML.

    With ``frames``, the checked rows are collected there for one Data Docs page at the end of
    the run; without, this validation goes into the Data Docs itself.

    Returns the URLs of the pages that gave a loaded article (not a rejected one), so that
    reprocess forgets the old error of exactly those pages."""
    with summary.timed("extract"):
        rows, extract_errors, line_hashes = extract_batch(fetched, boilerplate, pool, started)
    summary.page_errors.update(extract_errors)
    with summary.timed("validate"):
        docs = None if frames is not None else gate.data_docs_dir(config, warehouse.published)
        outcome = validate_batch(rows, config, docs, run_id)
        if frames is not None:
            frames.append(outcome.frame)
    with summary.timed("load"):
        # The batch's outcomes and its entries' ``done`` commit together (load_batch).
        summary.loaded += load_batch(
            warehouse,
            run_id,
            outcome,
            line_hashes,
            touch_unchanged=touch_unchanged,
            pages=html_pages_of(fetched),
            page_errors=extract_errors,
        )
    summary.rejected.update({r.record["url"]: r.failed_checks for r in outcome.rejected})
    gate.tally_row_results(summary.row_checks, outcome.results)  # counted once per run
    return loaded_page_urls(html_pages_of(fetched), extract_errors, rows, outcome.valid)


def loaded_page_urls(
    html_pages: list[Page],
    extract_errors: dict[str, str],
    rows: list[dict[str, Any]],
    valid: list[dict[str, Any]],
) -> set[str]:
    """The pages whose article passed the row checks. ``extract_batch`` gives one row per HTML
    page without an extraction error, in page order; a row's URL is the article's canonical
    URL, not the page's, so pages are matched to valid rows through that order."""
    extracted = [p for p in html_pages if p.url not in extract_errors]
    valid_ids = {r["article_id"] for r in valid}
    return {
        page.url
        for page, row in zip(extracted, rows, strict=True)
        if row["article_id"] in valid_ids
    }


def finish_archived(
    warehouse: Warehouse,
    run_id: str,
    urls: list[str],
    config: Config,
    current: dict[str, frozenset[str]],
    summary: RunSummary,
    *,
    pool: Executor | None = None,
    frames: list[Any] | None = None,
) -> None:
    """Extract and load the archived pages whose outcome was never stored (``urls``: a run was
    killed between archiving and loading them), from the archive, without refetching; each with
    the boilerplate set its own run applied."""
    size = config.fetch.batch_size
    for group, boilerplate in archived_groups(warehouse, urls, size, lambda _pages: current):
        extract_and_load(
            warehouse, run_id, group, config, boilerplate, summary, pool=pool, frames=frames
        )


def archived_groups(
    warehouse: Warehouse,
    urls: list[str],
    size: int,
    current_for: Callable[[list[Page]], Mapping[str, frozenset[str]]],
) -> Iterator[tuple[list[Page], dict[str, frozenset[str]]]]:
    """Archived pages, ``size`` at a time, in groups that share one boilerplate set per source,
    each with its source → set mapping (``split_by_boilerplate``). ``current_for(pages)`` gives
    the sets for pages whose run recorded none: ingest's learnt-at-start sets, or reprocess's
    learnt on first sight of a source. At most one batch of HTML is held at once."""
    for chunk in batches(urls, size):
        pages = warehouse.raw_pages(chunk)
        yield from split_by_boilerplate(pages, current_for(pages))
        del pages  # the batch's HTML is garbage once its groups are done: trim it away
        release_freed_memory()


def after_loads(
    run: Run[RunSummary],
    frames: list[Any],
    *,
    checked_run_id: str | None = None,
    idle: bool = False,
) -> QualityReport:
    """How ``ingest`` and ``reprocess`` end once every batch is loaded: one Data Docs page over
    the run's checked rows, the story clusters refreshed, then the table checks (of
    ``checked_run_id``'s rates when given). ``idle``: nothing was fetched or loaded, so the
    verdict stands as last evaluated and the checks are not run again (freshness over idle
    ticks is the hourly ``checks`` flow's job)."""
    warehouse, config, run_id, summary = run.warehouse, run.config, run.run_id, run.summary
    if frames:
        with summary.timed("validate"):
            document_row_checks(frames, gate.data_docs_dir(config, warehouse.published), run_id)
    with summary.timed("clusters"):
        cluster_stories(warehouse, run_id, window_days=config.stories.window_days)
    if idle:
        return gate.standing_report(warehouse, run_id)
    with summary.timed("checks"):
        return run_checks(
            warehouse, run_id, config, summary.row_checks, checked_run_id=checked_run_id
        )
