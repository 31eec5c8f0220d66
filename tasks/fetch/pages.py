"""Article pages: fetched politely (one request at a time per host, a pause between), in
parallel across hosts, through the one safe client, with robots.txt honoured.

The outcome of every page is a ``Page`` record (schemas/records.py) ready for the ``raw_pages``
archive: the body when it is an HTML page, else an ``error`` that says why there is no article
(HTTP status, not HTML, a binary body labelled as HTML, disallowed by robots.txt, a network
problem) and whether trying again later could help. Transient failures (resets, timeouts, 5xx)
are retried in place with backoff (tasks/fetch/retry.py), never waiting less than the host's
politeness delay. A host that answers 429 (or 503 with Retry-After) is not asked for its other
pages in this run: they are recorded as throttled and retried on a later run.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from newsflow.schemas.records import FeedEntry, FetchResult, Page
from newsflow.tasks.fetch.charset import charset_from_content_type, sniff_binary
from newsflow.tasks.fetch.domains import site_key
from newsflow.tasks.fetch.retry import RetryPolicy, attempts_note, fetch_with_retries
from newsflow.tasks.fetch.urls import host_key, url_problem

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
#: Answers a later run may not get: timeouts, overload, server errors, and 404, which news
#: sites give for a story the feed announced before the page went live. Later runs ask again
#: on the page retry schedule (``[fetch] page_retry_*``), whose cap ends it within hours.
_TRANSIENT_STATUS = frozenset({404, 408, 425, 429, 500, 502, 503, 504})
_ROBOTS_DISALLOWED = "robots: disallowed by the site's robots.txt for our user agent"
#: The answer of a page not requested (robots.txt, a throttled host): no status, no headers.
_NOT_REQUESTED = FetchResult(url="", final_url="")

Fetcher = Callable[[str], FetchResult]
Allowed = Callable[[str], bool]


def page_outcome(
    entry: FeedEntry, fetched: FetchResult, fetched_at: datetime, *, attempts: int = 1
) -> Page:
    """Classify one fetch: an HTML body to extract, or a reason there is none.

    ``charset`` in the result is the HTTP header's charset label, for ``tasks/charset``, which
    weighs it against the bytes (headers lie). The answer's ETag and Last-Modified go with the
    page whatever it says, for the next re-check (tasks/fetch/refetch.py).
    """
    error = fetched.error
    transient = False
    if error is not None:
        # "blocked" (the address guard) is fixable in the config, so it is retried too; a URL
        # newsflow refuses, a page too large and a redirect loop stay what they are.
        transient = not error.startswith(("scheme", "too_large", "redirect_loop"))
    elif fetched.status is None or not 200 <= fetched.status < 300:
        error = f"http_{fetched.status}: the page answered HTTP {fetched.status}"
        transient = fetched.status in _TRANSIENT_STATUS
    elif fetched.content_type and fetched.content_type not in HTML_TYPES:
        error = f"not_html: the page is {fetched.content_type}, not HTML; skipped"
    elif not fetched.content.strip():
        error = "empty: the page body is empty"
    elif (binary := sniff_binary(fetched.content)) is not None:
        label = fetched.content_type or "unlabelled"
        error = f"binary: the page is labelled {label} but the body is {binary}; skipped"
    if error is not None:
        error += attempts_note(attempts)
    return _page(entry, fetched_at, error, transient=transient, answer=fetched)


def throttled(fetched: FetchResult) -> bool:
    """Did the host ask us to slow down (429, or 503 with Retry-After)?"""
    if fetched.error is not None:
        return False
    return fetched.status == 429 or (
        fetched.status == 503 and bool(fetched.headers.get("retry-after"))
    )


def skipped_outcome(entry: FeedEntry, fetched_at: datetime, reason: str) -> Page:
    """A page not requested in this run; ``transient`` so a later run tries it."""
    return _page(entry, fetched_at, reason, transient=True)


def refused_outcome(entry: FeedEntry, fetched_at: datetime, reason: str) -> Page:
    """A page whose URL can never be fetched (``invalid_url``, ``scheme``, ``userinfo``: see
    ``urls.url_problem``); not requested, and not ``transient``: asking again cannot help."""
    return _page(entry, fetched_at, reason, transient=False)


def robots_outcome(entry: FeedEntry, fetched_at: datetime) -> Page:
    """A page robots.txt keeps us from: asked about again on the retry schedule, in case the
    site's rules change (a misconfigured robots.txt is fixed within hours more often than not),
    then final."""
    return _page(entry, fetched_at, _ROBOTS_DISALLOWED, transient=True)


def _page(
    entry: FeedEntry,
    fetched_at: datetime,
    error: str | None,
    *,
    transient: bool,
    answer: FetchResult = _NOT_REQUESTED,
) -> Page:
    """The one place a fetched ``Page`` is made, from the entry and the answer to its request
    (``_NOT_REQUESTED``: none was sent)."""
    return Page(
        source=entry.source,
        entry_id=entry.entry_id,
        url=entry.url,
        final_url=answer.final_url or entry.url,
        fetched_at=fetched_at,
        status=answer.status,
        content_type=answer.content_type or None,
        charset=charset_from_content_type(answer.headers.get("content-type")),
        content=answer.content if error is None else None,
        error=error,
        transient=transient,
        entry=entry,
        etag=answer.headers.get("etag"),
        last_modified=answer.headers.get("last-modified"),
    )


def fetch_pages(
    entries: Sequence[FeedEntry],
    fetch: Fetcher,
    *,
    allowed: Allowed | None = None,
    per_host_delay_s: float = 1.0,
    crawl_delay: Callable[[str], float | None] | None = None,
    max_workers: int = 8,
    on_done: Callable[[Page], None] | None = None,
    retry: RetryPolicy | None = None,
    by_domain: bool = True,
) -> list[Page]:
    """Fetch every entry's page; sites in parallel, each registrable domain strictly one
    request at a time (its hosts share the queue, the pause and a 429).

    ``by_domain`` False: each host is its own queue (``[fetch] share_politeness = "host"``).
    ``crawl_delay`` (robots.txt, per host) raises the pause, never lowers it. ``retry`` (None:
    no retries) is applied per page, its waits never shorter than the host's delay. Results
    come back in the order of ``entries``. An entry whose URL can never be fetched (a feed's
    malformed link) is refused with the reason, without a request, and the others go on.
    """
    retry = retry or RetryPolicy(retries=0)
    # One queue per registrable domain, not per host: news.example.com and img.example.com
    # are one publisher, paced as one, and a 429 from one stops the other (tasks/fetch/domains).
    by_host: dict[str, list[int]] = defaultdict(list)
    results: list[Page | None] = [None] * len(entries)
    lock = threading.Lock()
    for index, entry in enumerate(entries):
        key, problem = host_key(entry.url), url_problem(entry.url)
        if key is not None and problem is None:
            by_host[site_key(key[1], key[2]) if by_domain else f"{key[1]}:{key[2]}"].append(index)
            continue
        results[index] = refused_outcome(entry, datetime.now(UTC), problem or "invalid_url")
        if on_done is not None:
            on_done(results[index])

    def run_host(indexes: list[int]) -> None:
        last_request = 0.0
        throttled_by: str | None = None
        for index in indexes:
            entry = entries[index]
            if throttled_by is not None:
                outcome = skipped_outcome(
                    entry,
                    datetime.now(UTC),
                    f"throttled: the host answered {throttled_by} earlier in this run; "
                    "not asked again until a later run",
                )
            elif allowed is not None and not allowed(entry.url):
                outcome = robots_outcome(entry, datetime.now(UTC))
            else:
                delay = max(per_host_delay_s, (crawl_delay(entry.url) if crawl_delay else 0) or 0)
                wait = last_request + delay - time.monotonic()
                if last_request and wait > 0:
                    time.sleep(wait)
                fetched, attempts = fetch_with_retries(
                    lambda url=entry.url: fetch(url),
                    dataclasses.replace(retry, min_wait_s=max(retry.min_wait_s, delay)),
                )
                last_request = time.monotonic()
                outcome = page_outcome(entry, fetched, datetime.now(UTC), attempts=attempts)
                if throttled(fetched):
                    after = fetched.headers.get("retry-after")
                    throttled_by = f"HTTP {fetched.status}" + (
                        f" (Retry-After: {after})" if after else ""
                    )
            results[index] = outcome
            if on_done is not None:
                with lock:
                    on_done(outcome)

    workers = max(1, min(max_workers, len(by_host)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsflow-host") as pool:
        for future in [pool.submit(run_host, idx) for idx in by_host.values()]:
            future.result()
    return [r for r in results if r is not None]


def page_headers() -> dict[str, str]:
    return {"Accept": _PAGE_ACCEPT}
