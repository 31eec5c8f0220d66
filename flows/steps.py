"""The pipeline's Prefect tasks: thin wrappers that give each stage a name, retries and a place
in the run's timeline, and leave the work to the pure functions in ``newsflow.tasks``.

Granularity is one task run per feed poll and one per batch of pages, never one per article:
a task run costs milliseconds of orchestration, extraction of a page about ten.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.schemas.config import Config, SourceConfig
from newsflow.schemas.records import ExtractedArticle, FeedEntry
from newsflow.tasks import feeds, pages, refetch, story_store, thresholds, transform, validate
from newsflow.tasks.extract import release_caches
from newsflow.tasks.http import FetchPolicy, HttpClient
from newsflow.tasks.load import LoadCounts, Warehouse
from newsflow.tasks.retry import fetch_with_retries, retry_policy
from newsflow.tasks.robots import RobotsCache
from newsflow.tasks.validate import ValidationOutcome, validate_articles


def fetch_policy(config: Config, *, kind: str) -> FetchPolicy:
    f = config.fetch
    return FetchPolicy(
        user_agent=f.user_agent,
        connect_timeout_s=f.connect_timeout_s,
        read_timeout_s=f.read_timeout_s,
        deadline_s=f.feed_deadline_s if kind == "feed" else f.page_deadline_s,
        max_bytes=f.max_feed_bytes if kind == "feed" else f.max_page_bytes,
        max_redirects=f.max_redirects,
        allow_private=tuple(f.allow_private),
    )


@task(name="poll-feed", cache_policy=NO_CACHE, task_run_name="poll-{source.name}")
def poll_feed(
    source: SourceConfig,
    config: Config,
    validators: tuple[str | None, str | None],
    url: str | None = None,
) -> feeds.FeedPoll:
    """One conditional GET of one feed, parsed into entries. ``url`` is the feed lifecycle's
    URL to poll (an adopted permanent redirect), else the configured one; transient failures
    are retried (tasks/retry.py)."""
    etag, last_modified = validators
    target = url or source.feed
    headers = feeds.conditional_headers(etag, last_modified)
    with HttpClient(fetch_policy(config, kind="feed")) as client:
        fetched_at = datetime.now(UTC)
        answer, attempts = fetch_with_retries(
            lambda: client.get(target, headers=headers), retry_policy(config.fetch)
        )
    poll = feeds.poll_result(source.name, target, answer, fetched_at, attempts=attempts)
    poll.entries = poll.entries[: config.fetch.max_entries_per_feed]
    return poll


@task(name="fetch-pages", cache_policy=NO_CACHE)
def fetch_batch(
    entries: Sequence[FeedEntry],
    config: Config,
    on_done: Any = None,
    conditional: Mapping[str, Mapping[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """Fetch a batch of article pages: hosts in parallel, each host politely one at a time.

    ``conditional`` holds extra request headers per URL (re-checks: If-None-Match…); every
    page dict comes back with the answer's ``etag`` and ``last_modified`` (tasks/refetch.py).
    """
    local = threading.local()
    clients: list[HttpClient] = []
    policy = fetch_policy(config, kind="page")

    def client() -> HttpClient:
        if not hasattr(local, "client"):
            local.client = HttpClient(policy)
            clients.append(local.client)
        return local.client

    robots = None
    if config.fetch.respect_robots:
        clients.append(HttpClient(policy))
        robots = RobotsCache(clients[-1], config.fetch.user_agent)
    getter = refetch.ValidatorRecorder(
        lambda url, headers: client().get(url, headers=headers),
        pages.page_headers(),
        conditional or {},
    )
    try:
        fetched = pages.fetch_pages(
            entries,
            getter,
            allowed=robots.allowed if robots else None,
            crawl_delay=robots.crawl_delay if robots else None,
            per_host_delay_s=config.fetch.per_host_delay_s,
            max_workers=config.fetch.max_workers,
            on_done=on_done,
            retry=retry_policy(config.fetch),
        )
        return getter.annotate(fetched)
    finally:
        for c in clients:
            c.close()


def html_pages_of(fetched: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pages of a batch that carry HTML to extract."""
    return [p for p in fetched if p.get("content")]


@task(name="extract-pages", cache_policy=NO_CACHE)
def extract_batch(
    fetched: Sequence[dict[str, Any]],
    boilerplate: Mapping[str, frozenset[str]],
    executor: Executor | None = None,
    started: Iterable[ExtractedArticle] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, list[str]]]:
    """Extract and clean the HTML pages of a batch, on ``executor`` (the run's process pool)
    when given, else on a pool of its own if the batch is worth one. ``started``: the batch's
    extraction already handed to the pool (``transform.start_extraction``), to collect.

    Returns article rows, the pages that gave no article (url → reason), and each article's
    line hashes for per-source boilerplate learning.
    """
    html_pages = html_pages_of(fetched)
    if started is not None:
        extracted = list(started)
    else:
        with transform.extraction_pool(len(html_pages), executor) as pool:
            extracted = transform.extract_many(html_pages, boilerplate, executor=pool)
        if pool is None:  # extracted here; this process validates and loads next
            release_caches()
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    line_hashes: dict[str, list[str]] = {}
    for page, article in zip(html_pages, extracted, strict=True):
        if article.error:
            errors[page["url"]] = article.error
            continue
        row = transform.article_row(
            article,
            source=page["source"],
            fetched_url=page["final_url"],
            fetched_at=page["fetched_at"],
            entry=page.get("entry"),
        )
        rows.append(row)
        line_hashes[row["article_id"]] = article.line_hashes
    return rows, errors, line_hashes


@task(name="validate-articles", cache_policy=NO_CACHE)
def validate_batch(
    rows: Sequence[dict[str, Any]],
    config: Config,
    data_docs_dir: Path | None = None,
    run_id: str | None = None,
) -> ValidationOutcome:
    """The row suite over the whole batch: one Great Expectations run.

    ``[checks]`` also holds the table suite's thresholds; only the row suite's go in here.
    With ``data_docs_dir`` the validation lands in the Data Docs site, named by ``run_id``.
    """
    return validate_articles(
        list(rows),
        thresholds=thresholds.split(config.checks)[0],
        source_thresholds={
            s.name: thresholds.split(s.checks)[0] for s in config.sources if s.checks
        },
        expected_language={s.name: s.language for s in config.sources},
        data_docs_dir=data_docs_dir,
        run_id=run_id,
    )


@task(name="document-row-checks", cache_policy=NO_CACHE)
def document_row_checks(frames: Sequence[Any], data_docs_dir: Path, run_id: str) -> Path | None:
    """The run's row checks, every batch's rows, as one page of the Data Docs site."""
    return validate.document_row_checks(frames, data_docs_dir=data_docs_dir, run_id=run_id)


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


@task(name="cluster-stories", cache_policy=NO_CACHE)
def cluster_stories(warehouse: Warehouse, run_id: str) -> story_store.ClusterStats:
    """Group the same story across sources (``story_clusters``) after the run's loads."""
    return story_store.refresh_story_clusters(warehouse, run_id)
