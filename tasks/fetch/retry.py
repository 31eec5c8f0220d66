"""Retries with backoff for transient failures: the one place feeds and pages get them.

What is retried, and why only that:

* **Transient**: the connection was refused, reset or timed out (``connection:``/``timeout:``
  errors from ``tasks/http``), or the server answered 500, 502, 503 or 504. A flapping server
  usually answers on the next try.
* **Never**: any 4xx (a 404 stays a 404, a 429 asks us to slow down), a 503 that carries
  ``Retry-After`` (the server said when to come back: the feed lifecycle skips the source until
  then, it is not hammered within the run), and our own limits (``deadline:``, ``too_large:``,
  ``blocked:``, ``redirect_loop:``...): asking again would only spend the same time or bytes
  twice. A slow-drip server therefore costs one deadline, not three.

Bounded and short, because a run must not stall on one bad host: ``retries`` extra attempts
(default 2, the reference's "≤ 3 per run"), waiting ``backoff_s · 2^n`` with "equal jitter"
(half fixed, half random, so many sources failing at once do not retry in lockstep), capped at
``max_backoff_s``, and never less than ``min_wait_s`` (the per-host politeness delay, for
pages).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from newsflow.schemas.config import FetchConfig
from newsflow.schemas.records import FetchResult

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
TRANSIENT_ERRORS = ("connection:", "timeout:")

log = logging.getLogger("newsflow.fetch")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 2
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    min_wait_s: float = 0.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"fetch.retries must be >= 0, got {self.retries!r}")
        if self.backoff_s < 0 or self.max_backoff_s < 0 or self.min_wait_s < 0:
            raise ValueError("retry waits must be >= 0")


def is_transient(result: FetchResult) -> bool:
    """Could the same request succeed if sent again in a moment? See the module docstring."""
    if result.error is not None:
        return result.error.startswith(TRANSIENT_ERRORS)
    if result.status not in TRANSIENT_STATUSES:
        return False
    return not (result.status == 503 and result.headers.get("retry-after"))


def backoff_delay(attempt: int, policy: RetryPolicy, rand: Callable[[], float]) -> float:
    """The wait before retry number ``attempt`` (0 for the first retry)."""
    step = min(policy.backoff_s * (2**attempt), policy.max_backoff_s)
    return max(step / 2 + rand() * step / 2, policy.min_wait_s)


def fetch_with_retries(
    fetch: Callable[[], FetchResult],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> tuple[FetchResult, int]:
    """Call ``fetch`` until it gives a non-transient answer or the retries run out.

    Returns the last result and how many attempts were made.
    """
    result = fetch()
    attempts = 1
    while attempts <= policy.retries and is_transient(result):
        wait = backoff_delay(attempts - 1, policy, rand)
        log.info(
            "retrying %s in %.2f s (attempt %d: %s)",
            result.url,
            wait,
            attempts,
            result.error or f"HTTP {result.status}",
        )
        sleep(wait)
        result = fetch()
        attempts += 1
    return result, attempts


def attempts_note(attempts: int) -> str:
    """Suffix for a failure reason, so the record says the failure survived retries."""
    return f" (after {attempts} attempts)" if attempts > 1 else ""


def retry_policy(fetch: FetchConfig) -> RetryPolicy:
    """The retry policy of ``[fetch]`` in the config."""
    return RetryPolicy(retries=fetch.retries, backoff_s=fetch.retry_backoff_s)
