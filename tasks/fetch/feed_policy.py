"""The feed lifecycle: pure decisions about whether to poll a feed and what its answer means for
the next poll. No I/O here; ``tasks/feed_store`` keeps the state in ``feed_state`` and
``tasks/fetch/lifecycle`` applies these decisions in the run.

What the best feed readers do, and what newsflow does (docs/fetching.md):

* **301/308 are remembered, not obeyed at once.** A permanent redirect is followed every time,
  but the URL newsflow *polls* only moves to the target after ``redirect_adopt_after`` (K = 3)
  successful polls in a row ended there through an unbroken chain of permanent redirects (a
  misconfigured server that flaps would otherwise move a feed for good; NewsBlur waits for 10,
  FreshRSS rewrites at once). The config keeps the URL as the user wrote it; ``effective_url``
  records the adopted one.
* **410 Gone** marks the source ``gone``: it is not polled again until re-enabled with
  ``newsflow run --reset-source NAME`` (or by changing its feed URL in the config). FreshRSS mutes
  such feeds; the others keep hammering them.
* **429, and 503 with Retry-After**, set ``next_allowed_at`` from ``Retry-After`` (seconds or an
  HTTP date, capped at 24 h; ``throttle_default_s`` when a 429 gives none). The run never sleeps
  for it: the source is skipped until then, and being throttled is not counted as a failure.
* **Any other failure** adds one to ``consecutive_errors``; at ``pause_after_errors`` (N = 5)
  the source is ``paused`` and an alert is raised, until re-enabled as above. A success (200 or
  304) resets the count.

A skipped poll is still recorded (``feed_fetches.error`` starts with ``skipped:``), so a quiet
source is never a mystery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsflow.tasks.fetch.feeds import FeedPoll

ACTIVE, PAUSED, GONE = "active", "paused", "gone"
PERMANENT_REDIRECTS = frozenset({301, 308})
RESET_HINT = "re-enable with `newsflow run --reset-source {source}`"


@dataclass(frozen=True)
class LifecyclePolicy:
    pause_after_errors: int = 5
    redirect_adopt_after: int = 3
    max_retry_after_s: float = 24 * 3600.0
    throttle_default_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.pause_after_errors < 1:
            raise ValueError("fetch.pause_after_errors must be >= 1")
        if self.redirect_adopt_after < 1:
            raise ValueError("fetch.redirect_adopt_after must be >= 1")


@dataclass(frozen=True)
class FeedState:
    """One source's polling state between runs (a ``feed_state`` row)."""

    source: str
    config_url: str  # the feed URL as written in the config
    effective_url: str | None = None  # polled instead, after K permanent redirects to it
    etag: str | None = None
    last_modified: str | None = None
    status: str = ACTIVE
    status_reason: str | None = None
    status_changed_at: datetime | None = None
    next_allowed_at: datetime | None = None
    consecutive_errors: int = 0
    redirect_target: str | None = None  # where the latest successful polls were sent permanently
    redirect_count: int = 0  # how many successful polls in a row ended at redirect_target
    # The adaptive schedule (``plan_next_poll``): when the source is due, and why.
    next_poll_at: datetime | None = None
    poll_interval_s: float | None = None
    poll_reason: str | None = None

    @property
    def poll_url(self) -> str:
        return self.effective_url or self.config_url


@dataclass(frozen=True)
class Transition:
    """The state after one poll, and what to tell people about it."""

    state: FeedState
    note: str | None = None  # appended to the poll's recorded error (throttled, gone, paused)
    paused: bool = False  # this poll paused the source: raise an alert
    adopted_url: str | None = None  # the feed URL for polling changed to this


def skip_reason(state: FeedState, now: datetime) -> str | None:
    """Why the source must not be polled now, or None to poll it."""
    hint = RESET_HINT.format(source=state.source)
    since = f" since {_iso(state.status_changed_at)}" if state.status_changed_at else ""
    if state.status == GONE:
        return f"skipped: the feed is gone{since} ({state.status_reason}); {hint}"
    if state.status == PAUSED:
        return f"skipped: the source is paused{since} ({state.status_reason}); {hint}"
    if state.next_allowed_at is not None and now < state.next_allowed_at:
        return (
            f"skipped: the feed asked us to wait (Retry-After) until {_iso(state.next_allowed_at)}"
        )
    return None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds from ``now``: delay-seconds or an HTTP date (RFC 9110 §10.2.3).

    None when absent or unreadable; 0 for a date in the past. Not capped here.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" dates come back naive; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def permanent_target(redirects: list[tuple[int, str]]) -> str | None:
    """Where an unbroken chain of 301/308 from the polled URL leads (FreshRSS's "permanent URL":
    a 302 anywhere in between makes the rest temporary), or None."""
    target = None
    for status, location in redirects:
        if status not in PERMANENT_REDIRECTS:
            break
        target = location
    return target


def throttle_delay(poll: FeedPoll, now: datetime, policy: LifecyclePolicy) -> float | None:
    """Seconds to leave the feed alone when it throttled us (429, or 503 with Retry-After)."""
    if poll.skipped or poll.status not in (429, 503):
        return None
    delay = parse_retry_after(poll.retry_after, now)
    if delay is None:
        if poll.status == 503:
            return None  # an ordinary server error: retried, then counted as a failure
        delay = policy.throttle_default_s
    return min(delay, policy.max_retry_after_s)


def next_state(
    state: FeedState, poll: FeedPoll, now: datetime, policy: LifecyclePolicy
) -> Transition:
    """The state after ``poll`` (which was sent to ``state.poll_url``). See the module docstring."""
    hint = RESET_HINT.format(source=state.source)
    if poll.succeeded:
        return _after_success(
            replace(state, consecutive_errors=0, next_allowed_at=None), poll, policy
        )

    throttle = throttle_delay(poll, now, policy)
    if throttle is not None:
        until = now + timedelta(seconds=throttle)
        return Transition(
            replace(state, next_allowed_at=until),
            note=f"throttled: not polled again before {_iso(until)}",
        )

    errors = state.consecutive_errors + 1
    reason = (poll.error or f"HTTP {poll.status}")[:300]
    if poll.status == 410:
        gone = replace(
            state,
            status=GONE,
            status_reason=reason,
            status_changed_at=now,
            consecutive_errors=errors,
            next_allowed_at=None,
        )
        return Transition(gone, note=f"source marked gone, not polled again; {hint}")
    if errors >= policy.pause_after_errors and state.status == ACTIVE:
        paused = replace(
            state,
            status=PAUSED,
            status_reason=f"{errors} failures in a row, the last: {reason}",
            status_changed_at=now,
            consecutive_errors=errors,
            next_allowed_at=None,
        )
        return Transition(
            paused,
            note=f"source paused after {errors} consecutive failures; {hint}",
            paused=True,
        )
    return Transition(replace(state, consecutive_errors=errors, next_allowed_at=None))


def reset(state: FeedState) -> FeedState:
    """A source re-enabled by hand: active, no wait, no error streak, back to the config URL.
    Validators are kept (a 304 is still the cheapest answer)."""
    return replace(
        state,
        status=ACTIVE,
        status_reason=None,
        status_changed_at=None,
        next_allowed_at=None,
        consecutive_errors=0,
        effective_url=None,
        redirect_target=None,
        redirect_count=0,
        next_poll_at=None,
        poll_interval_s=None,
        poll_reason=None,
    )


def _after_success(state: FeedState, poll: FeedPoll, policy: LifecyclePolicy) -> Transition:
    target = permanent_target(poll.redirects)
    if target is None or target == state.poll_url:
        return Transition(replace(state, redirect_target=None, redirect_count=0))
    count = state.redirect_count + 1 if target == state.redirect_target else 1
    if count < policy.redirect_adopt_after:
        return Transition(replace(state, redirect_target=target, redirect_count=count))
    effective = None if target == state.config_url else target
    adopted = replace(state, effective_url=effective, redirect_target=None, redirect_count=0)
    return Transition(adopted, adopted_url=target)


def _iso(when: datetime | None) -> str:
    if when is None:
        return "?"
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- adaptive polling ------------------------------------------------------------------------
#
# Miniflux's entry-frequency scheduler, with two additions: the interval is the trailing
# window divided by the entries the feed published in it, clamped to ``[min, max]``; never
# shorter than the feed's own cache lifetime (RSS ``<ttl>``, ``Cache-Control: max-age``,
# ``Expires``; itself capped at ``max``); never before a ``Retry-After``. A poll whose listed
# entries were *all* new may have missed some (the feed rotated past entries between polls),
# so the next one comes after ``min`` instead. ``polling = "fixed"`` keeps every source due
# at every run (``next_poll_at`` NULL).

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class PollingPolicy:
    adaptive: bool = True
    min_interval_s: float = 5 * 60.0
    max_interval_s: float = 24 * 3600.0
    window_s: float = 7 * 24 * 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.min_interval_s <= self.max_interval_s:
            raise ValueError("fetch.poll_min_interval_min must be > 0 and <= poll_max_interval_h")


@dataclass(frozen=True)
class PollSignals:
    """What one poll and the source's history say about its rhythm."""

    entries_in_window: int  # entries the feed published in the trailing window
    history_s: float | None = None  # how far back the source's known entries go (None: not)
    first_poll: bool = False  # no schedule before: every entry is new by definition
    listed: int = 0  # entries the poll listed
    new: int = 0  # of those, entries newsflow had not seen
    cache_control: str | None = None
    expires: str | None = None
    ttl_min: str | None = None
    succeeded: bool = True


def cache_lifetime(
    cache_control: str | None, expires: str | None, ttl_min: str | None, now: datetime
) -> tuple[float, str] | None:
    """The longest time the feed asked to be cached, in seconds, and which header said so.

    ``no-cache`` / ``no-store`` / ``max-age=0`` and an ``Expires`` in the past ask nothing;
    an unreadable value is ignored."""
    found: list[tuple[float, str]] = []
    if cache_control:
        lowered = cache_control.lower()
        match = _MAX_AGE.search(cache_control)
        if match and "no-store" not in lowered and "no-cache" not in lowered:
            found.append((float(match[1]), "Cache-Control max-age"))
    if expires and not (cache_control and _MAX_AGE.search(cache_control)):
        # RFC 9111 §5.3: max-age wins over Expires when both are sent
        seconds = parse_retry_after(expires, now) if not expires.strip().isdigit() else None
        if seconds:
            found.append((seconds, "Expires"))
    if ttl_min and ttl_min.strip().isdigit():
        found.append((int(ttl_min.strip()) * 60.0, "the feed's <ttl>"))
    found = [f for f in found if f[0] > 0]
    return max(found) if found else None


def plan_next_poll(
    state: FeedState, signals: PollSignals, now: datetime, policy: PollingPolicy
) -> FeedState:
    """``state`` with the schedule after a poll at ``now`` (see the section comment)."""
    if not policy.adaptive:
        return replace(state, next_poll_at=None, poll_interval_s=None, poll_reason="fixed")
    if not signals.succeeded:
        # A failure is asked again at the next run (or after its Retry-After), as with fixed
        # polling: the pause rule counts failed polls in a row, and a feed that is down for a
        # moment should not lose a day of its rhythm.
        wait = state.next_allowed_at
        return replace(
            state,
            next_poll_at=wait,
            poll_interval_s=(wait - now).total_seconds() if wait else None,
            poll_reason="Retry-After" if wait else "the poll failed: due at the next run",
        )
    # A feed lists its last few entries only: while what newsflow knows of it covers less
    # than the window, the rate is measured over what it covers (20 entries over 100 minutes
    # is a wire feed, not 20 entries a week).
    span = policy.window_s
    if signals.history_s is not None:
        span = min(span, max(signals.history_s, policy.min_interval_s))
    if signals.entries_in_window:
        interval = span / signals.entries_in_window
        reason = f"{signals.entries_in_window} entries in {_duration(span)}"
    else:
        interval, reason = policy.max_interval_s, f"no entry in {_duration(span)}"
    interval = min(max(interval, policy.min_interval_s), policy.max_interval_s)
    all_new = signals.listed and signals.new >= signals.listed and not signals.first_poll
    if all_new:
        interval, reason = policy.min_interval_s, "every listed entry was new (some may be missed)"
    cache = cache_lifetime(signals.cache_control, signals.expires, signals.ttl_min, now)
    if cache is not None and min(cache[0], policy.max_interval_s) > interval:
        interval, reason = min(cache[0], policy.max_interval_s), cache[1]
    when = now + timedelta(seconds=interval)
    if state.next_allowed_at is not None and state.next_allowed_at > when:
        when, reason = state.next_allowed_at, "Retry-After"
        interval = (when - now).total_seconds()
    return replace(state, next_poll_at=when, poll_interval_s=interval, poll_reason=reason)


def is_due(state: FeedState, now: datetime, policy: PollingPolicy) -> bool:
    """Whether a run at ``now`` polls the source (fixed: always; adaptive: at its time)."""
    return not policy.adaptive or state.next_poll_at is None or now >= state.next_poll_at


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.3g} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.3g} min"
