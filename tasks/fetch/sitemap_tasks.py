"""The backfill's fetch task: read a site's sitemaps through the one HTTP client.

One task run per backfill (a site has a handful of sitemap documents, not thousands), with the
feed limits (``max_feed_bytes``, ``feed_deadline_s``: a sitemap is a machine-readable listing
like a feed), the address guard on every hop, the usual retries for transient failures, and
politeness: robots.txt is asked first (its ``Sitemap:`` lines are where discovery starts, and a
sitemap it disallows is not read), and sitemap requests to the site are ``per_host_delay_s``
apart (raised by ``Crawl-delay``).
"""

from __future__ import annotations

import time
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.schemas.config import FetchConfig
from newsflow.schemas.records import FetchResult
from newsflow.tasks.fetch import sitemaps
from newsflow.tasks.fetch.http import HttpClient
from newsflow.tasks.fetch.retry import fetch_with_retries, retry_policy
from newsflow.tasks.fetch.robots import RobotsCache
from newsflow.tasks.fetch.tasks import fetch_policy
from newsflow.tasks.fetch.urls import host_key


@task(name="discover-sitemaps", cache_policy=NO_CACHE)
def discover_sitemaps(
    site_url: str, fetch: FetchConfig, since: datetime | None = None
) -> sitemaps.Discovery:
    """Every article URL the sitemaps of ``site_url``'s site list (``sitemaps.discover``)."""
    root = sitemaps.site_root(site_url)
    policy, retry = fetch_policy(fetch, kind="feed"), retry_policy(fetch)
    with HttpClient(policy) as client:
        robots = RobotsCache(client, fetch.user_agent)
        named: list[str] = []
        key = host_key(root + "/")
        if key is not None:
            parser = robots.answer(key).parser
            named = list(parser.sitemaps) if parser is not None else []
        delay = fetch.per_host_delay_s
        if fetch.respect_robots:
            delay = max(delay, robots.crawl_delay(root + "/") or 0.0)
        last = [0.0]

        def get(url: str) -> FetchResult:
            if fetch.respect_robots and not robots.allowed(url):
                answer = robots.answer(key) if key is not None else None
                why = f" ({answer.reason})" if answer is not None and answer.parser is None else ""
                return FetchResult(
                    url=url, final_url=url, error=f"robots: disallowed by robots.txt{why}"
                )
            wait = last[0] + delay - time.monotonic()
            if last[0] and wait > 0:
                time.sleep(wait)
            try:
                answer, _attempts = fetch_with_retries(
                    lambda: client.get(url, accept=sitemaps.SITEMAP_ACCEPT), retry
                )
            finally:
                last[0] = time.monotonic()
            return answer

        return sitemaps.discover(root, get, named, since=since, max_bytes=fetch.max_feed_bytes)
