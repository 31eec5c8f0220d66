"""The feed lifecycle inside a run: which sources to poll, with which URL and validators, and
what their answers change (decisions in ``feed_policy``, state kept by the warehouse:
``Warehouse.load_feed_states`` / ``save_feed_states``).

    polls, round_ = poll_sources(warehouse, sources, config)   # skipped sources included
    warehouse.record_feed_polls(run_id, polls, per_source)     # feed_fetches + validators
    save_round(warehouse, run_id, round_, config)              # lifecycle columns, alerts

Polls of due sources run concurrently as Prefect tasks; a source that is gone, paused or inside
its Retry-After window gets a ``feed_fetches`` row whose error starts with ``skipped:`` and no
request at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from newsflow.schemas.config import Config, ConfigError, FetchConfig, SourceConfig
from newsflow.tasks.fetch import feed_policy
from newsflow.tasks.fetch.domains import domain_of
from newsflow.tasks.fetch.feed_policy import FeedState, LifecyclePolicy, PollingPolicy, Transition
from newsflow.tasks.fetch.feeds import FeedPoll, skipped_poll
from newsflow.tasks.fetch.tasks import POLL_BATCH, PollJob, poll_feeds
from newsflow.tasks.quality import alerts
from newsflow.tasks.warehouse.warehouse import Warehouse

log = logging.getLogger("newsflow.feeds")


@dataclass
class FeedRound:
    """The lifecycle outcome of one run's polls, to be saved after ``record_feed_polls``."""

    states: dict[str, FeedState]
    transitions: dict[str, Transition] = field(default_factory=dict)
    polls: dict[str, FeedPoll] = field(default_factory=dict)  # the polls sent, by source
    not_due: list[str] = field(default_factory=list)  # adaptive polling: not polled, not due

    @property
    def paused(self) -> list[str]:
        return [name for name, t in self.transitions.items() if t.paused]


def polling_policy(fetch: FetchConfig) -> PollingPolicy:
    return PollingPolicy(
        adaptive=fetch.polling == "adaptive",
        min_interval_s=fetch.poll_min_interval_min * 60,
        max_interval_s=fetch.poll_max_interval_h * 3600,
        window_s=fetch.poll_window_days * 86400,
    )


def lifecycle_policy(fetch: FetchConfig) -> LifecyclePolicy:
    return LifecyclePolicy(
        pause_after_errors=fetch.pause_after_errors,
        redirect_adopt_after=fetch.redirect_adopt_after,
        max_retry_after_s=fetch.max_retry_after_s,
        throttle_default_s=fetch.throttle_default_s,
    )


def poll_sources(
    warehouse: Warehouse,
    sources: Sequence[SourceConfig],
    config: Config,
    now: datetime | None = None,
) -> tuple[list[FeedPoll], FeedRound]:
    """Poll every due source (concurrently) and decide each one's next state. Sources whose
    adaptive schedule says not yet are not polled and not in the result (``now``: the clock,
    injected by tests).

    Polls come back in config order (the first source listing an article keeps it). A poll's
    ``error`` gains the lifecycle's note (throttled until…, marked gone, paused) so that
    ``feed_fetches.error`` tells the whole story.
    """
    states = warehouse.load_feed_states(sources)
    now = now or datetime.now(UTC)
    # Adaptive polling: a source whose next poll is not due yet is left out of this run
    # altogether (no request, no feed_fetches row); its schedule is feed_state.next_poll_at.
    polling = polling_policy(config.fetch)
    not_due = [s.name for s in sources if not feed_policy.is_due(states[s.name], now, polling)]
    sources = [s for s in sources if s.name not in not_due]
    jobs: list[PollJob] = []
    by_source: dict[str, FeedPoll] = {}
    shared = config.fetch.share_politeness == "domain"
    waits = domain_waits(states.values(), now) if shared else {}
    for source in sources:
        state = states[source.name]
        reason = feed_policy.skip_reason(state, now) or _domain_skip(state, source, waits)
        if reason is not None:
            by_source[source.name] = skipped_poll(source.name, state.poll_url, reason, now)
            continue
        url = state.poll_url or source.feed
        jobs.append(PollJob(source.name, url, state.etag, state.last_modified))
    futures = [
        poll_feeds.submit(batch, config.fetch, f"{start}-{start + len(batch) - 1}")
        for start, batch in _batches_by_domain(jobs, POLL_BATCH)
    ]
    for future in futures:
        by_source.update((poll.source, poll) for poll in future.result())
    polls = [by_source[s.name] for s in sources]

    policy = lifecycle_policy(config.fetch)
    round_ = FeedRound(states=states, not_due=not_due)
    for poll in polls:
        if poll.skipped:
            continue
        transition = feed_policy.next_state(states[poll.source], poll, poll.fetched_at, policy)
        round_.transitions[poll.source] = transition
        round_.polls[poll.source] = poll
        if transition.note:
            poll.error = f"{poll.error} — {transition.note}" if poll.error else transition.note
        if transition.adopted_url:
            log.warning(
                "source %s: polling %s from now on (permanently redirected %d times in a row; "
                "the config still says %s)",
                poll.source,
                transition.adopted_url,
                policy.redirect_adopt_after,
                states[poll.source].config_url,
            )
    return polls, round_


def domain_waits(states: Iterable[FeedState], now: datetime) -> dict[str, tuple[datetime, str]]:
    """Per registrable domain, the latest ``Retry-After`` one of its sources is waiting out
    (and which source): the other sources on that domain wait too."""
    waits: dict[str, tuple[datetime, str]] = {}
    for state in states:
        until = state.next_allowed_at
        domain = domain_of(state.poll_url) if until is not None and until > now else None
        if domain is not None and (domain not in waits or until > waits[domain][0]):
            waits[domain] = (until, state.source)
    return waits


def _domain_skip(
    state: FeedState, source: SourceConfig, waits: dict[str, tuple[datetime, str]]
) -> str | None:
    domain = domain_of(state.poll_url or source.feed)
    if domain is None or domain not in waits or waits[domain][1] == state.source:
        return None
    until, other = waits[domain]
    return (
        f"skipped: source {other} on the same domain ({domain}) was asked to wait "
        f"(Retry-After) until {until.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )


def _batches_by_domain(jobs: list[PollJob], size: int) -> list[tuple[int, list[PollJob]]]:
    """``jobs`` in task batches of about ``size``, a domain's feeds never split across two
    (batches run concurrently; a domain's feeds are polled one after another in its batch)."""
    grouped: dict[str, list[PollJob]] = {}
    for job in jobs:
        grouped.setdefault(domain_of(job.url) or job.url, []).append(job)
    out: list[tuple[int, list[PollJob]]] = []
    current: list[PollJob] = []
    start = 1
    for group in grouped.values():
        if current and len(current) + len(group) > size:
            out.append((start, current))
            start += len(current)
            current = []
        current.extend(group)
    if current:
        out.append((start, current))
    return out


def save_round(
    warehouse: Warehouse,
    run_id: str,
    round_: FeedRound,
    config: Config,
    now: datetime | None = None,
) -> None:
    """Store the new states (after ``record_feed_polls``, whose counts the schedule reads)
    with each polled source's next poll time, and raise alerts for paused sources."""
    now = now or datetime.now(UTC)
    schedule(warehouse, run_id, round_, config, now)
    warehouse.save_feed_states([t.state for t in round_.transitions.values()])
    for name in round_.paused:
        alert_source_paused(warehouse, config, run_id, round_.transitions[name].state)


def schedule(
    warehouse: Warehouse, run_id: str, round_: FeedRound, config: Config, now: datetime
) -> None:
    """Each polled source's next poll (``feed_policy.plan_next_poll``) from its poll in this
    run and the entries its feed published over the trailing window."""
    policy = polling_policy(config.fetch)
    window_start = now - timedelta(seconds=policy.window_s)
    rhythm = warehouse.poll_rhythm(run_id, list(round_.transitions), window_start)
    for name, transition in round_.transitions.items():
        poll = round_.polls[name]
        in_window, oldest, listed, new = rhythm.get(name, (0, None, len(poll.entries), 0))
        before = round_.states[name]
        signals = feed_policy.PollSignals(
            entries_in_window=in_window,
            history_s=(poll.fetched_at - oldest).total_seconds() if oldest else None,
            first_poll=before.next_poll_at is None and before.poll_reason is None,
            listed=listed,
            new=new,
            cache_control=poll.cache_control,
            expires=poll.expires,
            ttl_min=poll.ttl_min,
            succeeded=poll.succeeded,
        )
        state = feed_policy.plan_next_poll(transition.state, signals, poll.fetched_at, policy)
        round_.transitions[name] = replace(transition, state=state)


def alert_source_paused(
    warehouse: Warehouse, config: Config, run_id: str, state: FeedState
) -> alerts.AlertReport:
    """A source was just paused after ``fetch.pause_after_errors`` failed polls in a row: one
    message through the data-quality alert path (apprise to ``[alerts] urls``, a
    ``newsflow.source.paused`` Prefect event, an ``alert_log`` row). Never raises.

    The pause itself is already recorded: ``feed_fetches.error`` of the poll that caused it and
    ``feed_state.status``/``status_reason``.
    """
    log.warning("source %s paused in run %s: %s", state.source, run_id, state.status_reason)
    return alerts.alert_source_paused(
        config.alerts.all_urls(),
        source=state.source,
        consecutive_failures=state.consecutive_errors,
        run_id=run_id,
        reason=state.status_reason,
        feed_url=state.poll_url,
        resume_hint=f"newsflow run --reset-source {state.source}",
        warehouse=warehouse,
        attempts=config.alerts.delivery_attempts,
        retry_delay_s=config.alerts.retry_delay_s,
    )


def reset_sources(config: Config, db: str | None, names: Sequence[str]) -> list[str]:
    """``newsflow run --reset-source NAME``: make paused or gone sources active again (and forget
    Retry-After waits and adopted redirects) before the run. Returns the names reset."""
    known = {s.name: s for s in config.sources}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"--reset-source: no source named {', '.join(map(repr, unknown))} in the config "
            f"(sources: {', '.join(known) or 'none'})"
        )
    path = db or config.warehouse.path
    with Warehouse.open(path, lock_timeout_s=config.warehouse.lock_timeout_s) as warehouse:
        states = warehouse.load_feed_states([known[n] for n in names])
        warehouse.save_feed_states([feed_policy.reset(states[n]) for n in names])
    return list(names)
