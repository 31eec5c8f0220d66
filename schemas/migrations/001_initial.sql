-- newsflow warehouse, schema version 1.
-- Forward-only: later changes are new files (002_…), never edits to this one.

CREATE TABLE pipeline_runs (
    run_id           VARCHAR PRIMARY KEY,
    flow             VARCHAR NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,
    status           VARCHAR NOT NULL,
    feeds_polled     INTEGER DEFAULT 0,
    pages_fetched    INTEGER DEFAULT 0,
    page_errors      INTEGER DEFAULT 0,
    articles_new     INTEGER DEFAULT 0,
    articles_updated INTEGER DEFAULT 0,
    articles_unchanged INTEGER DEFAULT 0,
    rejected         INTEGER DEFAULT 0,
    checks_failed    INTEGER DEFAULT 0,
    message          VARCHAR
);
COMMENT ON TABLE pipeline_runs IS 'One row per flow run (ingest, reprocess, checks): when, how it ended, and what it counted.';
COMMENT ON COLUMN pipeline_runs.run_id IS 'Prefect flow-run id; the same id is stamped on every row the run wrote.';
COMMENT ON COLUMN pipeline_runs.flow IS 'Which flow ran: ingest, reprocess or checks.';
COMMENT ON COLUMN pipeline_runs.started_at IS 'When the run started (UTC).';
COMMENT ON COLUMN pipeline_runs.finished_at IS 'When the run finished (UTC); NULL while running or if it crashed.';
COMMENT ON COLUMN pipeline_runs.status IS 'running, completed, or failed (a critical data-quality check failed or the run crashed).';
COMMENT ON COLUMN pipeline_runs.feeds_polled IS 'Feeds requested in this run (including 304 Not Modified answers).';
COMMENT ON COLUMN pipeline_runs.pages_fetched IS 'Article pages requested in this run.';
COMMENT ON COLUMN pipeline_runs.page_errors IS 'Pages that could not be fetched or extracted (see raw_pages.error).';
COMMENT ON COLUMN pipeline_runs.articles_new IS 'Articles loaded for the first time.';
COMMENT ON COLUMN pipeline_runs.articles_updated IS 'Articles whose content changed (a new article_versions row).';
COMMENT ON COLUMN pipeline_runs.articles_unchanged IS 'Articles seen again with identical content.';
COMMENT ON COLUMN pipeline_runs.rejected IS 'Records that failed row checks (see rejected_articles).';
COMMENT ON COLUMN pipeline_runs.checks_failed IS 'Data-quality checks that failed in this run (see dq_results).';
COMMENT ON COLUMN pipeline_runs.message IS 'Why a run failed, in words.';

CREATE TABLE feed_state (
    source             VARCHAR PRIMARY KEY,
    feed_url           VARCHAR NOT NULL,
    etag               VARCHAR,
    last_modified      VARCHAR,
    last_polled_at     TIMESTAMPTZ,
    last_success_at    TIMESTAMPTZ,
    consecutive_errors INTEGER DEFAULT 0
);
COMMENT ON TABLE feed_state IS 'Per-source polling state: validators for conditional GET and the error streak.';
COMMENT ON COLUMN feed_state.source IS 'Source name from the config.';
COMMENT ON COLUMN feed_state.feed_url IS 'Feed URL last polled.';
COMMENT ON COLUMN feed_state.etag IS 'ETag the feed last answered with (sent back as If-None-Match).';
COMMENT ON COLUMN feed_state.last_modified IS 'Last-Modified the feed last answered with (sent back as If-Modified-Since).';
COMMENT ON COLUMN feed_state.last_polled_at IS 'When the feed was last requested.';
COMMENT ON COLUMN feed_state.last_success_at IS 'When the feed last answered 200 or 304.';
COMMENT ON COLUMN feed_state.consecutive_errors IS 'Failed polls in a row since the last success.';

CREATE TABLE feed_fetches (
    run_id        VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    feed_url      VARCHAR NOT NULL,
    status        INTEGER,
    etag          VARCHAR,
    last_modified VARCHAR,
    bytes         BIGINT,
    elapsed_ms    INTEGER,
    entries       INTEGER,
    new_entries   INTEGER,
    error         VARCHAR,
    fetched_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, source)
);
COMMENT ON TABLE feed_fetches IS 'One row per feed poll: what the feed answered and how many entries were new.';
COMMENT ON COLUMN feed_fetches.run_id IS 'The pipeline run that polled.';
COMMENT ON COLUMN feed_fetches.source IS 'Source name from the config.';
COMMENT ON COLUMN feed_fetches.feed_url IS 'URL requested.';
COMMENT ON COLUMN feed_fetches.status IS 'HTTP status (304 = unchanged since the last poll); NULL when no response came.';
COMMENT ON COLUMN feed_fetches.etag IS 'ETag header of the answer.';
COMMENT ON COLUMN feed_fetches.last_modified IS 'Last-Modified header of the answer.';
COMMENT ON COLUMN feed_fetches.bytes IS 'Body size after decompression.';
COMMENT ON COLUMN feed_fetches.elapsed_ms IS 'Wall-clock time of the request.';
COMMENT ON COLUMN feed_fetches.entries IS 'Entries in the feed.';
COMMENT ON COLUMN feed_fetches.new_entries IS 'Entries not seen before (their pages are fetched).';
COMMENT ON COLUMN feed_fetches.error IS 'Why the poll failed or was degraded, in words; NULL when fine.';
COMMENT ON COLUMN feed_fetches.fetched_at IS 'When the poll happened (UTC).';

CREATE TABLE seen_entries (
    source        VARCHAR NOT NULL,
    entry_id      VARCHAR NOT NULL,
    url           VARCHAR NOT NULL,
    state         VARCHAR NOT NULL,
    attempts      INTEGER NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_attempt_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, entry_id)
);
COMMENT ON TABLE seen_entries IS 'Feed entries already handled, so a rerun does not fetch their pages again.';
COMMENT ON COLUMN seen_entries.source IS 'Source name.';
COMMENT ON COLUMN seen_entries.entry_id IS 'The entry''s GUID/id, else its link.';
COMMENT ON COLUMN seen_entries.url IS 'The entry''s link.';
COMMENT ON COLUMN seen_entries.state IS 'done (fetched, or failed for good: 4xx, not HTML) or retry (a transient failure; retried on later runs).';
COMMENT ON COLUMN seen_entries.attempts IS 'How many times the page was requested.';
COMMENT ON COLUMN seen_entries.first_seen_at IS 'First run that saw the entry.';
COMMENT ON COLUMN seen_entries.last_attempt_at IS 'Last time its page was requested.';

CREATE TABLE raw_pages (
    url          VARCHAR PRIMARY KEY,
    final_url    VARCHAR,
    source       VARCHAR NOT NULL,
    status       INTEGER,
    content_type VARCHAR,
    html         BLOB,
    fetched_at   TIMESTAMPTZ NOT NULL,
    run_id       VARCHAR NOT NULL,
    error        VARCHAR
);
COMMENT ON TABLE raw_pages IS 'Every article page as last fetched, HTML gzip-compressed, for offline reprocessing. Kept in the working file only.';
COMMENT ON COLUMN raw_pages.url IS 'URL from the feed entry.';
COMMENT ON COLUMN raw_pages.final_url IS 'URL after redirects.';
COMMENT ON COLUMN raw_pages.source IS 'Source whose feed listed the page.';
COMMENT ON COLUMN raw_pages.status IS 'HTTP status; NULL when no response came.';
COMMENT ON COLUMN raw_pages.content_type IS 'Content-Type media type of the answer.';
COMMENT ON COLUMN raw_pages.html IS 'Body as fetched, gzip-compressed; NULL for errors and skipped types.';
COMMENT ON COLUMN raw_pages.fetched_at IS 'When the page was fetched (UTC).';
COMMENT ON COLUMN raw_pages.run_id IS 'Run that fetched it.';
COMMENT ON COLUMN raw_pages.error IS 'Why the page gave no article (HTTP error, not HTML, robots.txt, extraction empty…); NULL when fine.';

CREATE TABLE articles (
    article_id    VARCHAR PRIMARY KEY,
    url           VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    title         VARCHAR NOT NULL,
    text          VARCHAR NOT NULL,
    authors       VARCHAR[],
    published_at  TIMESTAMPTZ,
    language      VARCHAR,
    captions      STRUCT(text VARCHAR, credit VARCHAR, image_url VARCHAR)[],
    word_count    INTEGER NOT NULL,
    content_hash  VARCHAR NOT NULL,
    version       INTEGER NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR NOT NULL
);
COMMENT ON TABLE articles IS 'One row per article, its current version: clean text with title, authors, dates, language and captions kept apart.';
COMMENT ON COLUMN articles.article_id IS 'Stable id: first 16 hex digits of sha256 of the canonical URL.';
COMMENT ON COLUMN articles.url IS 'Canonical URL (same-site rel=canonical, tracking parameters stripped, host lower-cased, no fragment).';
COMMENT ON COLUMN articles.source IS 'Source name from the config.';
COMMENT ON COLUMN articles.title IS 'Headline.';
COMMENT ON COLUMN articles.text IS 'Article body only: no title, captions, credits or site chrome; paragraphs separated by a newline.';
COMMENT ON COLUMN articles.authors IS 'Author names, in page order.';
COMMENT ON COLUMN articles.published_at IS 'Publication time from the page, else from the feed (UTC).';
COMMENT ON COLUMN articles.language IS 'Language code (ISO 639-1), from the page.';
COMMENT ON COLUMN articles.captions IS 'Photo captions, each with its credit and image URL.';
COMMENT ON COLUMN articles.word_count IS 'Words in text.';
COMMENT ON COLUMN articles.content_hash IS 'sha256 of title and text; a change makes a new version.';
COMMENT ON COLUMN articles.version IS 'Content version, 1 for the first; see article_versions.';
COMMENT ON COLUMN articles.first_seen_at IS 'When newsflow first loaded the article.';
COMMENT ON COLUMN articles.last_seen_at IS 'When newsflow last saw the article (same or changed content).';
COMMENT ON COLUMN articles.run_id IS 'Run that last loaded the article.';

CREATE TABLE article_versions (
    article_id   VARCHAR NOT NULL,
    version      INTEGER NOT NULL,
    content_hash VARCHAR NOT NULL,
    title        VARCHAR NOT NULL,
    text         VARCHAR NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL,
    run_id       VARCHAR NOT NULL,
    PRIMARY KEY (article_id, version)
);
COMMENT ON TABLE article_versions IS 'Each distinct content an article has had, oldest first.';
COMMENT ON COLUMN article_versions.article_id IS 'Article (articles.article_id).';
COMMENT ON COLUMN article_versions.version IS 'Version number, from 1.';
COMMENT ON COLUMN article_versions.content_hash IS 'sha256 of title and text of this version.';
COMMENT ON COLUMN article_versions.title IS 'Headline of this version.';
COMMENT ON COLUMN article_versions.text IS 'Body of this version.';
COMMENT ON COLUMN article_versions.seen_at IS 'When this version was first loaded.';
COMMENT ON COLUMN article_versions.run_id IS 'Run that loaded this version.';

CREATE TABLE rejected_articles (
    url           VARCHAR NOT NULL,
    source        VARCHAR NOT NULL,
    run_id        VARCHAR NOT NULL,
    failed_checks VARCHAR[] NOT NULL,
    details       JSON,
    record        JSON,
    rejected_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (url, run_id)
);
COMMENT ON TABLE rejected_articles IS 'Records that failed row-level checks and were kept out of articles.';
COMMENT ON COLUMN rejected_articles.url IS 'Canonical URL of the record.';
COMMENT ON COLUMN rejected_articles.source IS 'Source name.';
COMMENT ON COLUMN rejected_articles.run_id IS 'Run that rejected it.';
COMMENT ON COLUMN rejected_articles.failed_checks IS 'Every row check the record failed.';
COMMENT ON COLUMN rejected_articles.details IS 'Per failed check: the value observed and what was expected.';
COMMENT ON COLUMN rejected_articles.record IS 'The record as it was validated.';
COMMENT ON COLUMN rejected_articles.rejected_at IS 'When (UTC).';

CREATE TABLE dq_results (
    run_id           VARCHAR NOT NULL,
    suite            VARCHAR NOT NULL,
    "check"          VARCHAR NOT NULL,
    source           VARCHAR,
    severity         VARCHAR NOT NULL,
    success          BOOLEAN NOT NULL,
    observed         VARCHAR,
    unexpected_count INTEGER,
    checked_at       TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE dq_results IS 'One row per data-quality expectation evaluated.';
COMMENT ON COLUMN dq_results.run_id IS 'Run that evaluated it.';
COMMENT ON COLUMN dq_results.suite IS 'Expectation suite (articles_row or articles_table).';
COMMENT ON COLUMN dq_results."check" IS 'Check name.';
COMMENT ON COLUMN dq_results.source IS 'Source the check was about; NULL for checks over all sources.';
COMMENT ON COLUMN dq_results.severity IS 'critical (fails the run) or warning (alerts only).';
COMMENT ON COLUMN dq_results.success IS 'Whether the check passed.';
COMMENT ON COLUMN dq_results.observed IS 'What was observed, in words or JSON.';
COMMENT ON COLUMN dq_results.unexpected_count IS 'Rows that failed the check.';
COMMENT ON COLUMN dq_results.checked_at IS 'When (UTC).';

CREATE TABLE source_lines (
    source     VARCHAR NOT NULL,
    article_id VARCHAR NOT NULL,
    line_hash  VARCHAR NOT NULL,
    PRIMARY KEY (source, article_id, line_hash)
);
COMMENT ON TABLE source_lines IS 'Hashes of the body lines of each article before chrome removal, for learning per-source boilerplate.';
COMMENT ON COLUMN source_lines.source IS 'Source name.';
COMMENT ON COLUMN source_lines.article_id IS 'Article the line came from.';
COMMENT ON COLUMN source_lines.line_hash IS 'Hash of the normalised line.';
