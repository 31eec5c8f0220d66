-- Alert state: what each data-quality check looked like at its last evaluation, and what was
-- last announced about it, so an alert goes out once when a check turns bad and once when it
-- recovers, never on every scheduled tick. alert_log keeps every message newsflow built.

CREATE TABLE alert_state (
    suite            VARCHAR NOT NULL,
    "check"          VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    severity         VARCHAR NOT NULL,
    state            VARCHAR NOT NULL,
    since            TIMESTAMPTZ NOT NULL,
    since_run_id     VARCHAR NOT NULL,
    last_run_id      VARCHAR NOT NULL,
    last_checked_at  TIMESTAMPTZ NOT NULL,
    failing_runs     INTEGER NOT NULL DEFAULT 0,
    observed         JSON,
    notified_state   VARCHAR,
    notified_at      TIMESTAMPTZ,
    notified_run_id  VARCHAR,
    PRIMARY KEY (suite, "check", source)
);
COMMENT ON TABLE alert_state IS 'One row per data-quality check and source: its current state (failing or passing) and the state last announced, so alerts go out on changes only.';
COMMENT ON COLUMN alert_state.suite IS 'Expectation suite: articles_row or articles_table.';
COMMENT ON COLUMN alert_state."check" IS 'Check name (as in dq_results).';
COMMENT ON COLUMN alert_state.source IS 'Source the check is about; empty string for checks over all sources (the row suite).';
COMMENT ON COLUMN alert_state.severity IS 'critical (fails the run) or warning (alerts only), as in the suite.';
COMMENT ON COLUMN alert_state.state IS 'failing or passing, as of the last run that could evaluate the check (runs that could not, e.g. every feed unchanged, leave it as it was).';
COMMENT ON COLUMN alert_state.since IS 'When the check entered its current state (UTC).';
COMMENT ON COLUMN alert_state.since_run_id IS 'Run that put the check in its current state.';
COMMENT ON COLUMN alert_state.last_run_id IS 'Last run that evaluated the check.';
COMMENT ON COLUMN alert_state.last_checked_at IS 'When the check was last evaluated (UTC).';
COMMENT ON COLUMN alert_state.failing_runs IS 'Evaluations in a row that failed; 0 while passing.';
COMMENT ON COLUMN alert_state.observed IS 'What the last evaluation saw (observed, expected, count, sample URLs), as JSON.';
COMMENT ON COLUMN alert_state.notified_state IS 'State last announced to the alert URLs (failing or passing); NULL if nothing was ever announced. An alert is due while it differs from state.';
COMMENT ON COLUMN alert_state.notified_at IS 'When that announcement was delivered (UTC).';
COMMENT ON COLUMN alert_state.notified_run_id IS 'Run that delivered that announcement.';

CREATE TABLE alert_log (
    run_id        VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    title         VARCHAR NOT NULL,
    body          VARCHAR NOT NULL,
    checks        VARCHAR[],
    destinations  INTEGER NOT NULL,
    delivered     BOOLEAN NOT NULL,
    attempts      INTEGER NOT NULL,
    error         VARCHAR,
    created_at    TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE alert_log IS 'Every alert message newsflow built, whether and where it was delivered.';
COMMENT ON COLUMN alert_log.run_id IS 'Run that built the message.';
COMMENT ON COLUMN alert_log.kind IS 'failed (checks turned bad), recovered (checks passing again), or another alert kind such as source_paused.';
COMMENT ON COLUMN alert_log.title IS 'Message title.';
COMMENT ON COLUMN alert_log.body IS 'Message text as sent.';
COMMENT ON COLUMN alert_log.checks IS 'Checks the message is about, as check [source].';
COMMENT ON COLUMN alert_log.destinations IS 'Alert URLs configured (0: the message was only logged).';
COMMENT ON COLUMN alert_log.delivered IS 'Whether at least one destination accepted it (true when none is configured: logging was the delivery).';
COMMENT ON COLUMN alert_log.attempts IS 'Delivery attempts made, over all destinations.';
COMMENT ON COLUMN alert_log.error IS 'Why delivery failed, per destination (URLs with secrets redacted); NULL when fine.';
COMMENT ON COLUMN alert_log.created_at IS 'When the message was built (UTC).';
