-- newsflow warehouse, schema version 10: the quarantine keeps real articles, and says how far
-- to trust an article's date.
--   * articles.quality_flags: the warning checks an article failed (a short brief, a FAQ that
--     repeats its question). Such an article is loaded, not rejected; only a failed critical
--     check (no URL, no body, not an article) sends a record to rejected_articles. Analysts
--     who want only clean rows filter on len(quality_flags) = 0.
--   * articles.published_at_source: where published_at came from, so analysts can keep only
--     dates a page declared (json-ld, meta) and leave out the feed's or a guessed one.
--   * latest_articles carries both columns.
-- Rows loaded before this version have no flags recorded (empty list) and no date source
-- (NULL); reprocessing the archive fills both.
-- Forward-only: never edit this file once released; later changes are new files.

-- Column order matters to DuckDB 1.5 here: a column with a DEFAULT added before another
-- ALTER in the same transaction fails the commit with a false duplicate primary key.
ALTER TABLE articles ADD COLUMN published_at_source VARCHAR;
ALTER TABLE articles ADD COLUMN quality_flags VARCHAR[] DEFAULT [];

COMMENT ON COLUMN articles.quality_flags IS 'Names of the warning checks the article failed (e.g. body_min_length, no_repeated_paragraph); empty when clean. A failed warning keeps the article: filter on len(quality_flags) = 0 for clean rows only.';
COMMENT ON COLUMN articles.published_at_source IS 'Where published_at came from: json-ld (the page''s structured data), meta (a meta tag or itemprop attribute), feed (the feed entry), visible-text (a date shown in the page), sitemap (the site''s sitemap) or guessed (a date the page shows without saying it is the publication date); NULL when there is no date, or the row was loaded before schema version 10.';

CREATE OR REPLACE VIEW latest_articles AS
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
    a.first_seen_at,
    a.published_at_source,
    a.quality_flags
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
COMMENT ON COLUMN latest_articles.published_at_source IS 'Where published_at came from (articles.published_at_source).';
COMMENT ON COLUMN latest_articles.quality_flags IS 'Warning checks the article failed; empty when clean (articles.quality_flags).';
