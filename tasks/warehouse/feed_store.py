"""The feed lifecycle's state in DuckDB (``feed_state``, columns from migration 003).

A mixin of ``Warehouse``, apart from the core tables so the two can change independently.
``Warehouse.record_feed_polls`` writes the validators and timestamps of each poll; these methods
read the whole row and write the lifecycle columns after it (``tasks/fetch/lifecycle.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import pyarrow as pa

from newsflow.schemas.config import SourceConfig
from newsflow.tasks.fetch.feed_policy import FeedState
from newsflow.tasks.warehouse.bulk import BulkStore

#: ``feed_state`` read as the fields of ``FeedState``, in order.
_COLUMNS = (
    "source",
    "coalesce(config_url, feed_url)",
    "effective_url",
    "etag",
    "last_modified",
    "coalesce(status, 'active')",
    "status_reason",
    "status_changed_at",
    "next_allowed_at",
    "coalesce(consecutive_errors, 0)",
    "redirect_target",
    "coalesce(redirect_count, 0)",
    "next_poll_at",
    "poll_interval_s",
    "poll_reason",
)

_TS = pa.timestamp("us", tz="UTC")
#: The lifecycle columns ``save_feed_states`` writes, keyed by ``source``.
_LIFECYCLE = pa.schema(
    [
        ("source", pa.string()),
        ("config_url", pa.string()),
        ("effective_url", pa.string()),
        ("status", pa.string()),
        ("status_reason", pa.string()),
        ("status_changed_at", _TS),
        ("next_allowed_at", _TS),
        ("consecutive_errors", pa.int32()),
        ("redirect_target", pa.string()),
        ("redirect_count", pa.int32()),
        ("next_poll_at", _TS),
        ("poll_interval_s", pa.float64()),
        ("poll_reason", pa.string()),
    ]
)


class FeedStore(BulkStore):
    def load_feed_states(self, sources: Sequence[SourceConfig]) -> dict[str, FeedState]:
        """Each source's state; a fresh one for a new source or one whose configured URL
        changed (editing the URL in the config is a fresh start, validators and lifecycle
        included)."""
        names = [s.name for s in sources]
        rows = self.con.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM feed_state WHERE source IN (SELECT unnest(?))",
            [names],
        ).fetchall()
        stored = {row[0]: FeedState(*row) for row in rows}
        states = {}
        for source in sources:
            state = stored.get(source.name)
            if state is None or state.config_url != source.feed:
                state = FeedState(source=source.name, config_url=source.feed)
            states[source.name] = state
        return states

    def save_feed_states(self, states: Iterable[FeedState]) -> None:
        """Write the lifecycle columns of sources that were polled (their rows exist by then;
        a source without a row is left without one), in one statement."""
        by_source = {s.source: s for s in states}  # the last state per source wins
        if not by_source:
            return
        table = pa.Table.from_pylist(
            [{name: getattr(s, name) for name in _LIFECYCLE.names} for s in by_source.values()],
            schema=_LIFECYCLE,
        )
        with self._registered("_lifecycle", table), self._transaction():
            self.con.execute(
                """
                UPDATE feed_state SET config_url = l.config_url, effective_url = l.effective_url,
                    status = l.status, status_reason = l.status_reason,
                    status_changed_at = l.status_changed_at, next_allowed_at = l.next_allowed_at,
                    consecutive_errors = l.consecutive_errors,
                    redirect_target = l.redirect_target, redirect_count = l.redirect_count,
                    next_poll_at = l.next_poll_at, poll_interval_s = l.poll_interval_s,
                    poll_reason = l.poll_reason
                FROM _lifecycle l WHERE feed_state.source = l.source
                """
            )

    def poll_rhythm(
        self, run_id: str, sources: Sequence[str], window_start: datetime
    ) -> dict[str, tuple[int, datetime | None, int, int]]:
        """Per source polled in ``run_id``: entries its feed published since ``window_start``
        (the feed's date, else when newsflow first saw the entry), the date of its oldest
        known entry, and what the run's poll listed and found new (``feed_fetches``): what
        adaptive polling schedules on."""
        if not sources:
            return {}
        rows = self.con.execute(
            """
            SELECT f.source, coalesce(w.n, 0), w.oldest,
                   coalesce(f.entries, 0), coalesce(f.new_entries, 0)
            FROM feed_fetches f
            LEFT JOIN (SELECT source,
                              count(*) FILTER (WHERE coalesce(published_at, first_seen_at) >= ?)
                                  AS n,
                              min(coalesce(published_at, first_seen_at)) AS oldest
                       FROM seen_entries
                       WHERE coalesce(origin, 'feed') = 'feed' AND source IN (SELECT unnest(?))
                       GROUP BY ALL) w USING (source)
            WHERE f.run_id = ? AND f.source IN (SELECT unnest(?))
            """,
            [window_start, list(sources), run_id, list(sources)],
        ).fetchall()
        return {row[0]: tuple(row[1:]) for row in rows}  # type: ignore[misc]
