"""The feed lifecycle's state in DuckDB (``feed_state``, columns from migration 003).

This is the warehouse's feed-lifecycle door, kept beside ``tasks/load.py`` rather than inside it so
the two can change independently; every statement still goes through the ``Warehouse``'s own
connection. ``Warehouse.record_feed_polls`` keeps writing validators and timestamps of each poll;
this module reads the whole row and writes the lifecycle columns after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from newsflow.schemas.config import SourceConfig
from newsflow.tasks.fetch.feed_policy import FeedState
from newsflow.tasks.warehouse.transaction import transaction
from newsflow.tasks.warehouse.warehouse import Warehouse

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


def load_states(warehouse: Warehouse, sources: Sequence[SourceConfig]) -> dict[str, FeedState]:
    """Each source's state; a fresh one for a new source or one whose configured URL changed
    (editing the URL in the config is a fresh start, validators and lifecycle included)."""
    names = [s.name for s in sources]
    rows = warehouse.con.execute(
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


def save_states(warehouse: Warehouse, states: Iterable[FeedState]) -> None:
    """Write the lifecycle columns of sources that were polled (their rows exist by then)."""
    rows = [
        [
            s.config_url,
            s.effective_url,
            s.status,
            s.status_reason,
            s.status_changed_at,
            s.next_allowed_at,
            s.consecutive_errors,
            s.redirect_target,
            s.redirect_count,
            s.source,
        ]
        for s in states
    ]
    if not rows:
        return
    with transaction(warehouse.con):
        warehouse.con.executemany(
            """
            UPDATE feed_state SET config_url = ?, effective_url = ?, status = ?,
                status_reason = ?, status_changed_at = ?, next_allowed_at = ?,
                consecutive_errors = ?, redirect_target = ?, redirect_count = ?
            WHERE source = ?
            """,
            rows,
        )
