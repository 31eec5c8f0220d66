-- What a published snapshot holds, so that a run can tell a stale snapshot from a current one.
-- The working file keeps this table empty; each publish writes its one row into the snapshot.
-- Forward-only: never edit this file once released; later changes are new files.

CREATE TABLE snapshot_state (
    published_at    TIMESTAMPTZ NOT NULL,
    run_id          VARCHAR,
    watermark       VARCHAR NOT NULL
);
COMMENT ON TABLE snapshot_state IS 'What this snapshot holds: one row, written when the snapshot was published (empty in the working file). A run that finds the working file''s watermark different publishes its articles again, whatever happened to the runs before it.';
COMMENT ON COLUMN snapshot_state.published_at IS 'When this snapshot was published.';
COMMENT ON COLUMN snapshot_state.run_id IS 'The newest run recorded in this snapshot (pipeline_runs.run_id); NULL before the first run.';
COMMENT ON COLUMN snapshot_state.watermark IS 'Fingerprint of the working file''s articles, article_versions and story_clusters when this snapshot was taken (counts and an order-free hash).';
