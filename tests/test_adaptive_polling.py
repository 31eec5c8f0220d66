"""Adaptive polling (tasks/fetch/feed_policy.py): a simulated week with an injected clock, and
real ingest runs whose sources get different next-poll times and are polled only when due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import duckdb
import pytest

from newsflow.flows.ingest import ingest
from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig
from newsflow.tasks.fetch.feed_policy import (
    FeedState,
    PollingPolicy,
    PollSignals,
    cache_lifetime,
    is_due,
    plan_next_poll,
)
from newsflow.tasks.warehouse.warehouse import Warehouse, working_path
from tests.hostile_site import article_html, english_paragraphs
from tests.servers import LoopbackServer

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
TICK = timedelta(minutes=15)  # the scheduled ingest's default interval
WEEK = timedelta(days=7)


@dataclass
class SimulatedFeed:
    """A feed that publishes every ``every`` and lists its newest ``lists`` entries."""

    every: timedelta
    lists: int
    published: list[datetime] = field(default_factory=list)

    def __post_init__(self) -> None:
        t = T0 - 8 * WEEK  # it has been publishing for a while
        while t < T0 + WEEK:
            self.published.append(t)
            t += self.every

    def listing(self, now: datetime) -> list[datetime]:
        return [t for t in self.published if t <= now][-self.lists :]


def simulate(feed: SimulatedFeed, policy: PollingPolicy) -> tuple[int, set[datetime]]:
    """A week of 15-minute ticks; each tick polls the feed when it is due. Returns the
    requests made and the entries seen (by publication time)."""
    state, seen, requests = FeedState(source="s", config_url="https://x.example/feed"), set(), 0
    now = T0
    while now < T0 + WEEK:
        if is_due(state, now, policy):
            requests += 1
            listed = feed.listing(now)
            new = [t for t in listed if t not in seen]
            first = state.poll_reason is None
            seen.update(listed)
            signals = PollSignals(
                entries_in_window=sum(
                    1 for t in seen if t >= now - timedelta(seconds=policy.window_s)
                ),
                history_s=(now - min(seen)).total_seconds(),
                first_poll=first,
                listed=len(listed),
                new=len(new),
            )
            state = plan_next_poll(state, signals, now, policy)
        now += TICK
    return requests, seen


def test_a_weekly_blog_gets_at_most_a_quarter_of_the_fixed_requests():
    blog = SimulatedFeed(every=WEEK, lists=10)
    fixed, _ = simulate(blog, PollingPolicy(adaptive=False))
    adaptive, _ = simulate(blog, PollingPolicy())
    assert fixed == 672  # every tick of the week
    assert adaptive <= fixed / 4
    assert adaptive <= 10  # about daily: the 24 h bound


def test_a_feed_publishing_every_five_minutes_loses_no_entry():
    wire = SimulatedFeed(every=timedelta(minutes=5), lists=20)
    requests, seen = simulate(wire, PollingPolicy())
    week = {t for t in wire.published if T0 <= t < T0 + WEEK - TICK}
    assert week <= seen  # nothing published during the week was missed
    # 20 entries cover 100 minutes: polled at every 15-minute tick, no more (the tick is the floor)
    assert requests == 672


def test_a_fast_feed_is_missed_with_a_long_fixed_gap_the_test_can_tell():
    """The simulation can fail: a 24 h bound with a 24 h floor misses most of the wire feed."""
    wire = SimulatedFeed(every=timedelta(minutes=5), lists=20)
    slow = PollingPolicy(min_interval_s=86400, max_interval_s=86400)
    _, seen = simulate(wire, slow)
    week = {t for t in wire.published if T0 <= t < T0 + WEEK}
    assert len(week - seen) > len(week) / 2


@pytest.mark.parametrize(
    ("signals", "expected_s", "reason"),
    [
        (PollSignals(entries_in_window=14, listed=10, new=1), 12 * 3600, "14 entries"),
        (PollSignals(entries_in_window=10_000, listed=20, new=2), 300, "10000 entries"),
        (PollSignals(entries_in_window=0, listed=10, new=0), 86400, "no entry"),
        (PollSignals(entries_in_window=14, listed=10, new=10), 300, "every listed entry was new"),
        (
            PollSignals(entries_in_window=14, listed=10, new=10, first_poll=True),
            12 * 3600,
            "14 entries",
        ),
        (
            PollSignals(entries_in_window=1000, cache_control="public, max-age=3600"),
            3600,
            "Cache-Control max-age",
        ),
        (PollSignals(entries_in_window=1000, ttl_min="60"), 3600, "<ttl>"),
        (PollSignals(entries_in_window=1000, ttl_min="100000"), 86400, "<ttl>"),  # capped
        (
            PollSignals(entries_in_window=1000, cache_control="no-cache, max-age=3600"),
            604.8,
            "1000",
        ),
    ],
)
def test_the_next_poll_follows_rhythm_cache_and_bounds(signals, expected_s, reason):
    now = T0
    state = plan_next_poll(FeedState("s", "https://x.example/f"), signals, now, PollingPolicy())
    assert state.poll_interval_s == pytest.approx(expected_s)
    assert state.next_poll_at == now + timedelta(seconds=expected_s)
    assert reason in state.poll_reason


def test_never_before_retry_after_and_fixed_is_always_due():
    now = T0
    waiting = FeedState("s", "https://x.example/f", next_allowed_at=now + timedelta(hours=30))
    state = plan_next_poll(waiting, PollSignals(entries_in_window=1000), now, PollingPolicy())
    assert state.next_poll_at == now + timedelta(hours=30) and state.poll_reason == "Retry-After"
    assert not is_due(state, now + timedelta(hours=29), PollingPolicy())
    assert is_due(state, now + timedelta(hours=29), PollingPolicy(adaptive=False))
    fixed = plan_next_poll(waiting, PollSignals(entries_in_window=1), now, PollingPolicy(False))
    assert fixed.next_poll_at is None


def test_cache_lifetime_reads_expires_and_prefers_max_age():
    now = T0
    expires = format_datetime(now + timedelta(hours=2), usegmt=True)
    assert cache_lifetime(None, expires, None, now) == (7200.0, "Expires")
    assert cache_lifetime("max-age=60", expires, None, now) == (60.0, "Cache-Control max-age")
    assert cache_lifetime(None, "0", None, now) is None  # "already expired"
    assert cache_lifetime(None, "not a date", "soon", now) is None


# -- real runs --------------------------------------------------------------------------------


def _rss(server: LoopbackServer, name: str, dates: list[datetime]) -> str:
    items = "".join(
        f"<item><title>{name} {i}</title><link>{server.url(f'/{name}/{i}.html')}</link>"
        f"<guid>{server.url(f'/{name}/{i}.html')}</guid>"
        f"<pubDate>{format_datetime(d, usegmt=True)}</pubDate></item>"
        for i, d in enumerate(dates)
    )
    channel = f"<channel><title>{name}</title>{items}</channel>"
    return f"<?xml version='1.0'?><rss version='2.0'>{channel}</rss>"


def test_fast_and_slow_feeds_get_different_next_polls_and_a_run_polls_only_due_ones(
    prefect_harness, tmp_path
):
    server = LoopbackServer()
    now = datetime.now(UTC)
    fast = [now - timedelta(minutes=5 * i) for i in range(20)]  # a wire: every 5 minutes
    slow = [now - timedelta(days=7 * i + 1) for i in range(10)]  # a weekly blog
    for name, dates in (("wire", fast), ("blog", slow)):
        body = _rss(server, name, dates)
        server.add(f"/{name}.xml", body, content_type="application/rss+xml")
        for i in range(len(dates)):
            server.add(
                f"/{name}/{i}.html", article_html(f"{name} {i}", english_paragraphs(f"{name} {i}"))
            )
    server.start()
    try:
        db = tmp_path / "w.duckdb"
        config = Config(
            warehouse=WarehouseConfig(path=str(db)),
            fetch=FetchConfig(allow_private=[server.host_port], per_host_delay_s=0, retries=0),
            checks={"freshness_hours": 100000},
            sources=[
                SourceConfig(name="wire", feed=server.url("/wire.xml")),
                SourceConfig(name="blog", feed=server.url("/blog.xml")),
            ],
        )
        ingest(config=config)

        def schedule() -> dict[str, tuple]:
            with duckdb.connect(str(working_path(db)), read_only=True) as con:
                rows = con.execute(
                    "SELECT source, poll_interval_s, next_poll_at, poll_reason FROM feed_state"
                ).fetchall()
            return {r[0]: r[1:] for r in rows}

        first = schedule()
        assert first["wire"][0] == pytest.approx(300, rel=0.1)  # 5 min: the lower bound
        assert first["blog"][0] == 86400  # 1 entry in the last week: the 24 h bound
        assert "entries in" in first["wire"][2]

        # Time passes (the wire is due, the blog is not): only the wire is asked.
        with Warehouse.open(db, lock_timeout_s=5) as warehouse:
            warehouse.con.execute(
                "UPDATE feed_state SET next_poll_at = now() - INTERVAL 1 MINUTE "
                "WHERE source = 'wire'"
            )
        server.requests.clear()
        summary = ingest(config=config)
        feeds = [r.path for r in server.requests if r.path.endswith(".xml")]
        assert feeds == ["/wire.xml"] and summary.feeds_polled == 1
        assert schedule()["blog"] == first["blog"]  # untouched: not polled

        # polling = "fixed": every source at every run.
        config.fetch.polling = "fixed"
        server.requests.clear()
        ingest(config=config)
        assert sorted(r.path for r in server.requests if r.path.endswith(".xml")) == [
            "/blog.xml",
            "/wire.xml",
        ]
        assert {s[1] for s in schedule().values()} == {None}
    finally:
        server.stop()


def test_a_failed_poll_is_due_at_the_next_run_unless_throttled():
    now = T0
    failed = PollSignals(entries_in_window=0, succeeded=False)
    state = plan_next_poll(FeedState("s", "https://x.example/f"), failed, now, PollingPolicy())
    assert state.next_poll_at is None and is_due(state, now, PollingPolicy())
    throttled = FeedState("s", "https://x.example/f", next_allowed_at=now + timedelta(hours=1))
    state = plan_next_poll(throttled, failed, now, PollingPolicy())
    assert state.next_poll_at == now + timedelta(hours=1) and state.poll_reason == "Retry-After"
