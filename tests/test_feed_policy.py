"""The feed lifecycle's decisions (tasks/fetch/feed_policy.py): pure functions, plain records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.tasks.fetch.feed_policy import (
    ACTIVE,
    GONE,
    PAUSED,
    FeedState,
    LifecyclePolicy,
    next_state,
    parse_retry_after,
    permanent_target,
    reset,
    skip_reason,
)
from newsflow.tasks.fetch.feeds import FeedPoll

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
FEED = "https://news.example/rss.xml"
NEW = "https://news.example/feed/"
POLICY = LifecyclePolicy()


def _state(**kw: object) -> FeedState:
    return FeedState(source="news", config_url=FEED, **kw)  # type: ignore[arg-type]


def _poll(
    status: int | None = 200,
    error: str | None = None,
    redirects: list[tuple[int, str]] | None = None,
    retry_after: str | None = None,
) -> FeedPoll:
    if error is None and status not in (200, 304, None):
        error = f"http_{status}: the feed answered HTTP {status}"
    return FeedPoll(
        source="news",
        feed_url=FEED,
        fetched_at=NOW,
        status=status,
        etag=None,
        last_modified=None,
        bytes=0,
        elapsed_ms=1,
        entries=[],
        error=error,
        redirects=redirects or [],
        retry_after=retry_after,
    )


# -- Retry-After --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 30 ", 30.0),
        ("Sun, 01 Mar 2026 13:30:00 GMT", 5400.0),  # IMF-fixdate
        ("Sunday, 01-Mar-26 13:30:00 GMT", 5400.0),  # obsolete RFC 850 form
        ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


def test_429_sets_next_allowed_at_without_counting_an_error():
    t = next_state(_state(consecutive_errors=3), _poll(429, retry_after="600"), NOW, POLICY)
    assert t.state.next_allowed_at == NOW + timedelta(seconds=600)
    assert t.state.consecutive_errors == 3 and t.state.status == ACTIVE
    assert t.note.startswith("throttled: not polled again before 2026-03-01T12:10:00Z")


def test_retry_after_is_capped_at_24_hours():
    t = next_state(_state(), _poll(503, retry_after=str(10 * 86400)), NOW, POLICY)
    assert t.state.next_allowed_at == NOW + timedelta(hours=24)


def test_429_without_retry_after_waits_the_default():
    t = next_state(_state(), _poll(429), NOW, LifecyclePolicy(throttle_default_s=1800))
    assert t.state.next_allowed_at == NOW + timedelta(minutes=30)


def test_503_without_retry_after_is_an_ordinary_failure():
    t = next_state(_state(), _poll(503), NOW, POLICY)
    assert t.state.next_allowed_at is None and t.state.consecutive_errors == 1


def test_skip_until_next_allowed_at_then_poll():
    state = _state(next_allowed_at=NOW + timedelta(minutes=5))
    assert skip_reason(state, NOW).startswith("skipped: the feed asked us to wait (Retry-After)")
    assert skip_reason(state, NOW + timedelta(minutes=5)) is None
    assert skip_reason(_state(), NOW) is None


# -- 410, failures, pause ------------------------------------------------------------------------


def test_410_marks_the_source_gone_and_it_is_skipped():
    t = next_state(_state(), _poll(410), NOW, POLICY)
    assert t.state.status == GONE and t.state.status_changed_at == NOW
    assert "newsflow run --reset-source news" in t.note and not t.paused
    reason = skip_reason(t.state, NOW + timedelta(days=30))
    assert reason.startswith("skipped: the feed is gone since 2026-03-01T12:00:00Z (http_410")


def test_n_consecutive_failures_pause_the_source_once():
    policy = LifecyclePolicy(pause_after_errors=3)
    state = _state()
    for expected in (1, 2):
        t = next_state(state, _poll(None, error="timeout: no response within 15 s"), NOW, policy)
        state = t.state
        assert (state.consecutive_errors, state.status, t.paused) == (expected, ACTIVE, False)
    t = next_state(state, _poll(500), NOW, policy)
    assert t.paused and t.state.status == PAUSED
    assert (
        t.state.status_reason
        == "3 failures in a row, the last: http_500: the feed answered HTTP 500"
    )
    assert "source paused after 3 consecutive failures" in t.note
    assert skip_reason(t.state, NOW).startswith("skipped: the source is paused since")


def test_a_success_resets_the_error_streak():
    t = next_state(_state(consecutive_errors=4), _poll(304), NOW, POLICY)
    assert t.state.consecutive_errors == 0 and t.note is None


def test_malformed_but_usable_counts_as_success():
    poll = _poll(200)
    poll.warning = "malformed but usable: mismatched tag"
    assert next_state(_state(consecutive_errors=2), poll, NOW, POLICY).state.consecutive_errors == 0


def test_reset_re_enables_and_forgets_waits_and_redirects():
    gone = _state(
        status=GONE,
        status_reason="http_410",
        status_changed_at=NOW,
        next_allowed_at=NOW + timedelta(hours=1),
        consecutive_errors=7,
        effective_url=NEW,
        redirect_target=NEW,
        redirect_count=2,
        etag='"v1"',
    )
    fresh = reset(gone)
    assert fresh == _state(etag='"v1"')  # validators kept
    assert skip_reason(fresh, NOW) is None


# -- permanent redirects ------------------------------------------------------------------------


def test_permanent_target_is_the_end_of_an_unbroken_301_308_chain():
    assert permanent_target([(301, "a"), (308, "b")]) == "b"
    assert permanent_target([(301, "a"), (302, "b"), (301, "c")]) == "a"
    assert permanent_target([(302, "a"), (301, "b")]) is None
    assert permanent_target([]) is None


def test_feed_url_moves_only_after_k_permanent_redirects_to_the_same_target():
    state = _state()
    moved = _poll(200, redirects=[(301, NEW)])
    for count in (1, 2):
        t = next_state(state, moved, NOW, POLICY)
        state = t.state
        assert (state.redirect_target, state.redirect_count, state.poll_url) == (NEW, count, FEED)
        assert t.adopted_url is None
    t = next_state(state, moved, NOW, POLICY)
    assert t.adopted_url == NEW
    assert (t.state.effective_url, t.state.poll_url, t.state.config_url) == (NEW, NEW, FEED)
    assert (t.state.redirect_target, t.state.redirect_count) == (None, 0)
    # Polling the adopted URL directly: no redirect, nothing changes.
    again = next_state(t.state, _poll(304), NOW, POLICY)
    assert again.state.poll_url == NEW and again.adopted_url is None


def test_a_different_target_or_a_plain_poll_restarts_the_count():
    state = next_state(_state(), _poll(200, redirects=[(308, NEW)]), NOW, POLICY).state
    other = next_state(state, _poll(200, redirects=[(301, NEW + "v2")]), NOW, POLICY).state
    assert (other.redirect_target, other.redirect_count) == (NEW + "v2", 1)
    plain = next_state(other, _poll(200), NOW, POLICY).state
    assert (plain.redirect_target, plain.redirect_count) == (None, 0)


def test_temporary_redirects_and_failed_polls_never_move_the_feed():
    state = _state(redirect_target=NEW, redirect_count=2)
    temp = next_state(state, _poll(200, redirects=[(302, NEW)]), NOW, POLICY)
    assert temp.state.redirect_count == 0 and temp.state.effective_url is None
    failed = next_state(state, _poll(404, redirects=[(301, NEW)]), NOW, POLICY)
    assert (failed.state.redirect_target, failed.state.redirect_count) == (NEW, 2)
    assert failed.state.effective_url is None


def test_redirect_back_to_the_configured_url_clears_the_effective_url():
    state = _state(effective_url=NEW, redirect_target=FEED, redirect_count=2)
    t = next_state(state, _poll(200, redirects=[(301, FEED)]), NOW, POLICY)
    assert t.state.effective_url is None and t.state.poll_url == FEED


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        LifecyclePolicy(pause_after_errors=0)
    with pytest.raises(ValueError):
        LifecyclePolicy(redirect_adopt_after=0)
