"""Alert logic without a flow run: state transitions and messages (pure), delivery through real
apprise to a real receiver on loopback, and the ``alert_log`` record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from newsflow.tasks.quality import alerts
from newsflow.tasks.quality.alerts import (
    FAILING,
    PASSING,
    AlertMessage,
    AlertState,
    CheckResult,
    advance,
    build_messages,
    mark_notified,
    pending_notices,
    transition,
)
from newsflow.tasks.warehouse.warehouse import Warehouse
from tests.servers import LoopbackServer, Response, loopback_server_fixture  # noqa: F401

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def result(status: str, *, check="reject_rate", source="harbor", severity="critical", **seen):
    observed = {
        "observed": "60% of the source's pages gave no valid article (3 of 5)",
        "expected": "at most 25% of the source's pages rejected",
        "count": 3,
        "count_label": "pages rejected in this run",
        "sample_urls": [f"https://harbor.example/p/{i}" for i in range(7)],
        **seen,
    }
    return CheckResult(
        suite="articles_table",
        check=check,
        source=source,
        severity=severity,
        status=status,
        observed=observed,
        count=3,
    )


def run_sequence(statuses: list[str], **kwargs) -> list[AlertState | None]:
    """Advance one check through ``statuses`` (one run each, an hour apart)."""
    state, states = None, []
    for i, status in enumerate(statuses):
        state = advance(state, result(status, **kwargs), f"run-{i}", T0 + timedelta(hours=i))
        states.append(state)
    return states


# --------------------------------------------------------------------------- state transitions


def test_first_failure_starts_a_failing_state_due_for_announcement():
    [state] = run_sequence(["fail"])
    assert (state.state, state.since, state.since_run_id, state.failing_runs) == (
        FAILING,
        T0,
        "run-0",
        1,
    )
    assert state.notified_state is None
    assert transition(None, state) == "failed"
    [notice] = pending_notices([state])
    assert notice.kind == "failed" and notice.state is state


def test_a_check_that_only_ever_passed_says_nothing():
    first, second = run_sequence(["pass", "pass"])
    assert transition(None, first) is None and transition(first, second) is None
    assert pending_notices([second]) == []


def test_repeated_failure_keeps_since_and_counts_runs():
    first, second, third = run_sequence(["fail", "fail", "fail"])
    assert (third.since, third.since_run_id, third.failing_runs) == (T0, "run-0", 3)
    assert transition(first, second) is None
    # once announced, the next failing runs are quiet
    announced = mark_notified(second, "run-1", T0 + timedelta(hours=1))
    again = advance(announced, result("fail"), "run-2", T0 + timedelta(hours=2))
    assert again.notified_state == FAILING and pending_notices([again]) == []


def test_recovery_after_an_announced_failure_is_due_once():
    failing = run_sequence(["fail"])[0]
    announced = mark_notified(failing, "run-0", T0)
    recovered = advance(announced, result("pass"), "run-1", T0 + timedelta(hours=1))
    assert (recovered.state, recovered.failing_runs, recovered.since_run_id) == (
        PASSING,
        0,
        "run-1",
    )
    assert transition(announced, recovered) == "recovered"
    [notice] = pending_notices([recovered])
    assert notice.kind == "recovered"
    done = mark_notified(recovered, "run-1", T0 + timedelta(hours=1))
    assert pending_notices([done]) == []


def test_a_skipped_evaluation_changes_nothing():
    failing = run_sequence(["fail"])[0]
    assert advance(failing, result("skip"), "run-1", T0 + timedelta(hours=1)) is failing
    assert advance(None, result("skip"), "run-1", T0) is None


def test_a_failure_that_recovers_before_any_delivery_is_never_announced():
    failing, recovered = run_sequence(["fail", "pass"])
    assert pending_notices([failing])  # due, but say delivery failed…
    assert pending_notices([recovered]) == []  # …by the next run there is nothing to say


def test_an_undelivered_failure_stays_due_on_the_next_run():
    first, second = run_sequence(["fail", "fail"])
    [notice] = pending_notices([second])  # the first run's delivery never got through
    assert notice.kind == "failed" and notice.state.since_run_id == "run-0"


def test_critical_notices_come_first():
    warning = advance(None, result("fail", source="a", severity="warning"), "r", T0)
    critical = advance(None, result("fail", source="z", severity="critical"), "r", T0)
    assert [n.state for n in pending_notices([warning, critical])] == [critical, warning]


# --------------------------------------------------------------------------- messages


def test_failed_message_names_everything_an_on_call_person_needs():
    critical = advance(None, result("fail"), "run-9", T0)
    stale = advance(
        None,
        result(
            "fail",
            check="freshness",
            severity="warning",
            observed="newest article 900.0 h old",
            expected="newest article at most 48 h old",
            count=12,
            count_label="articles from this source in the warehouse",
            sample_urls=["https://harbor.example/p/newest"],
        ),
        "run-9",
        T0,
    )
    [message] = build_messages(
        pending_notices([stale, critical]),
        run_id="run-9",
        data_docs_page="/docs/validations/articles_table/run-9/page.html",
        data_docs_index="/docs/index.html",
    )
    assert message.kind == "failed" and message.notify_type == "failure"
    assert message.title == "newsflow: 2 data-quality checks failed (1 critical) — harbor"
    assert message.checks == ("reject_rate [harbor]", "freshness [harbor]")
    body = message.body
    assert body.index("[CRITICAL] reject_rate — source harbor") < body.index(
        "[WARNING] freshness — source harbor"
    )
    assert "observed: 60% of the source's pages gave no valid article (3 of 5)" in body
    assert "expected: at most 25% of the source's pages rejected" in body
    assert "count: 3 pages rejected in this run" in body
    assert "count: 12 articles from this source in the warehouse" in body
    shown = [line.strip() for line in body.splitlines() if "harbor.example/p/" in line]
    assert shown[:5] == [f"https://harbor.example/p/{i}" for i in range(5)]  # 5 of 7 samples
    assert "https://harbor.example/p/5" not in body
    assert "run: run-9" in body
    assert "Data Docs: /docs/validations/articles_table/run-9/page.html" in body
    assert "Data Docs site: /docs/index.html" in body


def test_warning_only_message_and_recovery_message():
    warning = advance(None, result("fail", severity="warning"), "run-1", T0)
    [failed] = build_messages(pending_notices([warning]), run_id="run-1")
    assert failed.notify_type == "warning"
    assert failed.title == "newsflow: 1 data-quality check failed (warning) — harbor"

    announced = mark_notified(warning, "run-1", T0)
    back = advance(announced, result("pass", observed="8% rejected"), "run-2", T0)
    [recovered] = build_messages(pending_notices([back]), run_id="run-2")
    assert (recovered.kind, recovered.notify_type) == ("recovered", "success")
    assert recovered.title == "newsflow: 1 data-quality check recovered — harbor"
    assert "[RECOVERED] reject_rate — source harbor" in recovered.body
    assert "observed now: 8% rejected" in recovered.body
    assert "run: run-2" in recovered.body


def test_a_run_with_failures_and_recoveries_sends_one_message_of_each():
    old = mark_notified(advance(None, result("fail", source="a"), "r0", T0), "r0", T0)
    recovered = advance(old, result("pass", source="a"), "r1", T0)
    failed = advance(None, result("fail", source="b"), "r1", T0)
    messages = build_messages(pending_notices([recovered, failed]), run_id="r1")
    assert [m.kind for m in messages] == ["failed", "recovered"]
    assert build_messages([], run_id="r1") == []


def test_row_check_over_all_sources_lists_failures_by_source():
    row = CheckResult(
        suite="articles_row",
        check="body_present",
        source=None,
        severity="critical",
        status="fail",
        observed={
            "observed": "5 of 10 records failed (50.0%)",
            "by_source": {"b": 2, "a": 3},
            "count": 5,
        },
        count=5,
    )
    state = advance(None, row, "r", T0)
    assert state.source == "" and state.label == "body_present"
    [message] = build_messages(pending_notices([state]), run_id="r")
    assert message.title == "newsflow: 1 data-quality check failed (1 critical)"
    assert "[CRITICAL] body_present — all sources (failing records by source: a 3, b 2)" in (
        message.body
    )


def test_source_paused_message():
    message = alerts.source_paused_message(
        source="harbor",
        consecutive_failures=5,
        reason="http_503: the feed answered HTTP 503",
        run_id="r7",
        feed_url="https://harbor.example/rss.xml",
        resume_hint="newsflow run --reset-source harbor",
    )
    assert message.kind == "source_paused" and message.notify_type == "failure"
    assert message.title == "newsflow: source harbor paused after 5 failures"
    for text in ("failed 5 times in a row", "https://harbor.example/rss.xml", "http_503", "r7"):
        assert text in message.body


def test_dq_row_is_what_dq_results_stores():
    row = result("fail").dq_row()
    assert row["success"] is False and row["source"] == "harbor"
    assert row["unexpected_count"] == 3 and json.loads(row["observed"])["count"] == 3
    assert result("skip").success  # a skip is not a failure (and is never stored)


# --------------------------------------------------------------------------- delivery


MESSAGE = AlertMessage(
    kind="failed", title="newsflow: test", body="line one\nline two", notify_type="failure"
)


def test_delivery_posts_json_to_the_receiver(loopback_server):
    loopback_server.add("/hook", b"ok", content_type="text/plain")
    [delivery] = alerts.deliver(MESSAGE, [f"json://{loopback_server.host_port}/hook"])
    assert (delivery.ok, delivery.attempts, delivery.error) == (True, 1, None)
    [request] = [r for r in loopback_server.requests if r.method == "POST"]
    payload = json.loads(request.body)
    assert payload["title"] == "newsflow: test"
    assert payload["message"] == "line one\nline two"
    assert payload["type"] == "failure"


def test_failed_delivery_is_retried_with_backoff_and_never_raises(loopback_server):
    loopback_server.add("/hook", b"busy", status=503, content_type="text/plain")
    waits: list[float] = []
    [delivery] = alerts.deliver(
        MESSAGE,
        [f"json://{loopback_server.host_port}/hook"],
        attempts=3,
        retry_delay_s=0.5,
        sleep=waits.append,
    )
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert waits == [0.5, 1.0]
    assert delivery.error and "503" in delivery.error
    assert loopback_server.hits("/hook") == 3
    assert not alerts.delivered([delivery])


def test_a_retry_never_repeats_a_message_to_a_destination_that_took_it(loopback_server):
    loopback_server.add("/ok", b"ok", content_type="text/plain")
    loopback_server.sequence("/flaky", [Response(500), Response(200, b"ok")])
    urls = [f"json://{loopback_server.host_port}/{path}" for path in ("ok", "flaky")]
    deliveries = alerts.deliver(MESSAGE, urls, attempts=3, retry_delay_s=0, sleep=lambda _s: None)
    assert [(d.ok, d.attempts) for d in deliveries] == [(True, 1), (True, 2)]
    assert loopback_server.hits("/ok") == 1 and loopback_server.hits("/flaky") == 2


def test_a_bad_url_is_reported_not_raised():
    [delivery] = alerts.deliver(MESSAGE, ["nonsense://nowhere"], sleep=lambda _s: None)
    assert (delivery.ok, delivery.attempts) == (False, 0)
    assert delivery.error == "not a valid apprise URL"
    assert delivery.destination == "nonsense://…"  # never echo a URL that may hold a token


@pytest.fixture
def warehouse(tmp_path):
    with Warehouse.open(tmp_path / "news.duckdb", lock_timeout_s=1) as wh:
        yield wh


def test_send_alert_logs_the_message_in_alert_log(loopback_server, warehouse):
    loopback_server.add("/hook", b"ok", content_type="text/plain")
    con = warehouse.con
    report = alerts.alert_source_paused(
        [f"json://{loopback_server.host_port}/hook"],
        source="harbor",
        consecutive_failures=5,
        run_id="run-1",
        reason="timeout",
        warehouse=warehouse,
    )
    assert report.delivered and report.destinations == 1
    row = con.execute(
        "SELECT run_id, kind, title, checks, destinations, delivered, attempts, error "
        "FROM alert_log"
    ).fetchone()
    assert row == (
        "run-1",
        "source_paused",
        "newsflow: source harbor paused after 5 failures",
        ["source_paused [harbor]"],
        1,
        True,
        1,
        None,
    )
    [request] = [r for r in loopback_server.requests if r.method == "POST"]
    assert json.loads(request.body)["title"] == row[2]


def test_without_urls_the_alert_is_only_logged(caplog, warehouse):
    con = warehouse.con
    with caplog.at_level("WARNING", logger="newsflow.alerts"):
        report = alerts.send_alert(MESSAGE, [], run_id="r", warehouse=warehouse)
    assert report.deliveries == [] and report.delivered
    assert "line one" in caplog.text
    assert con.execute("SELECT destinations, delivered FROM alert_log").fetchone() == (0, True)


@pytest.mark.parametrize("attempts", [1, 2])
def test_state_round_trips_through_duckdb(attempts, warehouse):
    states = run_sequence(["fail"] * attempts)
    warehouse.save_alert_states([s for s in states if s])
    loaded = warehouse.load_alert_states()
    assert loaded == {states[-1].key: states[-1]}
