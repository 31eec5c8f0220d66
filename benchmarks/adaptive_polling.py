"""Requests per simulated week, fixed against adaptive polling, for feeds of different rhythms.

    python benchmarks/adaptive_polling.py

A scheduled ingest ticks every 15 minutes for a week (clock simulated, nothing slept); at each
tick a source is polled when ``feed_policy.is_due`` says so. Each feed has published at its
rhythm for eight weeks before the simulated week and lists its newest N entries. Printed per
feed: requests with fixed and adaptive polling, and entries published during the week that no
poll ever listed (missed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsflow.tasks.fetch.feed_policy import (
    FeedState,
    PollingPolicy,
    PollSignals,
    is_due,
    plan_next_poll,
)

T0 = datetime(2026, 11, 2, tzinfo=UTC)
TICK = timedelta(minutes=15)
WEEK = timedelta(days=7)
FEEDS = {  # name: (publishes every, lists)
    "wire, every 5 min, lists 20": (timedelta(minutes=5), 20),
    "busy, every 2 min, lists 200": (timedelta(minutes=2), 200),
    "hourly, lists 30": (timedelta(hours=1), 30),
    "daily, lists 10": (timedelta(days=1), 10),
    "weekly blog, lists 10": (WEEK, 10),
}


def run(every: timedelta, lists: int, policy: PollingPolicy) -> tuple[int, int]:
    published, t = [], T0 - 8 * WEEK
    while t < T0 + WEEK:
        published.append(t)
        t += every
    state, seen, requests, now = FeedState("s", "https://x.example/f"), set(), 0, T0
    while now < T0 + WEEK:
        if is_due(state, now, policy):
            requests += 1
            listed = [p for p in published if p <= now][-lists:]
            new = [p for p in listed if p not in seen]
            first = state.poll_reason is None
            seen.update(listed)
            window = now - timedelta(seconds=policy.window_s)
            signals = PollSignals(
                entries_in_window=sum(1 for p in seen if p >= window),
                history_s=(now - min(seen)).total_seconds(),
                first_poll=first,
                listed=len(listed),
                new=len(new),
            )
            state = plan_next_poll(state, signals, now, policy)
        now += TICK
    week = [p for p in published if T0 <= p < T0 + WEEK - TICK]
    return requests, sum(1 for p in week if p not in seen)


def main() -> None:
    print(f"{'feed':32} {'fixed':>6} {'adaptive':>9} {'missed (fixed/adaptive)':>24}")
    for name, (every, lists) in FEEDS.items():
        fixed, fixed_missed = run(every, lists, PollingPolicy(adaptive=False))
        adaptive, missed = run(every, lists, PollingPolicy())
        print(f"{name:32} {fixed:6d} {adaptive:9d} {f'{fixed_missed}/{missed}':>24}")


if __name__ == "__main__":
    main()
