"""From fetched pages to article rows: extract + clean each page, then shape the row.

The same path serves ``run`` (pages just fetched) and ``reprocess`` (pages from the archive),
and ``extract`` (local files) runs the same ``extract_article``, so all three give identical
records for identical HTML.

Extraction is the pipeline's irreducible CPU cost, so a large batch is spread over a process
pool sized to the cores; a small batch is extracted in-process, where a pool would cost more
to start than it saves.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from multiprocessing import get_context
from typing import Any

from newsflow.schemas.records import ExtractedArticle, FeedEntry, Page
from newsflow.tasks.extract.extract import extract_article
from newsflow.tasks.fetch.urls import article_id, canonical_url

#: Below this many pages, extraction runs in-process.
POOL_THRESHOLD = 24


def content_hash(title: str, text: str) -> str:
    """What decides whether an article changed: its headline and its body, nothing else."""
    return hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()


def word_count(text: str) -> int:
    return len(text.split())


def article_row(
    extracted: ExtractedArticle,
    *,
    source: str,
    fetched_url: str,
    fetched_at: datetime,
    entry: FeedEntry | None = None,
) -> dict[str, Any]:
    """The ``articles`` row for one extracted page (before validation).

    Page metadata wins over the feed's, because the page is what the publisher shows readers;
    the feed fills what the page leaves out (a headline, a date).
    """
    url = canonical_url(fetched_url, extracted.canonical_url)
    title = (extracted.title or (entry.title if entry else None) or "").strip()
    published, published_source = extracted.published_at, extracted.published_at_source
    if published is None:
        published = entry.published_at if entry else None
        published_source = (entry.date_source if entry else None) if published else None
    elif published_source is None:  # a page date whose origin extraction did not record
        published_source = "guessed"
    # Only a sitemap's lastmod says anything about when: flagged, never taken as the date.
    lastmod_only = published is None and entry is not None and entry.lastmod is not None
    return {
        "article_id": article_id(url),
        "url": url,
        "source": source,
        "title": title,
        "text": extracted.text,
        "authors": list(extracted.authors),
        "published_at": published,
        "published_at_source": published_source,
        "language": extracted.language,
        "captions": [c.model_dump() for c in extracted.captions],
        "description": extracted.description,  # read by the row checks, not stored
        "word_count": word_count(extracted.text),
        "content_hash": content_hash(title, extracted.text),
        "fetched_at": fetched_at,
        # the warning checks add theirs (tasks/quality/gate.py)
        "quality_flags": ["date_from_lastmod_only"] if lastmod_only else [],
    }


#: What the extraction pool is sent per page (it pickles it): the HTML, the URL after
#: redirects, the source's boilerplate hashes and the header's charset label, nothing more.
_Job = tuple[bytes, str, frozenset[str], str | None]


def _job(page: Page, boilerplate: Mapping[str, frozenset[str]]) -> _Job:
    return (
        page.content or b"",
        page.final_url,
        boilerplate.get(page.source, frozenset()),
        page.charset,
    )


def _extract_one(job: _Job) -> ExtractedArticle:
    html, url, boilerplate, charset = job
    return extract_article(html, url, boilerplate=boilerplate, charset=charset)


def extract_many(
    pages: Sequence[Page],
    boilerplate: Mapping[str, frozenset[str]] | None = None,
    *,
    executor: Executor | None = None,
) -> list[ExtractedArticle]:
    """Extract pages that carry HTML, order kept."""
    if executor is None:
        return [_extract_one(_job(p, boilerplate or {})) for p in pages]
    return list(start_extraction(pages, boilerplate, executor))


def start_extraction(
    pages: Sequence[Page],
    boilerplate: Mapping[str, frozenset[str]] | None,
    executor: Executor,
) -> Iterator[ExtractedArticle]:
    """Hand the pages to ``executor`` now and return their results lazily, in order: the
    caller can validate and load the previous batch while the pool extracts this one."""
    jobs = [_job(p, boilerplate or {}) for p in pages]
    chunk = max(1, len(jobs) // (4 * (os.cpu_count() or 1)))
    return executor.map(_extract_one, jobs, chunksize=chunk)  # submits every job at once


def make_pool(pages: int) -> ProcessPoolExecutor | None:
    """A process pool when the work is worth one; spawn, not fork: the parent runs threads."""
    cores = os.cpu_count() or 1
    if pages < POOL_THRESHOLD or cores < 2:
        return None
    pool = ProcessPoolExecutor(
        max_workers=cores,
        mp_context=get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )
    _start_ignoring_ctrl_c(pool, cores)
    return pool


def _start_ignoring_ctrl_c(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start the workers now, with SIGINT ignored while they are spawned: an ignored signal
    stays ignored across ``exec``, so a Ctrl-C while a worker still imports (seconds) prints
    no traceback of its own; the run's process handles it. Only the main thread may change a
    signal's handler: elsewhere the workers start on first use, and the initializer ignores
    SIGINT from then on."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for _ in range(workers):  # each submit to an idle pool spawns one worker
            pool.submit(int)
    finally:
        signal.signal(signal.SIGINT, previous)


def _exit_with_parent(parent: int, poll_s: float = 1.0) -> None:
    """In each worker: ignore Ctrl-C, and exit when the run's process is gone. A worker
    blocks reading its task queue, whose write end it holds too, so a run killed with ``-9``
    would otherwise leave its workers (and their copies of the run's stdout) alive for good."""
    import signal
    import threading
    import time

    # Ctrl-C reaches every process of the terminal's foreground group: the run's process
    # handles it (one line, the run recorded cancelled) and ends the pool; a worker stopping
    # on it too would only print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


@contextmanager
def extraction_pool(pages: int, given: Executor | None = None) -> Iterator[Executor | None]:
    """``given`` if there is one (a run starts its pool once), else a pool for these pages
    alone if they are worth one, shut down afterwards."""
    if given is not None:
        yield given
        return
    pool = make_pool(pages)
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown()
