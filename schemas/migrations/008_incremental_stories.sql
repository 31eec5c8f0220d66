-- newsflow warehouse, schema version 8: story clusters are kept up to date incrementally.
--   * article_fingerprints learns each article's first_seen_at, so the signatures of a time
--     window are read from this table alone (its rows arrive in first-seen order, so DuckDB's
--     zone maps skip everything outside the window);
--   * story_state records up to when the clusters reflect the articles, and with which
--     settings (a change of settings reclusters everything once). Pipeline-internal.
-- Forward-only: never edit this file once released; later changes are new files.

ALTER TABLE article_fingerprints ADD COLUMN first_seen_at TIMESTAMPTZ;
UPDATE article_fingerprints f SET first_seen_at = a.first_seen_at
FROM articles a WHERE a.article_id = f.article_id;
COMMENT ON COLUMN article_fingerprints.first_seen_at IS 'articles.first_seen_at of the article, copied so a time window of signatures is read from this table alone.';

CREATE TABLE story_state (
    checked_through TIMESTAMPTZ NOT NULL,
    settings        VARCHAR NOT NULL,
    run_id          VARCHAR NOT NULL
);
COMMENT ON TABLE story_state IS 'One row: up to when story_clusters reflects articles (articles last seen since then are reconsidered by the next run) and the clustering settings it was computed with. Pipeline-internal: kept in the working file, not in the published snapshot.';
COMMENT ON COLUMN story_state.checked_through IS 'Latest articles.last_seen_at when the last completed cluster refresh started (UTC): articles last seen from then on (less a safety margin of ten minutes) are reconsidered by the next.';
COMMENT ON COLUMN story_state.settings IS 'Threshold, window and MinHash parameters the clusters were computed with; different settings recluster every article once.';
COMMENT ON COLUMN story_state.run_id IS 'Run that completed the last refresh.';

COMMENT ON TABLE story_clusters IS 'Articles that carry the same story as at least one other article (wire copy, lightly edited), one row per article; articles with no near-duplicate have no row. After every run only the stories that gained, lost or changed an article are rewritten; no copy is ever deleted from articles.';
COMMENT ON COLUMN story_clusters.clustered_at IS 'When this story last changed (UTC): an article joined or left it, or a member''s similarity changed.';
COMMENT ON COLUMN story_clusters.run_id IS 'Run that last changed this story.';
