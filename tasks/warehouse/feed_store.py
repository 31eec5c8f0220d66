"""The feed lifecycle's state in DuckDB (``feed_state``, columns from migration 003).

A mixin of ``Warehouse``, apart from the core tables so the two can change independently.
``Warehouse.record_feed_polls`` writes the validators and timestamps of each poll; these methods
read the whole row and write the lifecycle columns after it (``tasks/fetch/lifecycle.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
                    redirect_target = l.redirect_target, redirect_count = l.redirect_count
                FROM _lifecycle l WHERE feed_state.source = l.source
                """
            )
