"""Every flow ends the same way (flows/scaffold.py): gate → announce → finish → publish.

The order matters to analysts: the snapshot a run publishes must already hold what the run
announced (``alert_log``) and the announced state (``alert_state.notified_*``), not only its
``dq_results``. ``reprocess`` once published before it announced, so its alerts reached the
snapshot only with the next run.
"""

from __future__ import annotations

import duckdb

from newsflow.flows.reprocess import reprocess
from newsflow.schemas.config import FetchConfig
from tests.warehouse_demo import copy_warehouse, demo_warehouse


def test_reprocess_publishes_the_alerts_it_sent(prefect_harness, tmp_path_factory):
    demo = demo_warehouse(tmp_path_factory)
    db = copy_warehouse(demo, tmp_path_factory.mktemp("scaffold"))
    # A word minimum no demo article reaches: the row check fails in this reprocess run, so
    # its state turns failing and an alert is built and (no URL configured) logged.
    config = demo.config.model_copy(
        update={
            "fetch": FetchConfig(allow_private=[], per_host_delay_s=0.0),
            "checks": {**demo.config.checks, "min_words": 100_000},
        }
    )
    summary = reprocess(config=config, db=str(db))

    assert "body_min_length" in summary.checks_failed
    assert any(a["kind"] == "failed" for a in summary.alerts)
    with duckdb.connect(str(db), read_only=True) as snapshot:
        logged = snapshot.execute(
            "SELECT count(*) FROM alert_log WHERE run_id = ?", [summary.run_id]
        ).fetchone()[0]
        announced = snapshot.execute(
            "SELECT notified_state FROM alert_state WHERE \"check\" = 'body_min_length' "
            "AND notified_run_id = ?",
            [summary.run_id],
        ).fetchall()
    assert logged >= 1, "the snapshot lacks the alert this run sent"
    assert announced == [("failing",)], "the snapshot lacks the state this run announced"
