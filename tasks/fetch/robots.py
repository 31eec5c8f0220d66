"""robots.txt for article pages, parsed by protego and fetched through the one HTTP client.

Feed readers conventionally skip robots.txt for the feed a user subscribed to, but newsflow
also fetches the article pages behind each entry, which is crawling: it asks robots.txt first.
protego is used rather than the standard library's ``urllib.robotparser``, which mishandles
``*`` and ``$`` wildcards (cpython#114310, #115644).

What an answer means follows RFC 9309 §2.3.1 and Google's documented crawler behaviour:

* **2xx**: the file's rules apply (parsed as UTF-8). Files over 512 KiB (RFC 9309 asks
  parsers to handle at least 500 KiB) are refused by the client's size cap and count as
  unreachable, the cautious reading.
* **4xx** (404, 403, 410...) and redirect trouble (more than 5 hops, loops): the file is
  "unavailable", so everything is allowed.
* **5xx, 429, timeouts, connection errors, refused addresses**: the site is "unreachable", so
  everything is disallowed. The answer is cached like any other, so the host is left alone for
  the rest of the run rather than retried page after page: a struggling site gets no load.

Answers are cached per (scheme, host, port) for ``ttl_s`` (one run, in practice: the pipeline
makes one cache per run). Matching uses the product token of the User-Agent ("newsflow" from
"newsflow/0.1 (+https://...)") as RFC 9309 asks, so words in the contact URL cannot match
someone else's group. ``crawl_delay`` is capped at ``max_crawl_delay_s`` (120 s, as
StormCrawler's ``fetcher.max.crawl.delay``) so one odd file cannot park a host queue for hours.
The cache is thread-safe and fetches each host's file once even when asked concurrently.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from protego import Protego

from newsflow.tasks.fetch.http import HttpClient
from newsflow.tasks.fetch.urls import HostKey, host_key

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 §2.5: parse at least 500 KiB
_TOKEN = re.compile(r"[A-Za-z_-]+")
_UNAVAILABLE_ERRORS = ("too_many_redirects:", "redirect_loop:")


@dataclass(frozen=True)
class RobotsAnswer:
    """What one host's robots.txt said: ``parser`` None means allow-all or disallow-all."""

    allow_all: bool
    parser: Protego | None
    fetched_at: float
    reason: str  # "rules", "unavailable: 404", "unreachable: timeout: ..." for logs/tests


def product_token(user_agent: str) -> str:
    """The robots.txt product token: the leading name of the User-Agent string."""
    match = _TOKEN.match(user_agent.strip())
    if not match:
        raise ValueError(f"user agent {user_agent!r} does not start with a product token")
    return match.group(0).lower()


def robots_url(key: HostKey) -> str:
    scheme, host, port = key
    default = 443 if scheme == "https" else 80
    netloc = f"[{host}]" if ":" in host else host
    if port != default:
        netloc += f":{port}"
    return f"{scheme}://{netloc}/robots.txt"


class RobotsCache:
    """Per-host robots.txt answers for one run. See the module docstring for the rules."""

    def __init__(
        self,
        client: HttpClient,
        user_agent: str,
        *,
        ttl_s: float = 6 * 3600.0,
        max_crawl_delay_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._token = product_token(user_agent)
        self._ttl_s = ttl_s
        self._max_crawl_delay_s = max_crawl_delay_s
        self._clock = clock
        self._answers: dict[HostKey, RobotsAnswer] = {}
        self._locks: dict[HostKey, threading.Lock] = {}
        self._lock = threading.Lock()

    def allowed(self, url: str) -> bool:
        """May newsflow fetch ``url``? False for URLs it never fetches (not http/https)."""
        key = host_key(url)
        if key is None:
            return False
        answer = self.answer(key)
        if answer.parser is None:
            return answer.allow_all
        return answer.parser.can_fetch(url, self._token)

    def crawl_delay(self, url: str) -> float | None:
        """The site's ``Crawl-delay`` for our token in seconds (capped), or None if unset."""
        key = host_key(url)
        if key is None:
            return None
        answer = self.answer(key)
        if answer.parser is None:
            return None
        delay = answer.parser.crawl_delay(self._token)
        return None if delay is None else min(float(delay), self._max_crawl_delay_s)

    def answer(self, key: HostKey) -> RobotsAnswer:
        """The cached answer for a host, fetching robots.txt once when missing or stale."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # concurrent callers for one host wait for one fetch
            cached = self._answers.get(key)
            if cached is not None and self._clock() - cached.fetched_at < self._ttl_s:
                return cached
            answer = self._fetch(key)
            self._answers[key] = answer
            return answer

    def _fetch(self, key: HostKey) -> RobotsAnswer:
        now = self._clock()
        result = self._client.get(robots_url(key), max_bytes=ROBOTS_MAX_BYTES, accept="text/plain")
        if result.error is not None:
            if result.error.startswith(_UNAVAILABLE_ERRORS):
                return RobotsAnswer(True, None, now, f"unavailable: {result.error}")
            return RobotsAnswer(False, None, now, f"unreachable: {result.error}")
        status = result.status or 0
        if 200 <= status < 300:
            text = result.content.decode("utf-8", errors="replace").lstrip("\ufeff")
            return RobotsAnswer(True, Protego.parse(text), now, "rules")
        if status == 429 or status >= 500:
            return RobotsAnswer(False, None, now, f"unreachable: HTTP {status}")
        # 4xx, and 3xx the client did not follow (no Location, 300, 304): unavailable.
        return RobotsAnswer(True, None, now, f"unavailable: HTTP {status}")
