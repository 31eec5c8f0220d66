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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from newsflow.schemas.config import Config, ConfigError, FetchConfig, SourceConfig
from newsflow.tasks.fetch import feed_policy
from newsflow.tasks.fetch.feed_policy import FeedState, LifecyclePolicy, Transition
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

    @property
    def paused(self) -> list[str]:
        return [name for name, t in self.transitions.items() if t.paused]


def lifecycle_policy(fetch: FetchConfig) -> LifecyclePolicy:
    return LifecyclePolicy(
        pause_after_errors=fetch.pause_after_errors,
        redirect_adopt_after=fetch.redirect_adopt_after,
        max_retry_after_s=fetch.max_retry_after_s,
        throttle_default_s=fetch.throttle_default_s,
    )


def poll_sources(
    warehouse: Warehouse, sources: Sequence[SourceConfig], config: Config
) -> tuple[list[FeedPoll], FeedRound]:
    """Poll every due source (concurrently) and decide each one's next state.

    Polls come back in config order (the first source listing an article keeps it). A poll's
    ``error`` gains the lifecycle's note (throttled until…, marked gone, paused) so that
    ``feed_fetches.error`` tells the whole story.
    """
    states = warehouse.load_feed_states(sources)
    now = datetime.now(UTC)
    jobs: list[PollJob] = []
    by_source: dict[str, FeedPoll] = {}
    for source in sources:
        state = states[source.name]
        reason = feed_policy.skip_reason(state, now)
        if reason is not None:
            by_source[source.name] = skipped_poll(source.name, state.poll_url, reason, now)
            continue
        url = state.poll_url or source.feed
        jobs.append(PollJob(source.name, url, state.etag, state.last_modified))
    futures = [
        poll_feeds.submit(jobs[i : i + POLL_BATCH], config.fetch, f"{i + 1}-{i + POLL_BATCH}")
        for i in range(0, len(jobs), POLL_BATCH)
    ]
    for future in futures:
        by_source.update((poll.source, poll) for poll in future.result())
    polls = [by_source[s.name] for s in sources]

    policy = lifecycle_policy(config.fetch)
    round_ = FeedRound(states=states)
    for poll in polls:
        if poll.skipped:
            continue
        transition = feed_policy.next_state(states[poll.source], poll, poll.fetched_at, policy)
        round_.transitions[poll.source] = transition
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


def save_round(warehouse: Warehouse, run_id: str, round_: FeedRound, config: Config) -> None:
    """Store the new states (after ``record_feed_polls``) and raise alerts for paused sources."""
    warehouse.save_feed_states([t.state for t in round_.transitions.values()])
    for name in round_.paused:
        alert_source_paused(warehouse, config, run_id, round_.transitions[name].state)


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
