-- Feed lifecycle (issue 7): where a source stands between runs, so a run knows whether to poll it
-- and which URL to poll. Decisions live in tasks/feed_policy.py; docs/fetching.md explains them.

ALTER TABLE feed_state ADD COLUMN config_url VARCHAR;
ALTER TABLE feed_state ADD COLUMN effective_url VARCHAR;
ALTER TABLE feed_state ADD COLUMN status VARCHAR DEFAULT 'active';
ALTER TABLE feed_state ADD COLUMN status_reason VARCHAR;
ALTER TABLE feed_state ADD COLUMN status_changed_at TIMESTAMPTZ;
ALTER TABLE feed_state ADD COLUMN next_allowed_at TIMESTAMPTZ;
ALTER TABLE feed_state ADD COLUMN redirect_target VARCHAR;
ALTER TABLE feed_state ADD COLUMN redirect_count INTEGER DEFAULT 0;

UPDATE feed_state SET config_url = feed_url, status = 'active', redirect_count = 0;

COMMENT ON TABLE feed_state IS 'Per-source polling state: validators for conditional GET, the error streak, and the lifecycle (active, paused, gone; Retry-After; adopted permanent redirects).';
COMMENT ON COLUMN feed_state.feed_url IS 'Feed URL last polled (the effective URL once a permanent redirect was adopted, else the configured one).';
COMMENT ON COLUMN feed_state.consecutive_errors IS 'Failed polls in a row since the last success (throttling by 429/Retry-After not counted); at fetch.pause_after_errors the source is paused.';
COMMENT ON COLUMN feed_state.config_url IS 'Feed URL as written in the config; when the config changes it, the lifecycle starts afresh.';
COMMENT ON COLUMN feed_state.effective_url IS 'URL polled instead of config_url after fetch.redirect_adopt_after successful polls in a row were permanently redirected (301/308) there; NULL when none.';
COMMENT ON COLUMN feed_state.status IS 'active (polled), paused (too many failures in a row) or gone (the feed answered 410); paused and gone sources are skipped until `newsflow run --reset-source NAME`.';
COMMENT ON COLUMN feed_state.status_reason IS 'Why the source is paused or gone, in words; NULL when active.';
COMMENT ON COLUMN feed_state.status_changed_at IS 'When the source was paused or marked gone (UTC).';
COMMENT ON COLUMN feed_state.next_allowed_at IS 'No poll before this time (UTC): set from Retry-After on 429/503, capped at 24 h; NULL when free to poll.';
COMMENT ON COLUMN feed_state.redirect_target IS 'Where the latest successful polls were permanently redirected (301/308), not yet adopted.';
COMMENT ON COLUMN feed_state.redirect_count IS 'Successful polls in a row that ended at redirect_target.';
