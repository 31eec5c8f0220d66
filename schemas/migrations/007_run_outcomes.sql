-- newsflow warehouse, schema version 7: entries are done only when their outcome is stored,
-- and runs left running by a killed process are marked crashed. No new column: the meaning
-- of two existing ones grows, and their comments say so.

COMMENT ON COLUMN seen_entries.state IS 'done (its outcome is stored: an article, a reject, or the page''s error), archived (the page is in raw_pages but its outcome is not stored yet: a run was killed; the next run finishes it from the archive) or retry (a transient failure; retried on later runs).';
COMMENT ON COLUMN pipeline_runs.status IS 'running, completed, failed (a critical data-quality check failed or a stage raised), or crashed (its process was killed; marked by the next run).';
COMMENT ON COLUMN pipeline_runs.message IS 'Why a run failed or crashed, in words.';
