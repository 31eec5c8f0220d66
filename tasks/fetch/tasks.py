"""The fetch stage's Prefect tasks: one task run per batch of feeds and one per batch of pages
(never one per feed or article at a thousand sources: a task run costs milliseconds of
orchestration, and Prefect walks its parameters, so they are the fetch settings, not the
whole config). The work is done by
the pure and I/O functions beside them (``feeds``, ``pages``, ``http``)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.schemas.config import FetchConfig
from newsflow.schemas.records import FeedEntry, FetchResult, Page
from newsflow.tasks.fetch import feeds, pages
from newsflow.tasks.fetch.domains import domain_of
from newsflow.tasks.fetch.http import FetchPolicy, HttpClient
from newsflow.tasks.fetch.retry import fetch_with_retries, retry_policy
from newsflow.tasks.fetch.robots import RobotsCache


def fetch_policy(f: FetchConfig, *, kind: str) -> FetchPolicy:
    return FetchPolicy(
        user_agent=f.user_agent,
        connect_timeout_s=f.connect_timeout_s,
        read_timeout_s=f.read_timeout_s,
        deadline_s=f.feed_deadline_s if kind == "feed" else f.page_deadline_s,
        max_bytes=f.max_feed_bytes if kind == "feed" else f.max_page_bytes,
        max_redirects=f.max_redirects,
        allow_private=tuple(f.allow_private),
    )


@dataclass(frozen=True)
class PollJob:
    """One feed to poll: the source's name, the URL (the lifecycle's, after an adopted
    redirect), and the validators of the last answer for a conditional GET."""

    source: str
    url: str
    etag: str | None = None
    last_modified: str | None = None


#: Feeds polled per task run. A task run costs milliseconds of orchestration and Prefect walks
#: its parameters, so a thousand feeds are a score of task runs, not a thousand.
POLL_BATCH = 50


@task(name="poll-feeds", cache_policy=NO_CACHE, task_run_name="poll-feeds-{label}")
def poll_feeds(jobs: Sequence[PollJob], fetch: FetchConfig, label: str) -> list[feeds.FeedPoll]:
    """Conditional GETs of a batch of feeds (``fetch.max_workers`` at a time), each parsed
    into entries, in the order of ``jobs``; transient failures are retried
    (tasks/fetch/retry.py). ``label`` names the task run ("1-50")."""
    policy, retry = fetch_policy(fetch, kind="feed"), retry_policy(fetch)

    def poll(job: PollJob) -> feeds.FeedPoll:
        headers = feeds.feed_headers(job.etag, job.last_modified)
        with HttpClient(policy) as client:
            fetched_at = datetime.now(UTC)
            answer, attempts = fetch_with_retries(
                lambda: client.get(job.url, headers=headers), retry
            )
        result = feeds.poll_result(job.source, job.url, answer, fetched_at, attempts=attempts)
        result.entries = result.entries[: fetch.max_entries_per_feed]
        return result

    # Feeds on one registrable domain are polled one after another, ``per_host_delay_s``
    # apart, and once one of them throttles us (429, 503 with Retry-After) the others wait for
    # a later run: many sources on one publisher (or one feed host) must not look like a flood.
    results: list[feeds.FeedPoll | None] = [None] * len(jobs)

    def poll_domain(domain: str, indexes: list[int]) -> None:
        last, throttled_by = 0.0, None
        for index in indexes:
            job = jobs[index]
            if throttled_by is not None:
                reason = (
                    f"skipped: another feed on {domain} answered {throttled_by} earlier in this "
                    "run; polled again on a later run"
                )
                results[index] = feeds.skipped_poll(job.source, job.url, reason, datetime.now(UTC))
                continue
            wait = last + fetch.per_host_delay_s - time.monotonic()
            if last and wait > 0:
                time.sleep(wait)
            results[index] = result = poll(job)
            last = time.monotonic()
            if result.status == 429 or (result.status == 503 and result.retry_after):
                throttled_by = f"HTTP {result.status}"

    by_domain: dict[str, list[int]] = defaultdict(list)
    for index, job in enumerate(jobs):
        shared = fetch.share_politeness == "domain"
        by_domain[(domain_of(job.url) if shared else None) or f"{index}:{job.url}"].append(index)
    workers = max(1, min(fetch.max_workers, len(by_domain)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsflow-feed") as pool:
        for future in [pool.submit(poll_domain, d, idx) for d, idx in by_domain.items()]:
            future.result()
    return [r for r in results if r is not None]


@task(name="fetch-pages", cache_policy=NO_CACHE)
def fetch_batch(
    entries: Sequence[FeedEntry],
    fetch: FetchConfig,
    on_done: Any = None,
    conditional: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Page]:
    """Fetch a batch of article pages: hosts in parallel, each host politely one at a time.

    ``conditional`` holds extra request headers per URL (re-checks: If-None-Match…); every
    page comes back with the answer's ``etag`` and ``last_modified`` (tasks/fetch/refetch.py).
    """
    local = threading.local()
    clients: list[HttpClient] = []
    policy = fetch_policy(fetch, kind="page")
    base_headers = pages.page_headers()
    conditional = conditional or {}

    def client() -> HttpClient:
        if not hasattr(local, "client"):
            local.client = HttpClient(policy)
            clients.append(local.client)
        return local.client

    def get(url: str) -> FetchResult:
        return client().get(url, headers={**base_headers, **conditional.get(url, {})})

    robots = None
    if fetch.respect_robots:
        clients.append(HttpClient(policy))
        robots = RobotsCache(clients[-1], fetch.user_agent)
    try:
        return pages.fetch_pages(
            entries,
            get,
            allowed=robots.allowed if robots else None,
            crawl_delay=robots.crawl_delay if robots else None,
            per_host_delay_s=fetch.per_host_delay_s,
            max_workers=fetch.max_workers,
            on_done=on_done,
            retry=retry_policy(fetch),
            by_domain=fetch.share_politeness == "domain",
        )
    finally:
        for c in clients:
            c.close()
