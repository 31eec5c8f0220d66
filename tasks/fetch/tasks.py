"""The fetch stage's Prefect tasks: one task run per feed poll and one per batch of pages
(never one per article: a task run costs milliseconds of orchestration). The work is done by
the pure and I/O functions beside them (``feeds``, ``pages``, ``http``)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.schemas.config import Config, SourceConfig
from newsflow.schemas.records import FeedEntry, FetchResult, Page
from newsflow.tasks.fetch import feeds, pages
from newsflow.tasks.fetch.http import FetchPolicy, HttpClient
from newsflow.tasks.fetch.retry import fetch_with_retries, retry_policy
from newsflow.tasks.fetch.robots import RobotsCache


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
    are retried (tasks/fetch/retry.py)."""
    etag, last_modified = validators
    target = url or source.feed
    headers = feeds.feed_headers(etag, last_modified)
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
) -> list[Page]:
    """Fetch a batch of article pages: hosts in parallel, each host politely one at a time.

    ``conditional`` holds extra request headers per URL (re-checks: If-None-Match…); every
    page comes back with the answer's ``etag`` and ``last_modified`` (tasks/fetch/refetch.py).
    """
    local = threading.local()
    clients: list[HttpClient] = []
    policy = fetch_policy(config, kind="page")
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
    if config.fetch.respect_robots:
        clients.append(HttpClient(policy))
        robots = RobotsCache(clients[-1], config.fetch.user_agent)
    try:
        return pages.fetch_pages(
            entries,
            get,
            allowed=robots.allowed if robots else None,
            crawl_delay=robots.crawl_delay if robots else None,
            per_host_delay_s=config.fetch.per_host_delay_s,
            max_workers=config.fetch.max_workers,
            on_done=on_done,
            retry=retry_policy(config.fetch),
        )
    finally:
        for c in clients:
            c.close()
