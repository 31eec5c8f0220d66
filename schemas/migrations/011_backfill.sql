-- newsflow warehouse, schema version 11: backfill from sitemaps, and polling that follows each
-- feed's rhythm.
--   * raw_pages, articles and seen_entries say where a page came from: 'feed' (a feed listed
--     it) or 'backfill' (`newsflow backfill` found it in the site's sitemaps);
--   * backfill_jobs / backfill_items keep a backfill's progress, so an interrupted backfill
--     resumes where it stopped and a finished one is a no-op;
--   * feed_state gains the adaptive schedule: when the source is due next and why.
-- Forward-only: never edit this file once released; later changes are new files.

ALTER TABLE raw_pages ADD COLUMN origin VARCHAR DEFAULT 'feed';
ALTER TABLE articles ADD COLUMN origin VARCHAR DEFAULT 'feed';
ALTER TABLE seen_entries ADD COLUMN origin VARCHAR DEFAULT 'feed';
COMMENT ON COLUMN raw_pages.origin IS 'How newsflow found the page: feed (its source''s feed listed it) or backfill (newsflow backfill found it in the site''s sitemaps).';
COMMENT ON COLUMN articles.origin IS 'How newsflow first found the article: feed or backfill (from the site''s sitemaps); kept when a later run sees it again.';
COMMENT ON COLUMN seen_entries.origin IS 'feed (listed by the source''s feed) or backfill (found in a sitemap by newsflow backfill): an ingest run fetches and retries only feed entries, a backfill only its own.';

CREATE TABLE backfill_jobs (
    job_id        VARCHAR PRIMARY KEY,
    source        VARCHAR NOT NULL,
    since         TIMESTAMPTZ,
    until         TIMESTAMPTZ,
    max_items     INTEGER,
    started_at    TIMESTAMPTZ NOT NULL,
    discovered_at TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    sitemaps_read INTEGER,
    urls_listed   INTEGER,
    urls_queued   INTEGER,
    errors        VARCHAR[],
    run_id        VARCHAR
);
COMMENT ON TABLE backfill_jobs IS 'One row per newsflow backfill of a source and date window: rerunning the same backfill resumes it while unfinished and does nothing once finished.';
COMMENT ON COLUMN backfill_jobs.job_id IS 'Stable id of the source, window and --max: the same command maps to the same job.';
COMMENT ON COLUMN backfill_jobs.source IS 'Source name from the config.';
COMMENT ON COLUMN backfill_jobs.since IS 'Start of the date window (--since, UTC), NULL when open.';
COMMENT ON COLUMN backfill_jobs.until IS 'End of the date window (--until, UTC, exclusive), NULL when open.';
COMMENT ON COLUMN backfill_jobs.max_items IS 'At most this many article URLs, newest first (--max), NULL for all.';
COMMENT ON COLUMN backfill_jobs.started_at IS 'When the backfill was first started.';
COMMENT ON COLUMN backfill_jobs.discovered_at IS 'When its sitemaps were read and its URLs queued; NULL while not done (a resumed backfill reads them again).';
COMMENT ON COLUMN backfill_jobs.finished_at IS 'When every queued URL had its outcome stored; NULL while unfinished.';
COMMENT ON COLUMN backfill_jobs.sitemaps_read IS 'Sitemap documents read (indexes included).';
COMMENT ON COLUMN backfill_jobs.urls_listed IS 'Article URLs of the site the sitemaps listed, in or out of the window.';
COMMENT ON COLUMN backfill_jobs.urls_queued IS 'URLs in the window, not known before, that the backfill fetches.';
COMMENT ON COLUMN backfill_jobs.errors IS 'Sitemaps that could not be read, each with its reason.';
COMMENT ON COLUMN backfill_jobs.run_id IS 'The run that started the backfill, then the one that read its sitemaps and queued its URLs.';

CREATE TABLE backfill_items (
    job_id       VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    url          VARCHAR NOT NULL,
    sitemap_url  VARCHAR,
    title        VARCHAR,
    published_at TIMESTAMPTZ,
    lastmod      TIMESTAMPTZ,
    queued_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (job_id, url)
);
COMMENT ON TABLE backfill_items IS 'Each URL a backfill queued, with what its sitemap said; its progress is its seen_entries row (entry_id = url, origin backfill).';
COMMENT ON COLUMN backfill_items.job_id IS 'The backfill (backfill_jobs.job_id).';
COMMENT ON COLUMN backfill_items.source IS 'Source name from the config.';
COMMENT ON COLUMN backfill_items.url IS 'The article URL as the sitemap gives it.';
COMMENT ON COLUMN backfill_items.sitemap_url IS 'The sitemap that listed it.';
COMMENT ON COLUMN backfill_items.title IS 'news:title, when the sitemap is a news sitemap.';
COMMENT ON COLUMN backfill_items.published_at IS 'news:publication_date (UTC), when given: the article''s date when the page declares none.';
COMMENT ON COLUMN backfill_items.lastmod IS 'lastmod (UTC), when given: when the page last changed, never taken as its publication date.';
COMMENT ON COLUMN backfill_items.queued_at IS 'When the backfill queued it.';

ALTER TABLE feed_state ADD COLUMN next_poll_at TIMESTAMPTZ;
ALTER TABLE feed_state ADD COLUMN poll_interval_s DOUBLE;
ALTER TABLE feed_state ADD COLUMN poll_reason VARCHAR;
COMMENT ON COLUMN feed_state.next_poll_at IS 'When the source is due next (UTC): a run polls only due sources. With [fetch] polling = "adaptive", from the feed''s entries per week, its TTL / Cache-Control max-age / Expires, and never before next_allowed_at; NULL: due at the next run.';
COMMENT ON COLUMN feed_state.poll_interval_s IS 'The gap between the last poll and next_poll_at, in seconds.';
COMMENT ON COLUMN feed_state.poll_reason IS 'What set that gap (e.g. "12 entries in 7 days", "Cache-Control max-age", "all listed entries new").';
