"""Alert state and the alert log in DuckDB (``alert_state``, ``alert_log``, migration 004).

The quality stage decides what an alert is (``tasks/quality/alerts.py``: pure records and
rules); this mixin of ``Warehouse`` is where those records meet SQL. A message's log row and
the states it announced are written in one transaction, so a crash can never record a delivery
without the announcement (or the other way round) and send it twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from newsflow.tasks.quality.alerts import AlertMessage, AlertState, Delivery, delivered
from newsflow.tasks.warehouse.bulk import BulkStore

_STATE_COLUMNS = (
    "suite",
    "check",
    "source",
    "severity",
    "state",
    "since",
    "since_run_id",
    "last_run_id",
    "last_checked_at",
    "failing_runs",
    "observed",
    "notified_state",
    "notified_at",
    "notified_run_id",
)


class AlertStore(BulkStore):
    def load_alert_states(self) -> dict[tuple[str, str, str], AlertState]:
        """Every ``alert_state`` row, by (suite, check, source)."""
        cols = ", ".join(f'"{c}"' for c in _STATE_COLUMNS)
        states = {}
        for row in self.con.execute(f"SELECT {cols} FROM alert_state").fetchall():
            values = dict(zip(_STATE_COLUMNS, row, strict=True))
            values["observed"] = json.loads(values["observed"]) if values["observed"] else {}
            state = AlertState(**values)
            states[state.key] = state
        return states

    def save_alert_states(self, states: Iterable[AlertState]) -> None:
        """Upsert ``alert_state`` rows, all in one statement and one transaction."""
        with self._transaction():
            self._save_alert_states(states)

    def log_alert(
        self,
        run_id: str,
        message: AlertMessage,
        deliveries: Sequence[Delivery],
        now: datetime,
        *,
        notified: Iterable[AlertState] = (),
    ) -> None:
        """One ``alert_log`` row for ``message`` and, in the same transaction, the ``notified``
        states it announced (already marked notified by the caller)."""
        errors = [f"{d.destination}: {d.error}" for d in deliveries if not d.ok and d.error]
        row = {
            "run_id": run_id,
            "kind": message.kind,
            "title": message.title,
            "body": message.body,
            "checks": list(message.checks),
            "destinations": len(deliveries),
            "delivered": delivered(deliveries),
            "attempts": sum(d.attempts for d in deliveries),
            "error": "; ".join(errors) or None,
            "created_at": now,
        }
        with self._transaction():
            self._insert("alert_log", [row])
            self._save_alert_states(notified)

    def _save_alert_states(self, states: Iterable[AlertState]) -> None:
        rows = [
            {
                **{c: getattr(state, c) for c in _STATE_COLUMNS},
                "observed": json.dumps(state.observed, default=str),
            }
            for state in {state.key: state for state in states}.values()  # last one per key
        ]
        if rows:
            self._insert("alert_state", rows, replace=True)
