-- newsflow warehouse, schema version 2: what analysts need beyond the raw tables.
--   * raw_pages learns the page validators (conditional re-fetch of edited articles), the
--     feed entry's own headline and date and the header charset (so offline reprocessing sees
--     exactly what the run saw);
--   * story_clusters groups the same story carried by several sources (wire copy);
--   * article_fingerprints caches each article's MinHash signature, boilerplate_sets and
--     run_boilerplate record the learnt chrome each run applied (all three pipeline-internal);
--   * views for the usual questions: daily counts, latest articles, source health.
-- Forward-only: never edit this file once released; later changes are new files.

ALTER TABLE raw_pages ADD COLUMN etag VARCHAR;
ALTER TABLE raw_pages ADD COLUMN last_modified VARCHAR;
ALTER TABLE raw_pages ADD COLUMN checked_at TIMESTAMPTZ;
ALTER TABLE raw_pages ADD COLUMN entry_title VARCHAR;
ALTER TABLE raw_pages ADD COLUMN entry_published_at TIMESTAMPTZ;
ALTER TABLE raw_pages ADD COLUMN charset VARCHAR;
COMMENT ON COLUMN raw_pages.etag IS 'ETag header of the page''s last answer; sent back as If-None-Match when the page is re-checked.';
COMMENT ON COLUMN raw_pages.last_modified IS 'Last-Modified header of the page''s last answer; sent back as If-Modified-Since when the page is re-checked.';
COMMENT ON COLUMN raw_pages.checked_at IS 'When newsflow last asked for the page (the first fetch or a re-check, 304 included); NULL in files from before schema 2.';
COMMENT ON COLUMN raw_pages.entry_title IS 'Headline the feed entry gave for the page (used when the page itself has none).';
COMMENT ON COLUMN raw_pages.entry_published_at IS 'Publication time the feed entry gave for the page (used when the page itself has none).';
COMMENT ON COLUMN raw_pages.charset IS 'Charset label of the Content-Type header, as sent (decoding weighs it against the bytes).';

CREATE TABLE story_clusters (
    cluster_id      VARCHAR NOT NULL,
    article_id      VARCHAR PRIMARY KEY,
    source          VARCHAR NOT NULL,
    similarity      DOUBLE NOT NULL,
    cluster_size    INTEGER NOT NULL,
    cluster_sources INTEGER NOT NULL,
    clustered_at    TIMESTAMPTZ NOT NULL,
    run_id          VARCHAR NOT NULL
);
COMMENT ON TABLE story_clusters IS 'Articles that carry the same story as at least one other article (wire copy, lightly edited), one row per article; articles with no near-duplicate have no row. Rebuilt after every run; no copy is ever deleted from articles.';
COMMENT ON COLUMN story_clusters.cluster_id IS 'The story: article_id of its earliest-seen article (that article''s own row has similarity 1).';
COMMENT ON COLUMN story_clusters.article_id IS 'Article in the story (articles.article_id).';
COMMENT ON COLUMN story_clusters.source IS 'Source of the article (articles.source).';
COMMENT ON COLUMN story_clusters.similarity IS 'Jaccard similarity of word 3-shingles between this article''s text and the earliest article''s text, 0 to 1; two articles join one story at 0.45 or more (a member joined through another member can be lower).';
COMMENT ON COLUMN story_clusters.cluster_size IS 'Articles in the story.';
COMMENT ON COLUMN story_clusters.cluster_sources IS 'Distinct sources carrying the story.';
COMMENT ON COLUMN story_clusters.clustered_at IS 'When the clusters were last rebuilt (UTC).';
COMMENT ON COLUMN story_clusters.run_id IS 'Run that last rebuilt the clusters.';

CREATE TABLE article_fingerprints (
    article_id   VARCHAR PRIMARY KEY,
    content_hash VARCHAR NOT NULL,
    minhash      BLOB NOT NULL
);
COMMENT ON TABLE article_fingerprints IS 'MinHash signature of each article''s text, so story clustering only hashes new or changed articles. Pipeline-internal: not in the published snapshot.';
COMMENT ON COLUMN article_fingerprints.article_id IS 'Article (articles.article_id).';
COMMENT ON COLUMN article_fingerprints.content_hash IS 'articles.content_hash the signature was computed from; a different hash means recompute.';
COMMENT ON COLUMN article_fingerprints.minhash IS 'MinHash signature over the word 3-shingles of the text: 180 little-endian uint32 values (see tasks/clusters.py).';

CREATE TABLE boilerplate_sets (
    source      VARCHAR NOT NULL,
    set_id      VARCHAR NOT NULL,
    line_hashes VARCHAR[] NOT NULL,
    PRIMARY KEY (source, set_id)
);
COMMENT ON TABLE boilerplate_sets IS 'Each distinct per-source boilerplate set (learnt site chrome) a run applied, stored once. Pipeline-internal: not in the published snapshot.';
COMMENT ON COLUMN boilerplate_sets.source IS 'Source name.';
COMMENT ON COLUMN boilerplate_sets.set_id IS 'First 16 hex digits of sha256 of the sorted line hashes.';
COMMENT ON COLUMN boilerplate_sets.line_hashes IS 'Hashes of the lines stripped as chrome (see tasks/boilerplate.py), sorted.';

CREATE TABLE run_boilerplate (
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    set_id VARCHAR NOT NULL,
    PRIMARY KEY (run_id, source)
);
COMMENT ON TABLE run_boilerplate IS 'Which boilerplate set each ingest run applied to each source, so reprocessing a page applies the same one and reproduces its article. Pipeline-internal.';
COMMENT ON COLUMN run_boilerplate.run_id IS 'Ingest run (pipeline_runs.run_id).';
COMMENT ON COLUMN run_boilerplate.source IS 'Source name.';
COMMENT ON COLUMN run_boilerplate.set_id IS 'The set applied (boilerplate_sets.set_id).';

-- schema_migrations is created by schemas/migrate.py; its columns are described here.
COMMENT ON COLUMN schema_migrations.version IS 'Migration number (the NNN of schemas/migrations/NNN_name.sql).';
COMMENT ON COLUMN schema_migrations.name IS 'Migration name (the name part of the file name).';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When the migration was applied to this file (UTC).';

-- Views. Days are UTC calendar days; a missing publication time falls back to first_seen_at.

CREATE VIEW daily_articles_by_source AS
SELECT
    CAST(timezone('UTC', coalesce(published_at, first_seen_at)) AS DATE) AS day,
    source,
    count(*) AS articles,
    CAST(sum(word_count) AS BIGINT) AS words,
    count(*) FILTER (WHERE version > 1) AS edited_articles
FROM articles
GROUP BY ALL;
COMMENT ON VIEW daily_articles_by_source IS 'Articles per publication day (UTC) and source.';
COMMENT ON COLUMN daily_articles_by_source.day IS 'Publication day in UTC (first-seen day when the article has no publication time).';
COMMENT ON COLUMN daily_articles_by_source.source IS 'Source name.';
COMMENT ON COLUMN daily_articles_by_source.articles IS 'Articles published that day by the source.';
COMMENT ON COLUMN daily_articles_by_source.words IS 'Total words of those articles.';
COMMENT ON COLUMN daily_articles_by_source.edited_articles IS 'Of those, articles edited after newsflow first loaded them (version > 1).';

CREATE VIEW latest_articles AS
SELECT
    row_number() OVER (ORDER BY coalesce(a.published_at, a.first_seen_at) DESC, a.article_id)
        AS recency_rank,
    a.article_id,
    a.published_at,
    a.source,
    a.title,
    a.url,
    a.word_count,
    a.version,
    c.cluster_id,
    coalesce(c.cluster_sources, 1) AS story_sources,
    a.first_seen_at
FROM articles a
LEFT JOIN story_clusters c USING (article_id);
COMMENT ON VIEW latest_articles IS 'Every article without its text, newest first: filter on recency_rank (e.g. <= 20) for the latest.';
COMMENT ON COLUMN latest_articles.recency_rank IS '1 for the most recent article (by publication time, else first-seen time).';
COMMENT ON COLUMN latest_articles.article_id IS 'Article (articles.article_id).';
COMMENT ON COLUMN latest_articles.published_at IS 'Publication time (UTC).';
COMMENT ON COLUMN latest_articles.source IS 'Source name.';
COMMENT ON COLUMN latest_articles.title IS 'Headline.';
COMMENT ON COLUMN latest_articles.url IS 'Canonical URL.';
COMMENT ON COLUMN latest_articles.word_count IS 'Words in the body.';
COMMENT ON COLUMN latest_articles.version IS 'Content version (1 = never edited).';
COMMENT ON COLUMN latest_articles.cluster_id IS 'Story cluster (story_clusters.cluster_id) when other sources carry the same story, else NULL.';
COMMENT ON COLUMN latest_articles.story_sources IS 'Sources carrying the story (1 when only this one).';
COMMENT ON COLUMN latest_articles.first_seen_at IS 'When newsflow first loaded the article.';

CREATE VIEW source_health AS
WITH polls AS (
    SELECT source,
           count(*) AS polls,
           count(*) FILTER (WHERE error IS NOT NULL AND (status IS NULL OR status NOT IN (200, 304)))
               AS poll_errors
    FROM feed_fetches
    WHERE fetched_at >= now() - INTERVAL 7 DAY
    GROUP BY source
), pages AS (
    SELECT source, count(*) AS pages, count(*) FILTER (WHERE error IS NOT NULL) AS page_errors
    FROM raw_pages
    WHERE coalesce(checked_at, fetched_at) >= now() - INTERVAL 7 DAY
    GROUP BY source
), rejected AS (
    SELECT source, count(DISTINCT url) AS rejected
    FROM rejected_articles
    WHERE rejected_at >= now() - INTERVAL 7 DAY
    GROUP BY source
), loaded AS (
    SELECT source, count(*) AS articles,
           count(*) FILTER (WHERE first_seen_at >= now() - INTERVAL 7 DAY) AS loaded
    FROM articles
    GROUP BY source
)
SELECT
    s.source,
    s.feed_url,
    s.last_polled_at,
    s.last_success_at,
    s.consecutive_errors,
    coalesce(p.polls, 0) AS polls_7d,
    coalesce(p.poll_errors, 0) AS poll_errors_7d,
    p.poll_errors / nullif(p.polls, 0) AS poll_error_rate_7d,
    coalesce(g.pages, 0) AS pages_7d,
    coalesce(g.page_errors, 0) AS page_errors_7d,
    g.page_errors / nullif(g.pages, 0) AS page_error_rate_7d,
    coalesce(l.loaded, 0) AS articles_loaded_7d,
    coalesce(r.rejected, 0) AS rejected_7d,
    coalesce(r.rejected, 0) / nullif(coalesce(r.rejected, 0) + coalesce(l.loaded, 0), 0)
        AS reject_rate_7d,
    coalesce(l.articles, 0) AS articles_total
FROM feed_state s
LEFT JOIN polls p USING (source)
LEFT JOIN pages g USING (source)
LEFT JOIN rejected r USING (source)
LEFT JOIN loaded l USING (source);
COMMENT ON VIEW source_health IS 'One row per polled source: last success, and error and reject rates over the last 7 days.';
COMMENT ON COLUMN source_health.source IS 'Source name.';
COMMENT ON COLUMN source_health.feed_url IS 'Feed URL last polled.';
COMMENT ON COLUMN source_health.last_polled_at IS 'When the feed was last requested.';
COMMENT ON COLUMN source_health.last_success_at IS 'When the feed last answered 200 or 304.';
COMMENT ON COLUMN source_health.consecutive_errors IS 'Failed polls in a row since the last success (0 = healthy now).';
COMMENT ON COLUMN source_health.polls_7d IS 'Feed polls in the last 7 days.';
COMMENT ON COLUMN source_health.poll_errors_7d IS 'Of those, polls that failed (no answer, or an HTTP status other than 200/304).';
COMMENT ON COLUMN source_health.poll_error_rate_7d IS 'poll_errors_7d / polls_7d, 0 to 1; NULL without polls.';
COMMENT ON COLUMN source_health.pages_7d IS 'Article pages requested in the last 7 days (each page counted once, at its last request).';
COMMENT ON COLUMN source_health.page_errors_7d IS 'Of those, pages that gave no article (HTTP error, not HTML, robots.txt, extraction empty…).';
COMMENT ON COLUMN source_health.page_error_rate_7d IS 'page_errors_7d / pages_7d, 0 to 1; NULL without pages.';
COMMENT ON COLUMN source_health.articles_loaded_7d IS 'Articles first loaded in the last 7 days.';
COMMENT ON COLUMN source_health.rejected_7d IS 'Distinct records rejected by row checks in the last 7 days.';
COMMENT ON COLUMN source_health.reject_rate_7d IS 'rejected_7d / (rejected_7d + articles_loaded_7d), 0 to 1; NULL when nothing was extracted.';
COMMENT ON COLUMN source_health.articles_total IS 'Articles of the source in the warehouse.';
